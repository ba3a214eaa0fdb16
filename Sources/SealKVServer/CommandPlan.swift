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

/// Replies for the errors commands share, in Redis's words, so clients recognise them.
enum Reply {
    static let notInteger = RESPValue.err("value is not an integer or out of range")
    static let notFloat = RESPValue.err("value is not a valid float")
    static let syntax = RESPValue.err("syntax error")
    static let overflow = RESPValue.err("increment or decrement would overflow")
    static let noSuchKey = RESPValue.err("no such key")
    static let tooLong = RESPValue.err("string exceeds maximum allowed size (proto-max-bulk-len)")
    static let noAuth = RESPValue.error("NOAUTH Authentication required.")
    static let wrongPass = RESPValue.error("WRONGPASS invalid username-password pair or user is disabled.")
    static let queued = RESPValue.simple("QUEUED")
    static let execAbort = RESPValue.error("EXECABORT Transaction discarded because of previous errors.")

    static func arity(_ name: String) -> RESPValue { .err("wrong number of arguments for '\(name)' command") }

    static func invalidExpire(_ name: String) -> RESPValue { .err("invalid expire time in '\(name)' command") }

    /// Redis's text for an unknown command: its name, and its first arguments up to 128 bytes.
    static func unknown(_ args: [[UInt8]]) -> RESPValue {
        var rest = ""
        for a in args.dropFirst() where rest.utf8.count < 128 {
            rest += "'\(String(decoding: a.prefix(128 - rest.utf8.count), as: UTF8.self))' "
        }
        return .err("unknown command '\(String(decoding: args[0].prefix(128), as: UTF8.self))', with args beginning with: \(rest)")
    }

    static func unknownSubcommand(_ sub: [UInt8], of command: String) -> RESPValue {
        .err("unknown subcommand '\(String(decoding: sub.prefix(128), as: UTF8.self))'. Try \(command.uppercased()) HELP.")
    }

    /// A key SealKV cannot store: keys are 1 to 1024 bytes.
    static func invalidKey(_ key: [UInt8]) -> RESPValue {
        .err("invalid key: SealKV keys are 1 to \(Limits.maxKeyLength) bytes long and this one is \(key.count); sealkv serve refuses empty and longer keys")
    }

    /// A reply too large for the client output limit.
    static func tooLarge(limit: Int) -> RESPValue {
        .err("the reply would be larger than the client output limit of \(limit) bytes (sealkv serve --client-output-limit); ask for less at a time, e.g. SCAN with a smaller COUNT")
    }

    /// A store error as a reply: its message says what happened and what to do.
    static func store(_ error: any Error) -> RESPValue { .err(message(error)) }

    /// What a store error says, without the Swift type's decoration.
    static func message(_ error: any Error) -> String {
        (error as? SealKVError)?.message ?? "\(error)"
    }
}

/// Keeps a reply that is built piece by piece (MGET, KEYS, SCAN, EXEC) under the client output
/// limit, so a command cannot make the server hold more than that for one reply.
struct ReplyBudget {
    let limit: Int
    private(set) var used = 16

    init(limit: Int) { self.limit = limit }

    /// Counts `bytes` more; false once the reply would pass the limit.
    mutating func spend(_ bytes: Int) -> Bool {
        used += bytes
        return used <= limit
    }

    /// Counts a bulk string of `count` bytes.
    mutating func spendBulk(_ count: Int) -> Bool { spend(count + 24) }
}
