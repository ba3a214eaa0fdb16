import ArgumentParser
import SealKV
#if canImport(Glibc)
import Glibc
#endif

/// `sealkv scan DB`: entries in key order, one per line.
struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "List entries: KEY<TAB>VALUE per line (escaped), or JSON lines.",
        discussion: """
        Escaped lines show printable ASCII as is and every other byte as \\xNN (\\\\, \\t and \\n \
        for backslash, tab and newline). JSON lines hold "key" and "value" as strings when they are \
        UTF-8, else "key_b64" and "value_b64". Bounds that are not text take hex: --prefix-hex, \
        --from-hex, --to-hex.
        """)
    @Argument(help: "The store.") var path: String
    @Option(name: .customLong("ns"), help: "Namespace.") var namespace = ""
    @Option(help: "Only keys with this prefix.") var prefix: String?
    @Option(help: "Start at this key (inclusive).") var from: String?
    @Option(help: "Stop before this key.") var to: String?
    @Option(name: .customLong("prefix-hex"), help: ArgumentHelp("--prefix in hex.", valueName: "hex")) var prefixHex: String?
    @Option(name: .customLong("from-hex"), help: ArgumentHelp("--from in hex.", valueName: "hex")) var fromHex: String?
    @Option(name: .customLong("to-hex"), help: ArgumentHelp("--to in hex.", valueName: "hex")) var toHex: String?
    @Flag(help: "Descending order.") var reverse = false
    @Option(parsing: .unconditional, help: "At most this many entries.") var limit: String?
    @Flag(help: "One JSON object per line.") var json = false
    @OptionGroup var store: StoreOptions

    func run() throws {
        let limit = try self.limit.map { try NumericArgument.integer($0, "--limit", in: 0...Int.max) } ?? Int.max
        let prefix = try bound(prefix, prefixHex, "--prefix")
        let from = try bound(from, fromHex, "--from")
        let to = try bound(to, toHex, "--to")
        // A prefix narrows the range; --from and --to narrow it further.
        let lower = [prefix, from].compactMap { $0 }.max { $0.lexicographicallyPrecedes($1) }
        let upper = [prefix.flatMap(successor), to].compactMap { $0 }.min { $0.lexicographicallyPrecedes($1) }
        let db = try openStore(path, store, writable: false)
        defer { db.close() }
        let out = OutputBuffer()
        try storeCall(store: path) {
            try db.read { tx in
                let cursor = try tx.existingNamespace(namespace).cursor()
                try EntryWalk(cursor: cursor, lower: lower, upper: upper, reverse: reverse, limit: limit).forEach { key, value in
                    try key.withUnsafeBytes { k in
                        try value.withUnsafeBytes { v in
                            if json {
                                try out.append(0x7B)
                                try EntryEncoding.appendJSONField("key", k, to: out)
                                try out.append(0x2C)
                                try EntryEncoding.appendJSONField("value", v, to: out)
                                try out.append("}\n")
                            } else {
                                try EntryEncoding.appendEscaped(k, to: out)
                                try out.append(0x09)
                                try EntryEncoding.appendEscaped(v, to: out)
                                try out.append(0x0A)
                            }
                        }
                    }
                }
            }
        }
        try out.flush()
    }

    /// A bound given as text or in hex (not both).
    private func bound(_ text: String?, _ hex: String?, _ name: String) throws -> [UInt8]? {
        if text != nil && hex != nil { throw ToolFailure("give \(name) or \(name)-hex, not both.", exitCode: 2) }
        return try text.map { Array($0.utf8) } ?? hex.map { try hexBytes($0, option: "\(name)-hex") }
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

/// The entries of one namespace with `lower <= key < upper`, in order, walked with a cursor.
struct EntryWalk {
    let cursor: Cursor
    var lower: [UInt8]? = nil
    var upper: [UInt8]? = nil
    var reverse = false
    var limit = Int.max

    /// Calls `body` with each entry's key and value; the cursor rests on the entry meanwhile.
    func forEach(_ body: ([UInt8], [UInt8]) throws -> Void) throws {
        var on: Bool
        if reverse {
            if let upper { on = try cursor.seek(to: upper) ? cursor.previous() : cursor.last() } else { on = try cursor.last() }
        } else {
            if let lower { on = try cursor.seek(to: lower) } else { on = try cursor.first() }
        }
        var n = 0
        while on, n < limit, let key = cursor.key {
            if !reverse, let upper, compare(key, upper) >= 0 { break }
            if reverse, let lower, compare(key, lower) < 0 { break }
            guard let value = try cursor.value() else { break }
            try body(key, value)
            n += 1
            on = try reverse ? cursor.previous() : cursor.next()
        }
    }

    private func compare(_ a: [UInt8], _ b: [UInt8]) -> Int {
        a.withUnsafeBytes { x in
            b.withUnsafeBytes { y in
                let c = memcmp(x.baseAddress!, y.baseAddress!, min(x.count, y.count))
                return c != 0 ? Int(c) : x.count - y.count
            }
        }
    }
}
