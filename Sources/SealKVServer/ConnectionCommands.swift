import SealKV

/// PING, ECHO, QUIT, RESET, AUTH, HELLO and SELECT: commands about the connection itself.
enum ConnectionCommands {
    static func ping(_ c: Invocation) -> CommandPlan {
        guard c.args.count <= 2 else { return .reply(Reply.arity("ping")) }
        return .reply(c.args.count == 2 ? .bulk(c.args[1]) : .simple("PONG"))
    }

    static func echo(_ c: Invocation) -> CommandPlan { .reply(.bulk(c.args[1])) }

    static func quit(_ c: Invocation) -> CommandPlan { .close(.ok) }

    /// Back to a fresh connection's state: no transaction or watches, database 0, RESP2, no name,
    /// and not authenticated where a password is required.
    static func reset(_ c: Invocation) -> CommandPlan {
        let s = c.session
        s.endTransaction()
        c.server.watches.unwatch(s.id)
        s.watchedKeys = 0
        s.namespace = ""
        s.databaseLabel = "0"
        s.protocolVersion = .resp2
        s.name = []
        s.authenticated = !c.server.requiresPassword
        return .reply(.simple("RESET"))
    }

    /// `AUTH password` or `AUTH username password`; the only user is `default`.
    static func auth(_ c: Invocation) -> CommandPlan {
        guard c.args.count <= 3 else { return .reply(Reply.syntax) }
        if c.args.count == 2 && !c.server.requiresPassword {
            return .reply(.err("AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"))
        }
        let user = c.args.count == 3 ? c.args[1] : Array("default".utf8)
        return .reply(authenticate(c, user: user, password: c.args[c.args.count - 1]) ?? .ok)
    }

    /// Checks `user` and `password`, authenticating the session; the error reply on failure. With
    /// no password configured the default user takes any password, as Redis's `nopass` user does.
    private static func authenticate(_ c: Invocation, user: [UInt8], password: [UInt8]) -> RESPValue? {
        let ok = user == Array("default".utf8) && (!c.server.requiresPassword || c.server.checkPassword(password))
        guard ok else { return Reply.wrongPass }
        c.session.authenticated = true
        return nil
    }

    /// `HELLO [protover [AUTH username password] [SETNAME clientname]]`: switches protocol, and
    /// answers with the server's description as a map.
    static func hello(_ c: Invocation) -> CommandPlan {
        var version: RESPVersion? = nil
        var i = 1
        if c.args.count >= 2 {
            guard let v = c.integer(1) else { return .reply(.err("Protocol version is not an integer or out of range")) }
            guard let known = RESPVersion(rawValue: Int(clamping: v)) else { return .reply(.error("NOPROTO unsupported protocol version")) }
            version = known
            i = 2
        }
        var credentials: (user: [UInt8], password: [UInt8])? = nil
        var name: [UInt8]? = nil
        while i < c.args.count {
            let more = c.args.count - 1 - i
            switch c.option(i) {
            case "AUTH" where more >= 2: credentials = (c.args[i + 1], c.args[i + 2]); i += 3
            case "SETNAME" where more >= 1: name = c.args[i + 1]; i += 2
            default: return .reply(.err("Syntax error in HELLO option '\(c.text(i))'"))
            }
        }
        if let credentials, let failure = authenticate(c, user: credentials.user, password: credentials.password) {
            return .reply(failure)
        }
        guard c.session.authenticated else {
            return .reply(.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"))
        }
        if let name {
            if let failure = ClientCommands.setName(c.session, name) { return .reply(failure) }
        }
        if let version { c.session.protocolVersion = version }
        return .reply(.map([
            RESPField(.text("server"), .text("redis")),
            RESPField(.text("version"), .text(ServerInfo.redisVersion)),
            RESPField(.text("proto"), .integer(Int64(c.session.protocolVersion.rawValue))),
            RESPField(.text("id"), .integer(Int64(c.session.id))),
            RESPField(.text("mode"), .text("standalone")),
            RESPField(.text("role"), .text("master")),
            RESPField(.text("modules"), .array([])),
        ]))
    }

    static func select(_ c: Invocation) -> CommandPlan {
        switch database(c.args[1], c.server) {
        case .success(let (namespace, label)):
            c.session.namespace = namespace
            c.session.databaseLabel = label
            return .reply(.ok)
        case .failure(let error):
            return .reply(error.reply)
        }
    }

    /// The namespace and CLIENT LIST label a database argument names: 0-15 (any number, or a
    /// namespace name, with `--ns-per-db`).
    static func database(_ arg: [UInt8], _ server: ServerState) -> Result<(String, String), ReplyError> {
        if let index = RedisNumber.integer(arg) {
            guard (0..<16).contains(index) || (server.namespacePerDatabase && index >= 0) else {
                return .failure(ReplyError(.err("DB index is out of range")))
            }
            return .success((ServerState.namespace(forDatabase: Int(index)), "\(index)"))
        }
        guard server.namespacePerDatabase else { return .failure(ReplyError(Reply.notInteger)) }
        guard let name = String(validating: arg, as: UTF8.self), !arg.isEmpty, arg.count <= Namespace.maxNameLength, arg.first != 0 else {
            return .failure(ReplyError(.err("invalid namespace name: a name is 1 to \(Namespace.maxNameLength) bytes of UTF-8 and does not start with a NUL byte")))
        }
        return .success((name, name))
    }
}
