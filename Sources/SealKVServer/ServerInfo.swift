import NIOCore
import SealKV
#if canImport(Glibc)
import Glibc
#endif

/// INFO's text: Redis's sections and field names where SealKV has the figure, and the store's own
/// figures (its commit, file, durability, how recovery opened it) in the persistence section.
enum ServerInfo {
    /// The Redis version whose commands and replies the server follows.
    static let redisVersion = "7.2.0"

    /// The sections `INFO` with no argument (or `default`) shows; `all` and `everything` too.
    static let sections = ["server", "clients", "memory", "persistence", "stats", "keyspace"]

    /// A random id for this run, as Redis's `run_id`.
    static let runID: String = (0..<20).map { _ in String(format2hex: UInt8.random(in: 0...255)) }.joined()

    /// INFO for the sections `requested` names (empty: the default ones).
    static func text(_ server: ServerState, _ tx: ReadTransaction, requested: [String]) throws -> String {
        let wanted = Set(requested.map { $0.lowercased() })
        let all = wanted.isEmpty || !wanted.isDisjoint(with: ["all", "everything", "default"])
        var out: [String] = []
        for section in sections where all || wanted.contains(section) {
            let fields: [(String, String)]
            switch section {
            case "server": fields = serverFields(server)
            case "clients": fields = clientFields(server)
            case "memory": fields = memoryFields(server)
            case "persistence": fields = persistenceFields(server)
            case "stats": fields = statsFields(server)
            default: fields = try keyspaceFields(server, tx)
            }
            out.append("# \(section.prefix(1).uppercased() + section.dropFirst())\r\n" + fields.map { "\($0.0):\($0.1)\r\n" }.joined())
        }
        return out.joined(separator: "\r\n")
    }

    private static func serverFields(_ server: ServerState) -> [(String, String)] {
        var name = utsname()
        uname(&name)
        func field<T>(_ value: T) -> String { withUnsafeBytes(of: value) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) } }
        let uptime = (NIODeadline.now() - server.started).nanoseconds / 1_000_000_000
        var now = timeval()
        gettimeofday(&now, nil)
        let listening = server.listening.withLockedValue { $0 }
        let port = listening.lazy.compactMap { $0.split(separator: ":").last.flatMap { Int($0) } }.first ?? 0
        return [
            ("redis_version", redisVersion), ("redis_mode", "standalone"), ("sealkv_version", SealKVVersion.string),
            ("os", "\(field(name.sysname)) \(field(name.release)) \(field(name.machine))"), ("arch_bits", "\(Int.bitWidth)"),
            ("multiplexing_api", "epoll"), ("process_id", "\(getpid())"), ("run_id", runID), ("tcp_port", "\(port)"),
            ("server_time_usec", "\(Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_usec))"),
            ("uptime_in_seconds", "\(uptime)"), ("uptime_in_days", "\(uptime / 86400)"), ("listening", listening.joined(separator: ",")),
        ]
    }

    private static func clientFields(_ server: ServerState) -> [(String, String)] {
        let records = server.clients.all()
        let paused = records.filter { $0.details.withLockedValue { $0.pausedForOutput } }.count
        return [
            ("connected_clients", "\(records.count)"), ("maxclients", "\(server.clients.maxClients)"), ("blocked_clients", "0"),
            ("clients_paused_for_output", "\(paused)"), ("client_buffered_bytes", "\(server.clients.bufferedBytes)"),
        ]
    }

    private static func memoryFields(_ server: ServerState) -> [(String, String)] {
        let rss = residentBytes()
        return [
            // SealKV has no allocator total like Redis's: used_memory is the resident set too.
            ("used_memory", "\(rss)"), ("used_memory_human", human(rss)), ("used_memory_rss", "\(rss)"), ("used_memory_rss_human", human(rss)),
            ("maxmemory", "0"), ("maxmemory_human", "0B"), ("maxmemory_policy", "noeviction"),
            ("mem_clients_normal", "\(server.clients.bufferedBytes)"), ("maxmemory_clients", "\(server.clientLimits.maxClientMemory)"),
        ]
    }

    private static func persistenceFields(_ server: ServerState) -> [(String, String)] {
        let s = server.statistics.snapshot
        let db = server.database
        let r = db.recovery
        var fileBytes: Int64 = 0
        if let path = db.path {
            var st = stat()
            if stat(path, &st) == 0 { fileBytes = Int64(st.st_size) }
        }
        // Every commit since the server opened the store went through it (it is the store's writer).
        let commits = Int(db.currentTxnID - server.openedTxnID)
        let perCommit = commits == 0 ? 0 : (Double(s.writes) / Double(commits) * 100).rounded() / 100
        var fields: [(String, String)] = [
            ("loading", "0"), ("async_loading", "0"), ("aof_enabled", "0"), ("rdb_bgsave_in_progress", "0"),
            ("store_path", db.path ?? "(memory)"), ("store_txnid", "\(db.currentTxnID)"), ("store_file_bytes", "\(fileBytes)"),
            ("store_durability", "\(db.options.durability)"), ("group_commits", "\(commits)"), ("committed_writes", "\(s.writes)"),
            ("writes_per_commit", "\(perCommit)"), ("failed_commits", "\(s.failedCommits)"),
            ("recovery_fell_back", r.fellBack ? "1" : "0"), ("recovery_opened_txnid", "\(r.openedTxnID)"),
            ("recovery_slot_txnids", r.slotTxnIDs.map { $0.map(String.init) ?? "invalid" }.joined(separator: ",")),
        ]
        if let refused = r.refusedTxnID { fields.append(("recovery_refused_txnid", "\(refused)")) }
        if let reason = r.refusedReason { fields.append(("recovery_refused_reason", reason.replacingNewlines())) }
        return fields
    }

    private static func statsFields(_ server: ServerState) -> [(String, String)] {
        let s = server.statistics.snapshot
        return [
            ("total_connections_received", "\(s.connections)"), ("total_commands_processed", "\(s.commands)"),
            ("rejected_connections", "\(s.rejected)"), ("evicted_clients", "\(s.evicted)"), ("expired_keys", "\(s.expiredSwept)"),
            ("client_output_limit_disconnections", "\(s.closedForOutput)"), ("client_request_timeouts", "\(s.requestTimeouts)"),
        ]
    }

    /// `db0:keys=N`, one line per non-empty database SELECT can reach (no `expires` figure: the
    /// store keeps one expiry index for all namespaces, and counting a namespace's share of it
    /// would mean reading all of it). A namespace that is not
    /// `dbN` (with `--ns-per-db`) is shown as `ns_` and its name with every byte outside
    /// `A-Za-z0-9_.-` percent-escaped, so INFO stays one field per line.
    private static func keyspaceFields(_ server: ServerState, _ tx: ReadTransaction) throws -> [(String, String)] {
        var fields: [(String, String)] = []
        for name in try server.reachableNamespaces(tx) {
            let keys = try Keyspace(tx, name).count()
            guard keys > 0 else { continue }
            let label: String
            if name.isEmpty { label = "db0" } else if name.hasPrefix("db"), let n = Int(name.dropFirst(2)), n > 0, "db\(n)" == name { label = name } else {
                label = "ns_" + name.utf8.map { b in
                    b.isASCIIWordByte ? String(UnicodeScalar(b)) : "%" + String(format2hex: b)
                }.joined()
            }
            fields.append((label, "keys=\(keys)"))
        }
        return fields
    }

    /// The process's resident memory, from `/proc/self/statm`.
    static func residentBytes() -> Int {
        guard let f = fopen("/proc/self/statm", "r") else { return 0 }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 256)
        guard fgets(&line, Int32(line.count), f) != nil else { return 0 }
        let parts = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).split(separator: " ")
        guard parts.count >= 2, let pages = Int(parts[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    static func human(_ bytes: Int) -> String {
        let units = ["B", "K", "M", "G", "T"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(bytes)B" : "\((value * 100).rounded() / 100)\(units[unit])"
    }
}

private extension UInt8 {
    var isASCIIWordByte: Bool {
        (0x30...0x39).contains(self) || (0x41...0x5A).contains(self) || (0x61...0x7A).contains(self) || self == 0x5F || self == 0x2E || self == 0x2D
    }
}

private extension String {
    init(format2hex byte: UInt8) {
        let digits = Array("0123456789abcdef".utf8)
        self = String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 15)]], as: UTF8.self)
    }

    func replacingNewlines() -> String { String(map { $0.isNewline ? " " : $0 }) }
}
