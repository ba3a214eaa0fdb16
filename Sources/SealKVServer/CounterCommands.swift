/// INCR, DECR, INCRBY, DECRBY and INCRBYFLOAT: numbers kept as decimal text, as Redis keeps them,
/// with the key's expiry left as it was.
enum CounterCommands {
    /// INCR and DECR (by 1), INCRBY and DECRBY (by their argument).
    static func incrBy(_ c: Invocation) -> CommandPlan {
        let name = c.command.name
        var delta: Int64 = 1
        if c.args.count == 3 {
            guard let d = c.integer(2) else { return .reply(Reply.notInteger) }
            delta = d
        }
        if name.hasPrefix("decr") {
            guard delta != .min else { return .reply(.err("decrement would overflow")) }
            delta = -delta
        }
        let (key, ns, server) = (c.args[1], c.namespace, c.server)
        return .write { [delta] tx in
            let space = try server.keyspace(tx, ns)
            let old = try space.entry(key)
            var current: Int64 = 0
            if let old {
                guard let v = RedisNumber.integer(old.value) else { return Reply.notInteger }
                current = v
            }
            let (next, overflow) = current.addingReportingOverflow(delta)
            if overflow { return Reply.overflow }
            try space.put(key, RedisNumber.text(next), expiresAt: old?.expiresAt)
            return .integer(next)
        }
    }

    static func incrByFloat(_ c: Invocation) -> CommandPlan {
        guard let increment = RedisNumber.longDouble(c.args[2]) else { return .reply(Reply.notFloat) }
        let (key, ns, server) = (c.args[1], c.namespace, c.server)
        return .write { tx in
            let space = try server.keyspace(tx, ns)
            let old = try space.entry(key)
            var current: RedisNumber.LongDouble = 0
            if let old {
                guard let v = RedisNumber.longDouble(old.value) else { return Reply.notFloat }
                current = v
            }
            let next = current + increment
            guard next.isFinite else { return .err("increment would produce NaN or Infinity") }
            guard let text = RedisNumber.text(next) else { return .err("increment would produce a number too long to write") }
            try space.put(key, text, expiresAt: old?.expiresAt)
            return .bulk(text)
        }
    }
}
