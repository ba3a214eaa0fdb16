import CSodium
import NIOConcurrencyHelpers
import SealKV
#if canImport(Glibc)
import Glibc
#endif

/// Counters shown by INFO.
final class ServerStatistics: Sendable {
    private struct Counts {
        var commits = 0, writes = 0, failedCommits = 0, commands = 0, connections = 0, rejected = 0
    }
    private let counts = NIOLockedValueBox(Counts())

    func committed(writes n: Int) { counts.withLockedValue { $0.commits += 1; $0.writes += n } }
    func failedCommit() { counts.withLockedValue { $0.failedCommits += 1 } }
    func command() { counts.withLockedValue { $0.commands += 1 } }
    func connected() { counts.withLockedValue { $0.connections += 1 } }
    func rejected() { counts.withLockedValue { $0.rejected += 1 } }

    var snapshot: (commits: Int, writes: Int, failedCommits: Int, commands: Int, connections: Int, rejected: Int) {
        counts.withLockedValue { ($0.commits, $0.writes, $0.failedCommits, $0.commands, $0.connections, $0.rejected) }
    }
}

/// What every connection shares: the store, the password check, counters and settings.
final class ServerState: Sendable {
    let database: Database
    let namespacePerDatabase: Bool
    let statistics = ServerStatistics()
    let cursors = ScanCursors()
    let clients = NIOLockedValueBox(0)
    let started = ContinuousClock.now
    /// Keyed BLAKE2b of the password under a random key made at start; the password itself is not kept.
    private let passwordDigest: [UInt8]?
    private let digestKey: [UInt8]
    let listening: String

    init(database: Database, password: [UInt8]?, namespacePerDatabase: Bool, listening: String) {
        self.database = database
        self.namespacePerDatabase = namespacePerDatabase
        self.listening = listening
        var key = [UInt8](repeating: 0, count: 32)
        randombytes_buf(&key, key.count)
        digestKey = key
        passwordDigest = password.map { Self.digest($0, key: key) }
    }

    /// Whether a password is required.
    var password: Void? { passwordDigest == nil ? nil : () }

    private static func digest(_ bytes: [UInt8], key: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        _ = crypto_generichash(&out, out.count, bytes, UInt64(bytes.count), key, key.count)
        return out
    }

    /// Compares in constant time (both sides hashed first, so the length is not revealed either).
    func checkPassword(_ candidate: [UInt8]) -> Bool {
        guard let passwordDigest else { return false }
        let d = Self.digest(candidate, key: digestKey)
        return sodium_memcmp(d, passwordDigest, 32) == 0
    }

    /// INFO's text.
    func info(_ tx: ReadTransaction, section: String?) throws -> String {
        let s = statistics.snapshot
        let uptime = ContinuousClock.now - started
        let wanted = section?.lowercased()
        func include(_ name: String) -> Bool { wanted == nil || wanted == "all" || wanted == "everything" || wanted == name }
        var out = ""
        if include("server") {
            out += "# Server\r\nsealkv_version:\(SealKVVersion.string)\r\nredis_mode:standalone\r\nprocess_id:\(getpid())\r\n"
            out += "listening:\(listening)\r\nuptime_in_seconds:\(uptime.components.seconds)\r\n\r\n"
        }
        if include("clients") {
            out += "# Clients\r\nconnected_clients:\(clients.withLockedValue { $0 })\r\ntotal_connections_received:\(s.connections)\r\n"
            out += "rejected_connections:\(s.rejected)\r\n\r\n"
        }
        if include("persistence") {
            out += "# Persistence\r\nstore_txnid:\(tx.snapshotTxnID)\r\ngroup_commits:\(s.commits)\r\ncommitted_writes:\(s.writes)\r\n"
            out += "writes_per_commit:\(s.commits == 0 ? "0" : String(format2(Double(s.writes) / Double(s.commits))))\r\nfailed_commits:\(s.failedCommits)\r\n\r\n"
        }
        if include("stats") {
            out += "# Stats\r\ntotal_commands_processed:\(s.commands)\r\n\r\n"
        }
        if include("keyspace") {
            out += "# Keyspace\r\n"
            let main = try tx.namespace("").count()
            if main > 0 { out += "db0:keys=\(main)\r\n" }
            for name in try tx.namespaces() {
                let n = try tx.namespace(name).count()
                let label = name.hasPrefix("db") && Int(name.dropFirst(2)) != nil ? name : "ns:\(name)"
                out += "\(label):keys=\(n)\r\n"
            }
        }
        return out
    }

    private func format2(_ x: Double) -> String {
        let r = (x * 100).rounded() / 100
        return "\(r)"
    }
}
