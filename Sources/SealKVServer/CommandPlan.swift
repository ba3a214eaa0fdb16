import SealKV

/// How a command is carried out.
enum CommandPlan {
    /// Answered from the session alone.
    case reply(RESPValue)
    /// A read in a snapshot.
    case read(@Sendable (ReadTransaction) throws -> RESPValue)
    /// A write, group-committed with other clients' writes; answered once the commit is durable.
    case write(@Sendable (WriteTransaction) throws -> RESPValue)
    /// Answer, then close the connection (QUIT).
    case close(RESPValue)
}

/// Replies for the errors every command shares (texts as Redis words them, so clients recognise them).
enum Reply {
    static let notInteger = RESPValue.err("value is not an integer or out of range")
    static let syntax = RESPValue.err("syntax error")
    static let overflow = RESPValue.err("increment or decrement would overflow")
    static let noAuth = RESPValue.error("NOAUTH Authentication required.")
    static let wrongPass = RESPValue.error("WRONGPASS invalid username-password pair or user is disabled.")
    static let queued = RESPValue.simple("QUEUED")
    static let execAbort = RESPValue.error("EXECABORT Transaction discarded because of previous errors.")

    static func arity(_ name: String) -> RESPValue { .err("wrong number of arguments for '\(name.lowercased())' command") }

    static func unknown(_ args: [[UInt8]]) -> RESPValue {
        let name = String(decoding: args[0].prefix(128), as: UTF8.self)
        let rest = args.dropFirst().prefix(3).map { "'\(String(decoding: $0.prefix(64), as: UTF8.self))' " }.joined()
        return .err("unknown command '\(name)', with args beginning with: \(rest)")
    }

    /// A store error as a reply: its message says what happened and what to do.
    static func store(_ error: any Error) -> RESPValue { .err(message(error)) }

    /// What a store error says, without the Swift type's decoration.
    static func message(_ error: any Error) -> String {
        (error as? SealKVError)?.message ?? "\(error)"
    }
}
