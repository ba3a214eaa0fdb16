/// Turns one request into a plan, checking it as Redis does and in Redis's order: the command
/// exists, its arity (and its subcommand's), its keys are ones SealKV can store, the client has
/// authenticated; inside MULTI it is queued instead. A command refused inside MULTI makes EXEC
/// abort; EXEC itself refused aborts at once.
enum CommandDispatcher {
    static func plan(_ args: [[UInt8]], _ session: Session, _ server: ServerState) -> CommandPlan {
        let resolved = resolve(args, session, server)
        guard case .success(let command) = resolved else {
            let refusal = resolved.replyError!
            return .reply(refuse(refusal, args, session, server))
        }
        if session.inTransaction && !command.flags.contains(.notQueued) {
            return .reply(queue(args, session, server))
        }
        session.lastCommand = command.name
        return command.handler!(Invocation(args: args, session: session, server: server, command: command))
    }

    /// The command to run, or why it is refused.
    private static func resolve(_ args: [[UInt8]], _ session: Session, _ server: ServerState) -> Result<Command, ReplyError> {
        guard var command = CommandTable.shared.lookup(args[0]) else { return .failure(ReplyError(Reply.unknown(args))) }
        guard command.accepts(args.count) else { return .failure(ReplyError(Reply.arity(command.name))) }
        if !command.subcommands.isEmpty && (args.count > 1 || command.handler == nil) {
            let sub = args[1]
            guard sub.count <= 32, let s = command.subcommands[String(decoding: sub, as: UTF8.self).uppercased()] else {
                return .failure(ReplyError(Reply.unknownSubcommand(sub, of: command.name)))
            }
            guard s.accepts(args.count) else { return .failure(ReplyError(Reply.arity(s.name))) }
            command = s
        }
        if !session.authenticated && !command.flags.contains(.noAuth) { return .failure(ReplyError(Reply.noAuth)) }
        for i in command.keys.indices(in: args) where !(1...1024).contains(args[i].count) {
            return .failure(ReplyError(Reply.invalidKey(args[i])))
        }
        return .success(command)
    }

    /// The reply for a refused command; inside MULTI it also dooms the transaction.
    private static func refuse(_ reply: RESPValue, _ args: [[UInt8]], _ session: Session, _ server: ServerState) -> RESPValue {
        guard session.inTransaction else { return reply }
        if CommandTable.shared.lookup(args[0])?.name == "exec" {
            session.endTransaction()
            TransactionCommands.unwatch(session, server)
            guard case .error(let text) = reply else { return Reply.execAbort }
            let reason = text.hasPrefix("ERR ") ? String(text.dropFirst(4)) : text
            return .error("EXECABORT Transaction discarded because of: \(reason)")
        }
        session.queueFailed = true
        return reply
    }

    /// Queues a command after MULTI, within the request size bound for the whole transaction.
    private static func queue(_ args: [[UInt8]], _ session: Session, _ server: ServerState) -> RESPValue {
        let bytes = args.reduce(0) { $0 + $1.count + RequestParser.argumentOverhead }
        guard session.queuedBytes + bytes <= server.limits.maxRequestBytes else {
            session.queueFailed = true
            return .err("transaction too large: the commands queued since MULTI pass \(server.limits.maxRequestBytes) bytes (sealkv serve --max-request)")
        }
        session.queued!.append(args)
        session.queuedBytes += bytes
        return Reply.queued
    }
}
