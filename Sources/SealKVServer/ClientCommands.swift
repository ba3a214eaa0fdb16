import NIOCore

/// CLIENT ID, GETNAME, SETNAME, SETINFO, LIST, INFO and HELP.
enum ClientCommands {
    /// Longest client name or library name and version kept (Redis has no bound; a name is shown
    /// by every CLIENT LIST, so it must not be a way to make the server hold megabytes per client).
    static let maxNameLength = 1024

    static func id(_ c: Invocation) -> CommandPlan { .reply(.integer(Int64(c.session.id))) }

    static func getName(_ c: Invocation) -> CommandPlan { .reply(c.session.name.isEmpty ? .null : .bulk(c.session.name)) }

    static func setNameCommand(_ c: Invocation) -> CommandPlan { .reply(setName(c.session, c.args[2]) ?? .ok) }

    /// Sets the client's name (empty clears it); the error reply for a name Redis refuses.
    static func setName(_ session: Session, _ name: [UInt8]) -> RESPValue? {
        guard isPrintable(name) else { return .err("Client names cannot contain spaces, newlines or special characters.") }
        guard name.count <= maxNameLength else { return .err("Client names are at most \(maxNameLength) bytes long in sealkv serve.") }
        session.name = name
        return nil
    }

    /// `CLIENT SETINFO LIB-NAME|LIB-VER value`, as redis-py and other libraries send on connecting.
    static func setInfo(_ c: Invocation) -> CommandPlan {
        let attribute = c.option(2)
        let value = c.args[3]
        guard attribute == "LIB-NAME" || attribute == "LIB-VER" else { return .reply(.err("Unrecognized option '\(c.text(2))'")) }
        guard isPrintable(value), value.count <= maxNameLength else {
            return .reply(.err("\(attribute) cannot contain spaces, newlines or special characters."))
        }
        if attribute == "LIB-NAME" { c.session.libraryName = value } else { c.session.libraryVersion = value }
        return .reply(.ok)
    }

    /// Bytes from `!` to `~`: what Redis allows in names.
    private static func isPrintable(_ bytes: [UInt8]) -> Bool { bytes.allSatisfy { (0x21...0x7E).contains($0) } }

    /// `CLIENT LIST [TYPE normal|master|replica|pubsub] [ID id ...]`.
    static func list(_ c: Invocation) -> CommandPlan {
        var ids: Set<UInt64>? = nil
        var normal = true
        var i = 2
        while i < c.args.count {
            switch c.option(i) {
            case "TYPE" where i + 1 < c.args.count:
                let type = c.text(i + 1).lowercased()
                guard ["normal", "master", "replica", "slave", "pubsub"].contains(type) else { return .reply(.err("Unknown client type '\(c.text(i + 1))'")) }
                normal = type == "normal"
                i += 2
            case "ID" where i + 1 < c.args.count:
                var wanted = Set<UInt64>()
                i += 1
                while i < c.args.count {
                    guard let n = c.integer(i), n > 0 else { return .reply(.err("Invalid client ID")) }
                    wanted.insert(UInt64(n))
                    i += 1
                }
                ids = wanted
            default: return .reply(Reply.syntax)
            }
        }
        c.session.publish()
        let records = normal ? c.server.clients.all().filter { ids?.contains($0.id) ?? true } : []
        return .reply(.verbatim(records.map(line).joined()))
    }

    static func info(_ c: Invocation) -> CommandPlan {
        c.session.publish()
        return .reply(.verbatim(line(c.session.record)))
    }

    static func help(_ c: Invocation) -> CommandPlan {
        .reply(.array([
            "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "ID", "    Return the ID of the current connection.",
            "GETNAME", "    Return the name of the current connection.",
            "SETNAME <name>", "    Assign the name <name> to the current connection.",
            "SETINFO <LIB-NAME|LIB-VER> <value>", "    Set client library name or version.",
            "LIST [TYPE normal|master|replica|pubsub] [ID <id> [<id> ...]]", "    Return information about client connections.",
            "INFO", "    Return information about the current client connection.",
            "HELP", "    Print this help.",
        ].map { .simple($0) }))
    }

    /// One CLIENT LIST line, with Redis's field names; figures SealKV has no counterpart for are 0.
    static func line(_ r: ClientRecord) -> String {
        let d = r.details.withLockedValue { $0 }
        let now = NIODeadline.now()
        let age = (now - r.connectedAt).nanoseconds / 1_000_000_000
        let idle = (now - d.lastInteraction).nanoseconds / 1_000_000_000
        var flags = d.queuedCommands >= 0 ? "x" : "N"
        if d.pausedForOutput { flags += "P" }
        let fields: [(String, String)] = [
            ("id", "\(r.id)"), ("addr", r.address), ("laddr", r.localAddress), ("fd", "-1"),
            ("name", String(decoding: d.name, as: UTF8.self)), ("age", "\(age)"), ("idle", "\(idle)"), ("flags", flags),
            ("db", d.database), ("sub", "0"), ("psub", "0"), ("ssub", "0"), ("multi", "\(d.queuedCommands)"),
            ("watch", "\(d.watchedKeys)"), ("qbuf", "\(d.inputBytes)"), ("qbuf-free", "0"), ("argv-mem", "0"),
            ("multi-mem", "0"), ("rbs", "0"), ("rbp", "0"), ("obl", "0"), ("oll", "0"), ("omem", "\(d.outputBytes)"),
            ("tot-mem", "\(d.inputBytes + d.outputBytes)"), ("events", d.pausedForOutput ? "w" : "r"), ("cmd", d.lastCommand),
            ("user", "default"), ("redir", "-1"), ("resp", "\(d.protocolVersion.rawValue)"),
            ("lib-name", String(decoding: d.libraryName, as: UTF8.self)), ("lib-ver", String(decoding: d.libraryVersion, as: UTF8.self)),
        ]
        return fields.map { "\($0.0)=\($0.1)" }.joined(separator: " ") + "\n"
    }
}
