import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// INFO, TIME, CONFIG GET and COMMAND: what clients ask of the server itself.
enum ServerCommands {
    static func info(_ c: Invocation) -> CommandPlan {
        let (sections, server) = ((1..<c.args.count).map { c.text($0) }, c.server)
        return .read { tx in .verbatim(try ServerInfo.text(server, tx, requested: sections)) }
    }

    static func time(_ c: Invocation) -> CommandPlan {
        var now = timeval()
        gettimeofday(&now, nil)
        return .reply(.array([.text("\(now.tv_sec)"), .text("\(now.tv_usec)")]))
    }

    /// The settings CONFIG GET shows: Redis's names for what `sealkv serve` was started with.
    static func settings(_ server: ServerState) -> [(String, String)] {
        let (limits, client) = (server.limits, server.clientLimits)
        let seconds = { (t: TimeAmount) in "\(t.nanoseconds / 1_000_000_000)" }
        return [
            ("appendonly", "yes"), ("appendfsync", "always"), ("save", ""), ("databases", server.namespacePerDatabase ? "0" : "16"),
            ("maxclients", "\(server.clients.maxClients)"), ("timeout", server.idleTimeout.map(seconds) ?? "0"),
            ("proto-max-bulk-len", "\(limits.maxBulkLength)"), ("client-query-buffer-limit", "\(limits.maxRequestBytes)"),
            ("client-output-buffer-limit", "normal \(client.outputLimitBytes) \(client.outputPauseBytes) \(seconds(client.outputTimeout))"),
            ("maxmemory", "0"), ("maxmemory-policy", "noeviction"), ("maxmemory-clients", "\(client.maxClientMemory)"),
        ]
    }

    /// `CONFIG GET pattern [pattern ...]`: a map in RESP3, pairs in RESP2.
    static func configGet(_ c: Invocation) -> CommandPlan {
        let patterns = c.args.dropFirst(2).map { GlobPattern(Array(String(decoding: $0, as: UTF8.self).lowercased().utf8)) }
        let matched = settings(c.server).filter { s in patterns.contains { $0.matches(Array(s.0.utf8)) } }
        return .reply(.map(matched.map { RESPField(.text($0.0), .text($0.1)) }))
    }

    static func configSet(_ c: Invocation) -> CommandPlan {
        .reply(.err("CONFIG SET is not supported by sealkv serve: its settings are options of `sealkv serve` (see `sealkv serve --help`)"))
    }

    static func configHelp(_ c: Invocation) -> CommandPlan {
        .reply(.array(["CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                       "GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
                       "HELP", "    Print this help."].map { .simple($0) }))
    }

    // MARK: COMMAND

    /// `COMMAND` and `COMMAND INFO [name ...]`: the table in Redis 7's shape.
    static func commandInfo(_ c: Invocation) -> CommandPlan {
        let table = CommandTable.shared
        if c.args.count <= 2 { return .reply(.array(table.all.map(describe))) }
        return .reply(.array(c.args.dropFirst(2).map { table.lookup($0).map(describe) ?? .null }))
    }

    static func commandCount(_ c: Invocation) -> CommandPlan { .reply(.integer(Int64(CommandTable.shared.all.count))) }

    static func commandList(_ c: Invocation) -> CommandPlan {
        .reply(.array(CommandTable.shared.all.map { .text($0.name) }))
    }

    /// `COMMAND DOCS [name ...]`: a map of each command to its (here empty) documentation.
    static func commandDocs(_ c: Invocation) -> CommandPlan {
        let table = CommandTable.shared
        let commands = c.args.count <= 2 ? table.all : c.args.dropFirst(2).compactMap { table.lookup($0) }
        return .reply(.map(commands.map { RESPField(.text($0.name), .map([])) }))
    }

    static func commandHelp(_ c: Invocation) -> CommandPlan {
        .reply(.array(["COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                       "(no subcommand)", "    Return details about all commands.",
                       "COUNT", "    Return the total number of commands in this server.",
                       "LIST", "    Return a list of all commands in this server.",
                       "INFO [<command-name> ...]", "    Return details about multiple commands.",
                       "DOCS [<command-name> ...]", "    Return documentation details about multiple commands.",
                       "HELP", "    Print this help."].map { .simple($0) }))
    }

    /// One command as COMMAND INFO describes it: name, arity, flags, first key, last key, step,
    /// ACL categories, tips, key specifications, subcommands.
    static func describe(_ command: Command) -> RESPValue {
        .array([
            .text(command.name), .integer(Int64(command.arity)), .set(command.flags.names.map { .simple($0) }),
            .integer(Int64(command.keys.first)), .integer(Int64(command.keys.last)), .integer(Int64(command.keys.step)),
            .set(command.categories.map { .simple($0) }), .set([]), .array([]),
            .array(command.subcommands.keys.sorted().map { describe(command.subcommands[$0]!) }),
        ])
    }
}
