import SealKV

/// The commands `sealkv serve` understands, mapped onto SealKV transactions. Each SELECTed database
/// is a SealKV namespace; keys with a time to live use SealKV's expiry index.
struct RedisCommands: Sendable {
    let server: ServerState

    /// Arity as Redis counts it (the command name included): positive exact, negative a minimum.
    static let arity: [String: Int] = [
        "PING": -1, "ECHO": 2, "AUTH": -2, "QUIT": 1, "SELECT": 2, "GET": 2, "SET": -3, "SETNX": 3,
        "GETDEL": 2, "DEL": -2, "DELETE": -2, "EXISTS": -2, "EXPIRE": 3, "PEXPIRE": 3, "TTL": 2, "PTTL": 2,
        "PERSIST": 2, "INCR": 2, "INCRBY": 3, "DECR": 2, "DECRBY": 3, "MGET": -2, "MSET": -3, "KEYS": 2,
        "SCAN": -2, "DBSIZE": 1, "FLUSHDB": -1, "FLUSHALL": -1, "MULTI": 1, "EXEC": 1, "DISCARD": 1,
        "INFO": -1, "COMMAND": -1, "CONFIG": -2, "CLIENT": -2,
    ]
    /// Commands that change the store.
    static let writes: Set<String> = ["SET", "SETNX", "GETDEL", "DEL", "DELETE", "EXPIRE", "PEXPIRE", "PERSIST",
                                      "INCR", "INCRBY", "DECR", "DECRBY", "MSET", "FLUSHDB", "FLUSHALL"]

    /// Plans one command for `session` (which SELECT, AUTH and MULTI change).
    func plan(_ args: [[UInt8]], _ session: Session) -> CommandPlan {
        let name = String(decoding: args[0].prefix(32), as: UTF8.self).uppercased()
        // A malformed command inside MULTI makes EXEC abort, as in Redis.
        guard let arity = Self.arity[name] else {
            if session.queued != nil { session.queueFailed = true }
            return .reply(Reply.unknown(args))
        }
        guard arity > 0 ? args.count == arity : args.count >= -arity else {
            if session.queued != nil { session.queueFailed = true }
            return .reply(Reply.arity(name))
        }
        if !session.authenticated && name != "AUTH" && name != "QUIT" {
            return .reply(Reply.noAuth)
        }
        if session.queued != nil && !["EXEC", "DISCARD", "MULTI", "QUIT"].contains(name) {
            session.queued!.append(args)
            return .reply(Reply.queued)
        }
        switch name {
        case "PING": return .reply(args.count > 1 ? .bulk(args[1]) : .simple("PONG"))
        case "ECHO": return .reply(.bulk(args[1]))
        case "QUIT": return .close(.ok)
        case "AUTH": return .reply(authenticate(args, session))
        case "SELECT": return .reply(select(args[1], session))
        case "MULTI":
            if session.queued != nil { return .reply(.err("MULTI calls can not be nested")) }
            session.queued = []
            session.queueFailed = false
            return .reply(.ok)
        case "DISCARD":
            guard session.queued != nil else { return .reply(.err("DISCARD without MULTI")) }
            session.queued = nil
            return .reply(.ok)
        case "EXEC": return exec(session)
        case "COMMAND": return .reply(command(args))
        case "CONFIG": return .reply(config(args))
        case "CLIENT": return .reply(client(args))
        default: return data(name, args, session)
        }
    }

    // MARK: Session commands

    private func authenticate(_ args: [[UInt8]], _ session: Session) -> RESPValue {
        guard server.password != nil else {
            return .err("AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
        }
        guard args.count <= 3 else { return Reply.syntax }
        let user = args.count == 3 ? args[1] : Array("default".utf8)
        let ok = server.checkPassword(args[args.count - 1]) && user == Array("default".utf8)
        session.authenticated = ok
        return ok ? .ok : Reply.wrongPass
    }

    private func select(_ arg: [UInt8], _ session: Session) -> RESPValue {
        if let index = Int(String(decoding: arg, as: UTF8.self)) {
            guard (0..<16).contains(index) || (server.namespacePerDatabase && index >= 0) else { return .err("DB index is out of range") }
            session.namespace = index == 0 ? "" : "db\(index)"
            return .ok
        }
        guard server.namespacePerDatabase else { return .err("invalid DB index (start the server with --ns-per-db to select namespaces by name)") }
        let name = String(decoding: arg, as: UTF8.self)
        guard !name.isEmpty, arg.count <= 255, arg.first != 0 else { return .err("invalid namespace name") }
        session.namespace = name
        return .ok
    }

    private func exec(_ session: Session) -> CommandPlan {
        guard let queued = session.queued else { return .reply(.err("EXEC without MULTI")) }
        session.queued = nil
        if session.queueFailed { return .reply(Reply.execAbort) }
        // Plan every command now, in order (a queued SELECT changes the namespace of those after it),
        // then run them all in one write transaction: one commit, one fsync.
        var plans: [CommandPlan] = []
        for args in queued {
            plans.append(plan(args, session))
        }
        return .write { [plans] tx in
            var replies: [RESPValue] = []
            for p in plans {
                switch p {
                case .reply(let r), .close(let r): replies.append(r)
                case .read(let op):
                    do { replies.append(try op(tx)) } catch { replies.append(Reply.store(error)) }
                case .write(let op):
                    do { replies.append(try op(tx)) } catch { replies.append(Reply.store(error)) }
                }
            }
            return .array(replies)
        }
    }

    private func command(_ args: [[UInt8]]) -> RESPValue {
        let sub = args.count > 1 ? String(decoding: args[1], as: UTF8.self).uppercased() : ""
        switch sub {
        case "COUNT": return .integer(Int64(Self.arity.count))
        case "DOCS": return .array([])
        case "", "INFO":
            let names = args.count > 2 ? args[2...].map { String(decoding: $0, as: UTF8.self).uppercased() } : Self.arity.keys.sorted()
            return .array(names.map { name in
                guard let arity = Self.arity[name] else { return .null }
                let flags: [RESPValue] = [.simple(Self.writes.contains(name) ? "write" : "readonly")]
                let keyed = !["PING", "ECHO", "AUTH", "QUIT", "SELECT", "MULTI", "EXEC", "DISCARD", "INFO", "COMMAND",
                              "CONFIG", "CLIENT", "DBSIZE", "FLUSHDB", "FLUSHALL", "KEYS", "SCAN"].contains(name)
                let last: Int64 = ["DEL", "DELETE", "EXISTS", "MGET"].contains(name) ? -1 : keyed ? 1 : 0
                return .array([.text(name.lowercased()), .integer(Int64(arity)), .array(flags),
                               .integer(keyed ? 1 : 0), .integer(last), .integer(name == "MSET" ? 2 : keyed ? 1 : 0)])
            })
        default: return .err("unknown subcommand '\(sub)'. Try COMMAND COUNT, COMMAND DOCS or COMMAND INFO.")
        }
    }

    private func config(_ args: [[UInt8]]) -> RESPValue {
        guard String(decoding: args[1], as: UTF8.self).uppercased() == "GET", args.count == 3 else {
            return .err("only CONFIG GET is supported")
        }
        let known: [(String, String)] = [("appendonly", "yes"), ("appendfsync", "always"), ("save", ""), ("databases", server.namespacePerDatabase ? "0" : "16")]
        let pattern = GlobPattern(args[2])
        return .array(known.filter { pattern.matches(Array($0.0.utf8)) }.flatMap { [RESPValue.text($0.0), .text($0.1)] })
    }

    private func client(_ args: [[UInt8]]) -> RESPValue {
        switch String(decoding: args[1], as: UTF8.self).uppercased() {
        case "SETNAME", "SETINFO": return .ok
        case "GETNAME": return .null
        default: return .err("unknown CLIENT subcommand; SETNAME, SETINFO and GETNAME are supported")
        }
    }

    // MARK: Data commands

    private func data(_ name: String, _ args: [[UInt8]], _ session: Session) -> CommandPlan {
        let ns = session.namespace
        let keys = Array(args.dropFirst())
        switch name {
        case "GET":
            return .read { tx in .bulk(try Self.existing(tx, ns)?.get(args[1])) }
        case "MGET":
            return .read { tx in
                let n = try Self.existing(tx, ns)
                return .array(try keys.map { .bulk(try n?.get($0)) })
            }
        case "EXISTS":
            return .read { tx in
                let n = try Self.existing(tx, ns)
                return .integer(Int64(try keys.filter { try n?.contains($0) ?? false }.count))
            }
        case "TTL", "PTTL":
            let millis = name == "PTTL"
            return .read { tx in
                guard let n = try Self.existing(tx, ns), try n.contains(args[1]) else { return .integer(-2) }
                guard let ttl = try n.timeToLive(args[1]) else { return .integer(-1) }
                let ms = max(0, ttl.components.seconds * 1000 + ttl.components.attoseconds / 1_000_000_000_000_000)
                return .integer(millis ? ms : (ms + 500) / 1000)
            }
        case "KEYS":
            let pattern = GlobPattern(args[1])
            return .read { tx in
                guard let n = try Self.existing(tx, ns) else { return .array([]) }
                return .array(try n.keys().filter { pattern.matchesEverything || pattern.matches($0) }.map { .bulk($0) })
            }
        case "SCAN": return scan(args, session)
        case "DBSIZE":
            return .read { tx in .integer(Int64(try Self.existing(tx, ns)?.count() ?? 0)) }
        case "INFO":
            return .read { tx in .text(try server.info(tx, section: args.count > 1 ? String(decoding: args[1], as: UTF8.self) : nil)) }
        case "SET": return set(args, ns)
        case "SETNX":
            return .write { tx in
                let n = try tx.namespace(ns)
                if try n.contains(args[1]) { return .integer(0) }
                try n.put(args[1], args[2])
                return .integer(1)
            }
        case "MSET":
            guard keys.count % 2 == 0 else { return .reply(Reply.arity(name)) }
            return .write { tx in
                let n = try tx.namespace(ns)
                for i in stride(from: 0, to: keys.count, by: 2) { try n.put(keys[i], keys[i + 1]) }
                return .ok
            }
        case "GETDEL":
            return .write { tx in
                guard let n = try Self.existing(tx, ns), let old = try n.get(args[1]) else { return .null }
                try n.delete(args[1])
                return .bulk(old)
            }
        case "DEL", "DELETE":
            return .write { tx in
                guard let n = try Self.existing(tx, ns) else { return .integer(0) }
                return .integer(Int64(try keys.filter { try n.delete($0) }.count))
            }
        case "EXPIRE", "PEXPIRE":
            guard let amount = Int64(String(decoding: args[2], as: UTF8.self)) else { return .reply(Reply.notInteger) }
            let (ms, overflow) = amount.multipliedReportingOverflow(by: name == "EXPIRE" ? 1000 : 1)
            guard !overflow else { return .reply(.err("invalid expire time in '\(name.lowercased())' command")) }
            return .write { tx in
                guard let n = try Self.existing(tx, ns), let value = try n.get(args[1]) else { return .integer(0) }
                if ms <= 0 { try n.delete(args[1]) } else { try n.put(args[1], value, ttl: .milliseconds(ms)) }
                return .integer(1)
            }
        case "PERSIST":
            return .write { tx in
                guard let n = try Self.existing(tx, ns), let value = try n.get(args[1]), try n.timeToLive(args[1]) != nil else { return .integer(0) }
                try n.put(args[1], value)
                return .integer(1)
            }
        case "INCR", "DECR", "INCRBY", "DECRBY":
            var delta: Int64 = 1
            if args.count == 3 {
                guard let d = Int64(String(decoding: args[2], as: UTF8.self)) else { return .reply(Reply.notInteger) }
                delta = d
            }
            if name.hasPrefix("DECR") {
                guard delta != .min else { return .reply(Reply.overflow) }
                delta = -delta
            }
            return .write { [delta] tx in
                let n = try tx.namespace(ns)
                var current: Int64 = 0
                if let old = try n.get(args[1]) {
                    guard old.count <= 20, let v = Int64(String(decoding: old, as: UTF8.self)) else { return Reply.notInteger }
                    current = v
                }
                let (next, overflow) = current.addingReportingOverflow(delta)
                if overflow { return Reply.overflow }
                let bytes = Array(String(next).utf8)
                if let ttl = try n.timeToLive(args[1]) { try n.put(args[1], bytes, ttl: ttl) } else { try n.put(args[1], bytes) }
                return .integer(next)
            }
        case "FLUSHDB", "FLUSHALL":
            let all = name == "FLUSHALL"
            return .write { tx in
                for named in all ? try tx.namespaces() : (ns.isEmpty ? [] : [ns]) { try tx.dropNamespace(named) }
                if all || ns.isEmpty {
                    let n = try tx.namespace("")
                    for key in Array(try n.keys()) { try n.delete(key) }
                }
                return .ok
            }
        default:
            return .reply(Reply.unknown(args))
        }
    }

    private func set(_ args: [[UInt8]], _ ns: String) -> CommandPlan {
        var ttl: Duration? = nil
        var keepTTL = false, nx = false, xx = false, get = false
        var i = 3
        while i < args.count {
            let option = String(decoding: args[i], as: UTF8.self).uppercased()
            switch option {
            case "NX": nx = true
            case "XX": xx = true
            case "GET": get = true
            case "KEEPTTL": keepTTL = true
            case "EX", "PX":
                guard i + 1 < args.count, ttl == nil else { return .reply(Reply.syntax) }
                guard let n = Int64(String(decoding: args[i + 1], as: UTF8.self)) else { return .reply(Reply.notInteger) }
                let (ms, overflow) = n.multipliedReportingOverflow(by: option == "EX" ? 1000 : 1)
                guard n > 0, !overflow else { return .reply(.err("invalid expire time in 'set' command")) }
                ttl = .milliseconds(ms)
                i += 1
            default: return .reply(Reply.syntax)
            }
            i += 1
        }
        if (nx && xx) || (keepTTL && ttl != nil) { return .reply(Reply.syntax) }
        return .write { [ttl, nx, xx, get, keepTTL] tx in
            let n = try tx.namespace(ns)
            let old = try n.get(args[1])
            if (nx && old != nil) || (xx && old == nil) { return get ? .bulk(old) : .null }
            if let ttl {
                try n.put(args[1], args[2], ttl: ttl)
            } else if keepTTL, let remaining = try n.timeToLive(args[1]) {
                try n.put(args[1], args[2], ttl: remaining)
            } else {
                try n.put(args[1], args[2])
            }
            return get ? .bulk(old) : .ok
        }
    }

    private func scan(_ args: [[UInt8]], _ session: Session) -> CommandPlan {
        guard let cursor = UInt64(String(decoding: args[1], as: UTF8.self)) else { return .reply(.err("invalid cursor")) }
        var pattern: GlobPattern? = nil
        var count = 10
        var i = 2
        while i < args.count {
            let option = String(decoding: args[i], as: UTF8.self).uppercased()
            guard i + 1 < args.count else { return .reply(Reply.syntax) }
            switch option {
            case "MATCH": pattern = GlobPattern(args[i + 1])
            case "COUNT":
                guard let c = Int(String(decoding: args[i + 1], as: UTF8.self)), c > 0 else { return .reply(Reply.syntax) }
                count = min(c, 100_000)
            case "TYPE":
                guard String(decoding: args[i + 1], as: UTF8.self).lowercased() == "string" else { return .reply(.array([.text("0"), .array([])])) }
            default: return .reply(Reply.syntax)
            }
            i += 2
        }
        let cursors = server.cursors
        var ns = session.namespace
        var after: [UInt8]? = nil
        if cursor != 0 {
            guard let position = cursors.position(cursor) else { return .reply(.err("invalid cursor (unknown or expired)")) }
            ns = position.namespace
            after = position.key
            cursors.drop(cursor)
        }
        return .read { [ns, pattern, count, after] tx in
            guard let n = try Self.existing(tx, ns) else { return .array([.text("0"), .array([])]) }
            var found: [RESPValue] = []
            var last: [UInt8]? = nil
            var examined = 0
            var finished = true
            for (key, _) in try n.range(from: after, to: nil as [UInt8]?) {
                if let after, key == after { continue }
                if examined == count { finished = false; break }
                examined += 1
                last = key
                if pattern?.matches(key) ?? true { found.append(.bulk(key)) }
            }
            let next = finished || last == nil ? 0 : cursors.make(namespace: ns, after: last!)
            return .array([.text(String(next)), .array(found)])
        }
    }

    /// The namespace if it exists (the default one always does); nil otherwise, so that reads and
    /// deletes in a never-written database do not create it.
    static func existing(_ tx: ReadTransaction, _ name: String) throws -> Namespace? {
        if name.isEmpty { return try tx.namespace("") }
        guard try tx.namespaces().contains(name) else { return nil }
        return try tx.namespace(name)
    }
}
