/// Every command `sealkv serve` understands: name, arity, flags, key positions, ACL categories
/// and handler, one row each. Any other command gets Redis's "unknown command" error.
struct CommandTable: Sendable {
    /// Top-level commands, in the order COMMAND lists them.
    let all: [Command]
    private let byName: [String: Command]

    /// The one table.
    static let shared = CommandTable()

    /// The command named `name`, in any case.
    func lookup(_ name: [UInt8]) -> Command? {
        guard name.count <= 32 else { return nil }
        return byName[String(decoding: name, as: UTF8.self).uppercased()]
    }

    private init() {
        all = Self.connection + Self.strings + Self.counters + Self.keys + Self.expiry + Self.transactions + Self.server
        byName = Dictionary(uniqueKeysWithValues: all.map { ($0.name.uppercased(), $0) })
    }

    private static let fast: CommandFlags = [.fast]
    private static let read: CommandFlags = [.readonly], readFast: CommandFlags = [.readonly, .fast]
    private static let write: CommandFlags = [.write, .denyOOM], writeFast: CommandFlags = [.write, .denyOOM, .fast]
    private static let remove: CommandFlags = [.write], removeFast: CommandFlags = [.write, .fast]
    private static let connectionFlags: CommandFlags = [.noScript, .loading, .stale, .fast]
    private static let transactionFlags: CommandFlags = [.noScript, .loading, .stale, .fast, .notQueued]

    private static let connection: [Command] = [
        Command("ping", -1, fast, ["@fast", "@connection"], ConnectionCommands.ping),
        Command("echo", 2, fast, ["@fast", "@connection"], ConnectionCommands.echo),
        Command("auth", -2, connectionFlags.union(.noAuth), ["@fast", "@connection"], ConnectionCommands.auth),
        Command("hello", -1, connectionFlags.union(.noAuth), ["@fast", "@connection"], ConnectionCommands.hello),
        Command("quit", -1, connectionFlags.union([.noAuth, .notQueued]), ["@fast", "@connection"], ConnectionCommands.quit),
        Command("reset", 1, connectionFlags.union([.noAuth, .notQueued]), ["@fast", "@connection"], ConnectionCommands.reset),
        Command("select", 2, connectionFlags, ["@fast", "@connection"], ConnectionCommands.select),
        Command(container: "client", [.noScript, .loading, .stale], ["@slow"], subcommands: [
            Command("client|id", 2, connectionFlags, ["@slow", "@connection"], ClientCommands.id),
            Command("client|getname", 2, connectionFlags, ["@slow", "@connection"], ClientCommands.getName),
            Command("client|setname", 3, connectionFlags, ["@slow", "@connection"], ClientCommands.setNameCommand),
            Command("client|setinfo", 4, connectionFlags, ["@slow", "@connection"], ClientCommands.setInfo),
            Command("client|list", -2, [.admin, .noScript, .loading, .stale], ["@admin", "@slow", "@dangerous", "@connection"], ClientCommands.list),
            Command("client|info", 2, connectionFlags, ["@slow", "@connection"], ClientCommands.info),
            Command("client|help", 2, [.loading, .stale], ["@slow", "@connection"], ClientCommands.help),
        ]),
    ]

    private static let strings: [Command] = [
        Command("get", 2, readFast, keys: .one, ["@read", "@string", "@fast"], StringCommands.get),
        Command("set", -3, write, keys: .one, ["@write", "@string", "@slow"], StringCommands.set),
        Command("setnx", 3, writeFast, keys: .one, ["@write", "@string", "@fast"], StringCommands.setNX),
        Command("setex", 4, write, keys: .one, ["@write", "@string", "@slow"], StringCommands.setEX),
        Command("psetex", 4, write, keys: .one, ["@write", "@string", "@slow"], StringCommands.setEX),
        Command("getex", -2, removeFast, keys: .one, ["@write", "@string", "@fast"], StringCommands.getEX),
        Command("getset", 3, writeFast, keys: .one, ["@write", "@string", "@fast"], StringCommands.getSet),
        Command("getdel", 2, removeFast, keys: .one, ["@write", "@string", "@fast"], StringCommands.getDel),
        Command("mget", -2, readFast, keys: .all, ["@read", "@string", "@fast"], StringCommands.mget),
        Command("mset", -3, write, keys: .pairs, ["@write", "@string", "@slow"], StringCommands.mset),
        Command("msetnx", -3, write, keys: .pairs, ["@write", "@string", "@slow"], StringCommands.mset),
        Command("append", 3, writeFast, keys: .one, ["@write", "@string", "@fast"], StringCommands.append),
        Command("strlen", 2, readFast, keys: .one, ["@read", "@string", "@fast"], StringCommands.strlen),
        Command("setrange", 4, write, keys: .one, ["@write", "@string", "@slow"], StringCommands.setRange),
        Command("getrange", 4, read, keys: .one, ["@read", "@string", "@slow"], StringCommands.getRange),
        Command("substr", 4, read, keys: .one, ["@read", "@string", "@slow"], StringCommands.getRange),
    ]

    private static let counters: [Command] = [
        Command("incr", 2, writeFast, keys: .one, ["@write", "@string", "@fast"], CounterCommands.incrBy),
        Command("decr", 2, writeFast, keys: .one, ["@write", "@string", "@fast"], CounterCommands.incrBy),
        Command("incrby", 3, writeFast, keys: .one, ["@write", "@string", "@fast"], CounterCommands.incrBy),
        Command("decrby", 3, writeFast, keys: .one, ["@write", "@string", "@fast"], CounterCommands.incrBy),
        Command("incrbyfloat", 3, writeFast, keys: .one, ["@write", "@string", "@fast"], CounterCommands.incrByFloat),
    ]

    private static let keys: [Command] = [
        Command("del", -2, remove, keys: .all, ["@keyspace", "@write", "@slow"], KeyCommands.del),
        Command("unlink", -2, removeFast, keys: .all, ["@keyspace", "@write", "@fast"], KeyCommands.del),
        Command("delete", -2, remove, keys: .all, ["@keyspace", "@write", "@slow"], KeyCommands.del),
        Command("exists", -2, readFast, keys: .all, ["@keyspace", "@read", "@fast"], KeyCommands.exists),
        Command("touch", -2, readFast, keys: .all, ["@keyspace", "@read", "@fast"], KeyCommands.exists),
        Command("type", 2, readFast, keys: .one, ["@keyspace", "@read", "@fast"], KeyCommands.type),
        Command("rename", 3, remove, keys: .two, ["@keyspace", "@write", "@slow"], KeyCommands.rename),
        Command("renamenx", 3, removeFast, keys: .two, ["@keyspace", "@write", "@fast"], KeyCommands.rename),
        Command("copy", -3, write, keys: .two, ["@keyspace", "@write", "@slow"], KeyCommands.copy),
        Command("keys", 2, read, ["@keyspace", "@read", "@slow", "@dangerous"], KeyCommands.keys),
        Command("scan", -2, read, ["@keyspace", "@read", "@slow"], ScanCommand.scan),
        Command("dbsize", 1, readFast, ["@keyspace", "@read", "@fast"], KeyCommands.dbsize),
        Command("flushdb", -1, remove, ["@keyspace", "@write", "@slow", "@dangerous"], KeyCommands.flush),
        Command("flushall", -1, remove, ["@keyspace", "@write", "@slow", "@dangerous"], KeyCommands.flush),
    ]

    private static let expiry: [Command] = [
        Command("expire", -3, removeFast, keys: .one, ["@keyspace", "@write", "@fast"], ExpiryCommands.expire),
        Command("pexpire", -3, removeFast, keys: .one, ["@keyspace", "@write", "@fast"], ExpiryCommands.expire),
        Command("expireat", -3, removeFast, keys: .one, ["@keyspace", "@write", "@fast"], ExpiryCommands.expire),
        Command("pexpireat", -3, removeFast, keys: .one, ["@keyspace", "@write", "@fast"], ExpiryCommands.expire),
        Command("ttl", 2, readFast, keys: .one, ["@keyspace", "@read", "@fast"], ExpiryCommands.ttl),
        Command("pttl", 2, readFast, keys: .one, ["@keyspace", "@read", "@fast"], ExpiryCommands.ttl),
        Command("expiretime", 2, readFast, keys: .one, ["@keyspace", "@read", "@fast"], ExpiryCommands.expireTime),
        Command("pexpiretime", 2, readFast, keys: .one, ["@keyspace", "@read", "@fast"], ExpiryCommands.expireTime),
        Command("persist", 2, removeFast, keys: .one, ["@keyspace", "@write", "@fast"], ExpiryCommands.persist),
    ]

    private static let transactions: [Command] = [
        Command("multi", 1, transactionFlags, ["@transaction", "@fast"], TransactionCommands.multi),
        Command("exec", 1, [.noScript, .loading, .stale, .notQueued], ["@transaction", "@slow"], TransactionCommands.exec),
        Command("discard", 1, transactionFlags, ["@transaction", "@fast"], TransactionCommands.discard),
        Command("watch", -2, transactionFlags, keys: .all, ["@transaction", "@fast"], TransactionCommands.watch),
        Command("unwatch", 1, [.noScript, .loading, .stale, .fast], ["@transaction", "@fast"], TransactionCommands.unwatchCommand),
    ]

    private static let server: [Command] = [
        Command("info", -1, [.loading, .stale], ["@slow", "@dangerous"], ServerCommands.info),
        Command("time", 1, [.loading, .stale, .fast], ["@fast"], ServerCommands.time),
        Command(container: "config", [], ["@slow"], subcommands: [
            Command("config|get", -3, [.admin, .noScript, .loading, .stale], ["@admin", "@slow", "@dangerous"], ServerCommands.configGet),
            Command("config|set", -4, [.admin, .noScript, .loading, .stale], ["@admin", "@slow", "@dangerous"], ServerCommands.configSet),
            Command("config|help", 2, [.loading, .stale], ["@slow"], ServerCommands.configHelp),
        ]),
        Command(container: "command", [.loading, .stale], ["@slow", "@connection"], subcommands: [
            Command("command|count", 2, [.loading, .stale], ["@slow", "@connection"], ServerCommands.commandCount),
            Command("command|info", -2, [.loading, .stale], ["@slow", "@connection"], ServerCommands.commandInfo),
            Command("command|docs", -2, [.loading, .stale], ["@slow", "@connection"], ServerCommands.commandDocs),
            Command("command|list", -2, [.loading, .stale], ["@slow", "@connection"], ServerCommands.commandList),
            Command("command|help", 2, [.loading, .stale], ["@slow", "@connection"], ServerCommands.commandHelp),
        ], bare: ServerCommands.commandInfo),
    ]
}
