import SealKV

/// MULTI, EXEC, DISCARD, WATCH and UNWATCH: the queued commands run in one SealKV write
/// transaction (one commit), after the watches are checked inside that same transaction.
enum TransactionCommands {
    static func multi(_ c: Invocation) -> CommandPlan {
        if c.session.inTransaction { return .reply(.err("MULTI calls can not be nested")) }
        c.session.queued = []
        c.session.queuedBytes = 0
        c.session.queueFailed = false
        return .reply(.ok)
    }

    static func discard(_ c: Invocation) -> CommandPlan {
        guard c.session.inTransaction else { return .reply(.err("DISCARD without MULTI")) }
        c.session.endTransaction()
        unwatch(c.session, c.server)
        return .reply(.ok)
    }

    static func watch(_ c: Invocation) -> CommandPlan {
        if c.session.inTransaction { return .reply(.err("WATCH inside MULTI is not allowed")) }
        let (client, keys, ns, server) = (c.session.id, Array(c.args.dropFirst()), c.namespace, c.server)
        // What each key holds now, read in a snapshot; registered before the reply, so any write
        // the writer runs after this point breaks the watch.
        let seen: [(WatchRegistry.Key, [UInt8]?)]
        do {
            seen = try server.database.read { tx in
                let space = try server.keyspace(tx, ns)
                return try keys.map { key in
                    let entry = try space.entry(key)
                    return (WatchRegistry.Key(namespace: ns, key: key), server.watches.digest(value: entry?.value, expiresAt: entry?.expiresAt))
                }
            }
        } catch {
            return .reply(Reply.store(error))
        }
        guard server.watches.watch(client, seen) else {
            return .reply(.err("too many watched keys: a client may watch at most \(WatchRegistry.maxKeysPerClient) keys at once in sealkv serve"))
        }
        c.session.watchedKeys = server.watches.count(client)
        return .reply(.ok)
    }

    static func unwatchCommand(_ c: Invocation) -> CommandPlan {
        unwatch(c.session, c.server)
        return .reply(.ok)
    }

    static func unwatch(_ session: Session, _ server: ServerState) {
        server.watches.unwatch(session.id)
        session.watchedKeys = 0
    }

    /// Runs the queued commands in one write transaction, or answers the null array if a watched
    /// key changed since WATCH. Commands are planned now, in order (a queued SELECT changes the
    /// database of those after it); their reads see the writes queued before them.
    static func exec(_ c: Invocation) -> CommandPlan {
        let session = c.session
        guard let queued = session.queued else { return .reply(.err("EXEC without MULTI")) }
        let failed = session.queueFailed
        session.endTransaction()
        let (client, watches, limit) = (session.id, c.server.watches, c.replyLimit)
        session.watchedKeys = 0
        if failed {
            watches.unwatch(client)
            return .reply(Reply.execAbort)
        }
        let plans = queued.map { CommandDispatcher.plan($0, session, c.server) }
        return .write { tx in
            defer { watches.unwatch(client) }
            guard try watches.holds(client, in: tx) else { return .nullArray }
            var budget = ReplyBudget(limit: limit)
            var replies: [RESPValue] = []
            for p in plans {
                var reply: RESPValue
                switch p {
                case .reply(let r), .close(let r): reply = r
                case .read(let op):
                    do { reply = try op(tx) } catch { reply = Reply.store(error) }
                case .write(let op):
                    do { reply = try op(tx) } catch { reply = Reply.store(error) }
                }
                if !budget.spend(reply.encodedSize(.resp3)) { reply = Reply.tooLarge(limit: limit) }
                replies.append(reply)
            }
            return .array(replies)
        }
    }
}
