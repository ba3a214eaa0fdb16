/// `SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]`, over the server's cursors: a scan
/// resumes right after the last key it returned, so every key present throughout is returned
/// exactly once, in key order.
enum ScanCommand {
    /// Most keys one call examines, whatever COUNT says.
    static let maxCount = 100_000

    static func scan(_ c: Invocation) -> CommandPlan {
        guard let cursor = UInt64(c.text(1)) else { return .reply(.err("invalid cursor")) }
        var pattern: GlobPattern? = nil
        var count = 10
        var onlyStrings = true
        var i = 2
        while i < c.args.count {
            guard i + 1 < c.args.count else { return .reply(Reply.syntax) }
            switch c.option(i) {
            case "MATCH": pattern = GlobPattern(c.args[i + 1])
            case "COUNT":
                guard let n = c.integer(i + 1) else { return .reply(Reply.notInteger) }
                guard n >= 1 else { return .reply(Reply.syntax) }
                count = Int(min(n, Int64(maxCount)))
            case "TYPE": onlyStrings = c.text(i + 1).lowercased() == "string"
            default: return .reply(Reply.syntax)
            }
            i += 2
        }
        let cursors = c.server.cursors
        var ns = c.namespace
        var after: [UInt8]? = nil
        if cursor != 0 {
            guard let position = cursors.position(cursor) else {
                return .reply(.err("invalid cursor: \(cursor) is unknown or was forgotten (sealkv serve keeps the newest \(ScanCursors.limit) cursors); start the scan again from 0"))
            }
            (ns, after) = (position.namespace, position.key)
            cursors.drop(cursor)
        }
        // Every key SealKV stores is a string: a scan for another type finds nothing.
        guard onlyStrings else { return .reply(.array([.text("0"), .array([])])) }
        let (server, limit) = (c.server, c.replyLimit)
        return .read { [ns, pattern, count, after] tx in
            var budget = ReplyBudget(limit: limit)
            var found: [RESPValue] = []
            var last: [UInt8]? = nil
            var examined = 0
            var finished = true
            for key in try server.keyspace(tx, ns).keys(after: after) {
                if examined == count { finished = false; break }
                examined += 1
                last = key
                guard pattern?.matches(key) ?? true else { continue }
                guard budget.spendBulk(key.count) else { return Reply.tooLarge(limit: limit) }
                found.append(.bulk(key))
            }
            let next = finished ? 0 : cursors.make(namespace: ns, after: last!)
            return .array([.text(String(next)), .array(found)])
        }
    }
}
