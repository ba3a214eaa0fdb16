import SealKV

/// What a command is, for dispatch and for COMMAND INFO: Redis's flags.
struct CommandFlags: OptionSet, Sendable {
    let rawValue: Int
    /// Changes the store.
    static let write = CommandFlags(rawValue: 1 << 0)
    /// Only reads.
    static let readonly = CommandFlags(rawValue: 1 << 1)
    /// Constant or logarithmic time.
    static let fast = CommandFlags(rawValue: 1 << 2)
    /// May grow the store.
    static let denyOOM = CommandFlags(rawValue: 1 << 3)
    /// Allowed before authentication.
    static let noAuth = CommandFlags(rawValue: 1 << 4)
    /// Runs at once inside MULTI instead of being queued (MULTI, EXEC, DISCARD, WATCH, QUIT, RESET).
    static let notQueued = CommandFlags(rawValue: 1 << 5)
    /// Administrative.
    static let admin = CommandFlags(rawValue: 1 << 6)
    /// Runs while the store is loading or stale (connection commands).
    static let loading = CommandFlags(rawValue: 1 << 7)
    static let stale = CommandFlags(rawValue: 1 << 8)
    /// Not allowed from scripts.
    static let noScript = CommandFlags(rawValue: 1 << 9)

    /// The names COMMAND INFO lists.
    var names: [String] {
        let all: [(CommandFlags, String)] = [
            (.write, "write"), (.readonly, "readonly"), (.denyOOM, "denyoom"), (.admin, "admin"), (.noScript, "noscript"),
            (.loading, "loading"), (.stale, "stale"), (.fast, "fast"), (.noAuth, "no_auth"),
        ]
        return all.filter { contains($0.0) }.map(\.1)
    }
}

/// Where a command's keys are among its arguments, as COMMAND INFO's first, last and step.
struct KeyPositions: Sendable {
    var first = 0, last = 0, step = 0

    static let none = KeyPositions()
    static let one = KeyPositions(first: 1, last: 1, step: 1)
    static let two = KeyPositions(first: 1, last: 2, step: 1)
    static let all = KeyPositions(first: 1, last: -1, step: 1)
    static let pairs = KeyPositions(first: 1, last: -1, step: 2)

    /// The indices of the keys in `args`.
    func indices(in args: [[UInt8]]) -> StrideTo<Int> {
        guard first > 0 else { return stride(from: 0, to: 0, by: 1) }
        let end = last < 0 ? args.count + last : min(last, args.count - 1)
        return stride(from: first, to: end + 1, by: step)
    }
}

/// One row of the command table: a command's name, arity, flags, keys and handler together.
struct Command: Sendable {
    /// The name as Redis writes it: lower case, `container|sub` for a subcommand.
    let name: String
    /// Redis's arity, the name included: positive exact, negative a minimum.
    let arity: Int
    let flags: CommandFlags
    let keys: KeyPositions
    /// ACL categories, for COMMAND INFO (`@read`, `@string`, ...).
    let categories: [String]
    /// Plans the command; for a container, only when it comes without a subcommand.
    let handler: (@Sendable (Invocation) -> CommandPlan)?
    /// For CLIENT, CONFIG and COMMAND: their subcommands, by upper-case name.
    let subcommands: [String: Command]

    init(_ name: String, _ arity: Int, _ flags: CommandFlags, keys: KeyPositions = .none, _ categories: [String],
         _ handler: @escaping @Sendable (Invocation) -> CommandPlan) {
        self.name = name
        self.arity = arity
        self.flags = flags
        self.keys = keys
        self.categories = categories
        self.handler = handler
        subcommands = [:]
    }

    /// A container command (CLIENT, CONFIG, COMMAND) over `subcommands`; `bare` answers it
    /// without a subcommand (COMMAND alone).
    init(container name: String, _ flags: CommandFlags, _ categories: [String], subcommands: [Command],
         bare: (@Sendable (Invocation) -> CommandPlan)? = nil) {
        self.name = name
        arity = bare == nil ? -2 : -1
        self.flags = flags
        keys = .none
        self.categories = categories
        handler = bare
        self.subcommands = Dictionary(uniqueKeysWithValues: subcommands.map { (String($0.name.split(separator: "|").last!).uppercased(), $0) })
    }

    /// Whether `count` arguments (the name included) fit the arity.
    func accepts(_ count: Int) -> Bool { arity > 0 ? count == arity : count >= -arity }
}

/// One command being planned: its arguments, the client's session and the server.
struct Invocation {
    let args: [[UInt8]]
    let session: Session
    let server: ServerState
    let command: Command

    /// The SELECTed namespace.
    var namespace: String { session.namespace }

    /// Argument `i` as text (for option names and messages).
    func text(_ i: Int) -> String { String(decoding: args[i], as: UTF8.self) }

    /// Argument `i` upper-cased (for matching options case-insensitively).
    func option(_ i: Int) -> String { text(i).uppercased() }

    /// Argument `i` as Redis reads an integer, or nil.
    func integer(_ i: Int) -> Int64? { RedisNumber.integer(args[i]) }

    /// The longest reply this client may get.
    var replyLimit: Int { server.clientLimits.outputLimitBytes }
}

extension ServerState {
    /// The database `namespace` in `tx`, reporting writes to WATCH. (Operations run in a
    /// transaction later, on another thread: they capture the namespace, never the session.)
    func keyspace(_ tx: ReadTransaction, _ namespace: String) throws -> Keyspace { try Keyspace(tx, namespace, watches: watches) }
}
