import SealKV

/// DEL, EXISTS, TYPE, RENAME, COPY, KEYS, SCAN, DBSIZE, FLUSHDB and FLUSHALL.
enum KeyCommands {
    /// DEL and UNLINK (and DELETE, an older name SealKV kept): how many of the keys existed.
    static func del(_ c: Invocation) -> CommandPlan {
        let (keys, ns, server) = (Array(c.args.dropFirst()), c.namespace, c.server)
        return .write { tx in
            let space = try server.keyspace(tx, ns)
            var removed: Int64 = 0
            for key in keys where try space.delete(key) { removed += 1 }
            return .integer(removed)
        }
    }

    /// EXISTS and TOUCH: how many of the keys exist, a key named twice counted twice.
    static func exists(_ c: Invocation) -> CommandPlan {
        let (keys, ns, server) = (Array(c.args.dropFirst()), c.namespace, c.server)
        return .read { tx in
            let space = try server.keyspace(tx, ns)
            var found: Int64 = 0
            for key in keys where try space.contains(key) { found += 1 }
            return .integer(found)
        }
    }

    static func type(_ c: Invocation) -> CommandPlan {
        let (key, ns, server) = (c.args[1], c.namespace, c.server)
        return .read { tx in .simple(try server.keyspace(tx, ns).contains(key) ? "string" : "none") }
    }

    /// RENAME, and RENAMENX, which does nothing when the new name exists. The expiry moves along.
    static func rename(_ c: Invocation) -> CommandPlan {
        let onlyIfFree = c.command.name == "renamenx"
        let (from, to, ns, server) = (c.args[1], c.args[2], c.namespace, c.server)
        return .write { tx in
            let space = try server.keyspace(tx, ns)
            guard let entry = try space.entry(from) else { return Reply.noSuchKey }
            if from == to { return onlyIfFree ? .integer(0) : .ok }
            if onlyIfFree, try space.contains(to) { return .integer(0) }
            _ = try space.delete(from)
            try space.put(to, entry.value, expiresAt: entry.expiresAt)
            return onlyIfFree ? .integer(1) : .ok
        }
    }

    /// `COPY source destination [DB db] [REPLACE]`: 1 if copied, 0 if the source is missing or
    /// the destination exists without REPLACE.
    static func copy(_ c: Invocation) -> CommandPlan {
        var replace = false
        var target = (namespace: c.namespace, label: c.session.databaseLabel)
        var j = 3
        while j < c.args.count {
            switch c.option(j) {
            case "REPLACE": replace = true
            case "DB" where j + 1 < c.args.count:
                switch ConnectionCommands.database(c.args[j + 1], c.server) {
                case .success(let (namespace, label)): target = (namespace, label)
                case .failure(let error): return .reply(error.reply)
                }
                j += 1
            default: return .reply(Reply.syntax)
            }
            j += 1
        }
        let (from, to, ns, server) = (c.args[1], c.args[2], c.namespace, c.server)
        if from == to && target.namespace == ns { return .reply(.err("source and destination objects are the same")) }
        return .write { [target, replace] tx in
            guard let entry = try server.keyspace(tx, ns).entry(from) else { return .integer(0) }
            let destination = try server.keyspace(tx, target.namespace)
            if !replace, try destination.contains(to) { return .integer(0) }
            try destination.put(to, entry.value, expiresAt: entry.expiresAt)
            return .integer(1)
        }
    }

    static func keys(_ c: Invocation) -> CommandPlan {
        let (pattern, ns, server, limit) = (GlobPattern(c.args[1]), c.namespace, c.server, c.replyLimit)
        return .read { tx in
            var budget = ReplyBudget(limit: limit)
            var found: [RESPValue] = []
            for key in try server.keyspace(tx, ns).keys(after: nil) where pattern.matchesEverything || pattern.matches(key) {
                guard budget.spendBulk(key.count) else { return Reply.tooLarge(limit: limit) }
                found.append(.bulk(key))
            }
            return .array(found)
        }
    }

    static func dbsize(_ c: Invocation) -> CommandPlan {
        let (ns, server) = (c.namespace, c.server)
        return .read { tx in .integer(Int64(try server.keyspace(tx, ns).count())) }
    }

    /// FLUSHDB and FLUSHALL, with an optional ASYNC or SYNC (both flush before answering).
    /// FLUSHALL empties every database SELECT can reach, not namespaces it cannot.
    static func flush(_ c: Invocation) -> CommandPlan {
        if c.args.count > 2 || (c.args.count == 2 && !["ASYNC", "SYNC"].contains(c.option(1))) { return .reply(Reply.syntax) }
        let (all, ns, server) = (c.command.name == "flushall", c.namespace, c.server)
        return .write { tx in
            for name in all ? try server.reachableNamespaces(tx) : [ns] {
                try server.keyspace(tx, name).flush()
            }
            return .ok
        }
    }
}
