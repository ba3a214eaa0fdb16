import ArgumentParser
import Foundation
import SealKV

/// `sealkv put DB KEY [VALUE | -]`
struct PutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "put", abstract: "Store a value ('-' or no value reads it from stdin).")
    @Argument(help: "The store.") var path: String
    @Argument(help: "The key.") var key: String
    @Argument(help: "The value, or '-' to read it from stdin.") var value: String?
    @Option(name: .customLong("ns"), help: "Namespace (default: the default namespace).") var namespace = ""
    @Option(help: "Time to live in seconds.") var ttl: Double?
    @OptionGroup var credentials: CredentialOptions

    func run() throws {
        let bytes: [UInt8] = (value == nil || value == "-") ? Array(FileHandle.standardInput.readDataToEndOfFile()) : Array(value!.utf8)
        if let ttl, !(ttl > 0) { throw ValidationError("--ttl must be a positive number of seconds.") }
        let db = try openStore(path, credentials, writable: true)
        defer { db.close() }
        try storeCall {
            let ns = db.namespace(namespace)
            if let ttl { try ns.put(key, bytes, ttl: .milliseconds(Int64(ttl * 1000))) } else { try ns.put(key, bytes) }
        }
    }
}

/// `sealkv get DB KEY`: the value on stdout; exit 1 when absent.
struct GetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Print a value (exit 1 when absent).")
    @Argument(help: "The store.") var path: String
    @Argument(help: "The key.") var key: String
    @Option(name: .customLong("ns"), help: "Namespace.") var namespace = ""
    @OptionGroup var credentials: CredentialOptions

    func run() throws {
        let db = try openStore(path, credentials, writable: false)
        defer { db.close() }
        guard let value = try storeCall({ try db.namespace(namespace).get(key) }) else {
            throw ToolFailure("no value at that key", exitCode: 1)
        }
        writeStdout(value)
    }
}

/// `sealkv del DB KEY`: exit 1 when absent.
struct DelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "del", abstract: "Delete a key (exit 1 when absent).")
    @Argument(help: "The store.") var path: String
    @Argument(help: "The key.") var key: String
    @Option(name: .customLong("ns"), help: "Namespace.") var namespace = ""
    @OptionGroup var credentials: CredentialOptions

    func run() throws {
        let db = try openStore(path, credentials, writable: true)
        defer { db.close() }
        guard try storeCall({ try db.namespace(namespace).delete(key) }) else {
            throw ToolFailure("no value at that key", exitCode: 1)
        }
    }
}

/// `sealkv scan DB`: entries in key order, one per line.
struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "scan", abstract: "List entries: KEY<TAB>VALUE per line (escaped), or JSON lines.")
    @Argument(help: "The store.") var path: String
    @Option(name: .customLong("ns"), help: "Namespace.") var namespace = ""
    @Option(help: "Only keys with this prefix.") var prefix: String?
    @Option(help: "Start at this key (inclusive).") var from: String?
    @Option(help: "Stop before this key.") var to: String?
    @Flag(help: "Descending order.") var reverse = false
    @Option(help: "At most this many entries.") var limit: Int?
    @Flag(help: "One JSON object per line.") var json = false
    @OptionGroup var credentials: CredentialOptions

    func run() throws {
        if let limit, limit < 0 { throw ValidationError("--limit must not be negative.") }
        let db = try openStore(path, credentials, writable: false)
        defer { db.close() }
        try storeCall {
            try db.read { tx in
                let ns = try tx.namespace(namespace)
                // A prefix narrows the range; --from and --to narrow it further.
                let lower = [prefix.map { Array($0.utf8) }, from.map { Array($0.utf8) }].compactMap { $0 }.max { $0.lexicographicallyPrecedes($1) }
                let prefixEnd = prefix.flatMap { successor(Array($0.utf8)) }
                let upper = [prefixEnd, to.map { Array($0.utf8) }].compactMap { $0 }.min { $0.lexicographicallyPrecedes($1) }
                var n = 0
                var out = ""
                for (k, v) in try ns.range(from: lower, to: upper, reverse: reverse) {
                    if let limit, n >= limit { break }
                    if json {
                        var o: [String: Any] = [:]
                        jsonField("key", k, into: &o)
                        jsonField("value", v, into: &o)
                        out += jsonLine(o) + "\n"
                    } else {
                        out += escaped(k) + "\t" + escaped(v) + "\n"
                    }
                    n += 1
                    if out.utf8.count > 1 << 16 { print(out, terminator: ""); out = "" }
                }
                print(out, terminator: "")
            }
        }
    }

    /// The smallest byte string after every string that starts with `p`.
    private func successor(_ p: [UInt8]) -> [UInt8]? {
        var s = p
        while let last = s.last {
            if last < 0xFF { s[s.count - 1] = last + 1; return s }
            s.removeLast()
        }
        return nil
    }
}

/// `sealkv export DB > data.jsonl`
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write every entry as JSON lines: {\"ns\", \"key\" or \"key_b64\", \"value\" or \"value_b64\", \"expires\"}.")
    @Argument(help: "The store.") var path: String
    @Option(name: .customLong("ns"), help: "Only this namespace (default: all).") var namespace: String?
    @OptionGroup var credentials: CredentialOptions

    func run() throws {
        let db = try openStore(path, credentials, writable: false)
        defer { db.close() }
        try storeCall {
            try db.read { tx in
                let names = try namespace.map { [$0] } ?? ([""] + tx.namespaces())
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                var out = ""
                for name in names {
                    let ns = try tx.namespace(name)
                    for (k, v) in try ns.all() {
                        var o: [String: Any] = ["ns": name]
                        jsonField("key", k, into: &o)
                        jsonField("value", v, into: &o)
                        if let ttl = try ns.timeToLive(k) {
                            o["expires"] = now + ttl.components.seconds * 1000 + ttl.components.attoseconds / 1_000_000_000_000_000
                        }
                        out += jsonLine(o) + "\n"
                        if out.utf8.count > 1 << 16 { print(out, terminator: ""); out = "" }
                    }
                }
                print(out, terminator: "")
            }
        }
    }
}

/// `sealkv load DB < data.jsonl`: the export format, one transaction per batch of lines.
struct LoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "load", abstract: "Load JSON lines (the export format) from stdin.")
    @Argument(help: "The store.") var path: String
    @Option(help: "Lines per transaction.") var batch = 1000
    @OptionGroup var credentials: CredentialOptions

    struct Entry {
        let ns: String
        let key: [UInt8]
        let value: [UInt8]
        let expires: Int64?
    }

    func run() throws {
        guard batch > 0 else { throw ValidationError("--batch must be positive.") }
        let input = Array(FileHandle.standardInput.readDataToEndOfFile())
        var lines = input.split(separator: 0x0A, omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        let db = try openStore(path, credentials, writable: true)
        defer { db.close() }
        let bar = ProgressBar("load", unit: "lines")
        var loaded = 0
        var start = 0
        while start < lines.count {
            let end = min(start + batch, lines.count)
            // Parse the whole batch before writing any of it: a bad line loads nothing of its batch.
            var entries: [Entry] = []
            for i in start..<end {
                let line = lines[i]
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { continue }
                guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                    throw failure(line: i + 1, "is not a JSON object", batchStart: start + 1, loaded: loaded)
                }
                guard let key = jsonBytes("key", in: object), !key.isEmpty else {
                    throw failure(line: i + 1, "has no non-empty \"key\" (or \"key_b64\")", batchStart: start + 1, loaded: loaded)
                }
                guard let value = jsonBytes("value", in: object) else {
                    throw failure(line: i + 1, "has no \"value\" (or \"value_b64\")", batchStart: start + 1, loaded: loaded)
                }
                if object["ns"] != nil && !(object["ns"] is String) {
                    throw failure(line: i + 1, "has an \"ns\" that is not a string", batchStart: start + 1, loaded: loaded)
                }
                entries.append(Entry(ns: object["ns"] as? String ?? "", key: key, value: value,
                                     expires: (object["expires"] as? NSNumber)?.int64Value))
            }
            do {
                try db.write { tx in
                    let now = Int64(Date().timeIntervalSince1970 * 1000)
                    for e in entries {
                        let ns = try tx.namespace(e.ns)
                        if let expires = e.expires {
                            guard expires > now else { continue }   // already expired: nothing to load
                            try ns.put(e.key, e.value, ttl: .milliseconds(expires - now))
                        } else {
                            try ns.put(e.key, e.value)
                        }
                    }
                }
            } catch let error as SealKVError {
                throw ToolFailure("\(error.message) Nothing from the batch starting at line \(start + 1) was loaded (\(loaded) entries before it were).", exitCode: 2)
            }
            loaded += entries.count
            start = end
            bar.update(done: start, total: lines.count)
        }
        bar.finish()
        printError("loaded \(loaded) entries")
    }

    func failure(line: Int, _ what: String, batchStart: Int, loaded: Int) -> ToolFailure {
        ToolFailure("line \(line) \(what); nothing from the batch starting at line \(batchStart) was loaded (\(loaded) entries before it were). Fix the line and load the rest.", exitCode: 2)
    }
}
