import SealKV

/// GET, SET and the other string commands, with Redis's semantics and error texts.
enum StringCommands {
    static func get(_ c: Invocation) -> CommandPlan {
        let (key, ns, server) = (c.args[1], c.namespace, c.server)
        return .read { tx in .bulk(try server.keyspace(tx, ns).get(key)) }
    }

    /// SET's options, parsed as Redis parses them: NX and XX exclude each other, KEEPTTL excludes
    /// an expiry, one expiry kind (given again, the last wins).
    private struct SetOptions {
        var nx = false, xx = false, get = false, keepTTL = false
        var expiry: (kind: ExpiryArgument.Kind, text: [UInt8])? = nil

        init?(_ c: Invocation) {
            var j = 3
            while j < c.args.count {
                let option = c.option(j)
                let hasNext = j + 1 < c.args.count
                switch option {
                case "NX" where !xx: nx = true
                case "XX" where !nx: xx = true
                case "GET": get = true
                case "KEEPTTL" where expiry == nil: keepTTL = true
                case "EX", "PX", "EXAT", "PXAT":
                    let kind = ExpiryArgument.Kind(rawValue: option)!
                    guard hasNext, !keepTTL, expiry == nil || expiry!.kind == kind else { return nil }
                    expiry = (kind, c.args[j + 1])
                    j += 1
                default: return nil
                }
                j += 1
            }
        }
    }

    static func set(_ c: Invocation) -> CommandPlan {
        guard let options = SetOptions(c) else { return .reply(Reply.syntax) }
        var expiry: ExpiryArgument? = nil
        if let e = options.expiry {
            switch ExpiryArgument.parse(e.text, e.kind, command: "set") {
            case .success(let parsed): expiry = parsed
            case .failure(let error): return .reply(error.reply)
            }
        }
        let (key, value, ns, server) = (c.args[1], c.args[2], c.namespace, c.server)
        return .write { [options, expiry] tx in
            let space = try server.keyspace(tx, ns)
            var expiresAt: UInt64? = nil
            if let expiry {
                guard let at = expiry.expiresAt(now: space.now) else { return Reply.invalidExpire("set") }
                expiresAt = at
            }
            let old = options.get ? try space.get(key) : nil
            if options.nx || options.xx {
                let exists = options.get ? old != nil : try space.contains(key)
                if (options.nx && exists) || (options.xx && !exists) { return options.get ? .bulk(old) : .null }
            }
            if options.keepTTL { expiresAt = try space.expiration(key) }
            try space.put(key, value, expiresAt: expiresAt)
            return options.get ? .bulk(old) : .ok
        }
    }

    static func setNX(_ c: Invocation) -> CommandPlan {
        let (key, value, ns, server) = (c.args[1], c.args[2], c.namespace, c.server)
        return .write { tx in
            let space = try server.keyspace(tx, ns)
            if try space.contains(key) { return .integer(0) }
            try space.put(key, value)
            return .integer(1)
        }
    }

    /// SETEX (seconds) and PSETEX (milliseconds).
    static func setEX(_ c: Invocation) -> CommandPlan {
        let name = c.command.name
        let parsed = ExpiryArgument.parse(c.args[2], name == "setex" ? .ex : .px, command: name)
        guard case .success(let expiry) = parsed else { return .reply(parsed.replyError!) }
        let (key, value, ns, server) = (c.args[1], c.args[3], c.namespace, c.server)
        return .write { tx in
            let space = try server.keyspace(tx, ns)
            guard let at = expiry.expiresAt(now: space.now) else { return Reply.invalidExpire(name) }
            try space.put(key, value, expiresAt: at)
            return .ok
        }
    }

    /// `GETEX key [EX s | PX ms | EXAT t | PXAT t | PERSIST]`: the value, then the expiry changed.
    static func getEX(_ c: Invocation) -> CommandPlan {
        var change: (kind: ExpiryArgument.Kind, text: [UInt8])? = nil
        var persist = false
        var j = 2
        while j < c.args.count {
            let option = c.option(j)
            if option == "PERSIST", change == nil {
                persist = true
            } else if let kind = ExpiryArgument.Kind(rawValue: option), j + 1 < c.args.count, !persist, change == nil || change!.kind == kind {
                change = (kind, c.args[j + 1])
                j += 1
            } else {
                return .reply(Reply.syntax)
            }
            j += 1
        }
        let (key, ns, server) = (c.args[1], c.namespace, c.server)
        guard persist || change != nil else { return get(c) }
        return .write { [change] tx in
            let space = try server.keyspace(tx, ns)
            // As in Redis: a missing key is answered before the expiry is checked.
            guard let value = try space.get(key) else { return .null }
            if let change {
                let parsed = ExpiryArgument.parse(change.text, change.kind, command: "getex")
                guard case .success(let expiry) = parsed else { return parsed.replyError! }
                guard let at = expiry.expiresAt(now: space.now) else { return Reply.invalidExpire("getex") }
                _ = try space.setExpiration(key, at)
            } else if try space.expiration(key) != nil {
                _ = try space.setExpiration(key, nil)
            }
            return .bulk(value)
        }
    }

    static func getSet(_ c: Invocation) -> CommandPlan {
        let (key, value, ns, server) = (c.args[1], c.args[2], c.namespace, c.server)
        return .write { tx in
            let space = try server.keyspace(tx, ns)
            let old = try space.get(key)
            try space.put(key, value)
            return .bulk(old)
        }
    }

    static func getDel(_ c: Invocation) -> CommandPlan {
        let (key, ns, server) = (c.args[1], c.namespace, c.server)
        return .write { tx in
            let space = try server.keyspace(tx, ns)
            guard let old = try space.get(key) else { return .null }
            _ = try space.delete(key)
            return .bulk(old)
        }
    }

    static func mget(_ c: Invocation) -> CommandPlan {
        let (keys, ns, server, limit) = (Array(c.args.dropFirst()), c.namespace, c.server, c.replyLimit)
        return .read { tx in
            let space = try server.keyspace(tx, ns)
            var budget = ReplyBudget(limit: limit)
            var values: [RESPValue] = []
            values.reserveCapacity(keys.count)
            for key in keys {
                let value = try space.get(key)
                guard budget.spendBulk(value?.count ?? 0) else { return Reply.tooLarge(limit: limit) }
                values.append(.bulk(value))
            }
            return .array(values)
        }
    }

    /// MSET, and MSETNX, which sets nothing if any key exists.
    static func mset(_ c: Invocation) -> CommandPlan {
        guard c.args.count % 2 == 1 else { return .reply(Reply.arity(c.command.name)) }
        let onlyIfNone = c.command.name == "msetnx"
        let (pairs, ns, server) = (Array(c.args.dropFirst()), c.namespace, c.server)
        return .write { tx in
            let space = try server.keyspace(tx, ns)
            if onlyIfNone {
                for i in stride(from: 0, to: pairs.count, by: 2) where try space.contains(pairs[i]) { return .integer(0) }
            }
            for i in stride(from: 0, to: pairs.count, by: 2) { try space.put(pairs[i], pairs[i + 1]) }
            return onlyIfNone ? .integer(1) : .ok
        }
    }

    static func append(_ c: Invocation) -> CommandPlan {
        let (key, suffix, ns, server) = (c.args[1], c.args[2], c.namespace, c.server)
        let maxLength = c.server.limits.maxBulkLength
        return .write { tx in
            let space = try server.keyspace(tx, ns)
            let old = try space.entry(key)
            let length = (old?.value.count ?? 0) + suffix.count
            guard length <= maxLength else { return Reply.tooLong }
            try space.put(key, (old?.value ?? []) + suffix, expiresAt: old?.expiresAt)
            return .integer(Int64(length))
        }
    }

    static func strlen(_ c: Invocation) -> CommandPlan {
        let (key, ns, server) = (c.args[1], c.namespace, c.server)
        return .read { tx in .integer(Int64(try server.keyspace(tx, ns).get(key)?.count ?? 0)) }
    }

    static func setRange(_ c: Invocation) -> CommandPlan {
        guard let offset = c.integer(2) else { return .reply(Reply.notInteger) }
        guard offset >= 0 else { return .reply(.err("offset is out of range")) }
        let (key, patch, ns, server) = (c.args[1], c.args[3], c.namespace, c.server)
        let maxLength = c.server.limits.maxBulkLength
        return .write { tx in
            let space = try server.keyspace(tx, ns)
            let old = try space.entry(key)
            if patch.isEmpty { return .integer(Int64(old?.value.count ?? 0)) }
            guard offset <= Int64(maxLength) - Int64(patch.count) else { return Reply.tooLong }
            var value = old?.value ?? []
            let end = Int(offset) + patch.count
            if value.count < end { value += [UInt8](repeating: 0, count: end - value.count) }
            value.replaceSubrange(Int(offset)..<end, with: patch)
            try space.put(key, value, expiresAt: old?.expiresAt)
            return .integer(Int64(value.count))
        }
    }

    /// GETRANGE (and its old name SUBSTR), with Redis 7's index arithmetic.
    static func getRange(_ c: Invocation) -> CommandPlan {
        guard let start = c.integer(2), let end = c.integer(3) else { return .reply(Reply.notInteger) }
        let (key, ns, server) = (c.args[1], c.namespace, c.server)
        return .read { tx in
            guard let value = try server.keyspace(tx, ns).get(key) else { return .bulk([]) }
            guard let range = Self.range(start, end, count: value.count) else { return .bulk([]) }
            return .bulk(Array(value[range]))
        }
    }

    static func range(_ start: Int64, _ end: Int64, count: Int) -> Range<Int>? {
        let n = Int64(count)
        if start < 0 && end < 0 && start > end { return nil }
        var s = start < 0 ? n + start : start
        var e = end < 0 ? n + end : end
        s = max(s, 0)
        e = max(e, 0)
        if e >= n { e = n - 1 }
        guard s <= e, n > 0 else { return nil }
        return Int(s)..<Int(e + 1)
    }
}

extension Result where Failure == ReplyError {
    /// The error reply, if this failed.
    var replyError: RESPValue? {
        if case .failure(let e) = self { return e.reply }
        return nil
    }
}
