/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (with NX, XX, GT, LT), TTL, PTTL, EXPIRETIME,
/// PEXPIRETIME and PERSIST. Times are Unix milliseconds, as SealKV stores them.
enum ExpiryCommands {
    /// EXPIRE's conditions.
    private struct Conditions: OptionSet {
        let rawValue: Int
        static let nx = Conditions(rawValue: 1), xx = Conditions(rawValue: 2), gt = Conditions(rawValue: 4), lt = Conditions(rawValue: 8)

        /// Whether a key whose expiry is `current` (nil: none) may get `when`.
        func allow(current: UInt64?, when: Int64) -> Bool {
            if contains(.nx) && current != nil { return false }
            if contains(.xx) && current == nil { return false }
            // No expiry counts as infinitely far: GT never passes it, LT always does.
            if contains(.gt) { guard let current, when > Int64(clamping: current) else { return false } }
            if contains(.lt), let current, when >= Int64(clamping: current) { return false }
            return true
        }
    }

    private static func conditions(_ c: Invocation) -> Result<Conditions, ReplyError> {
        var flags: Conditions = []
        for i in 3..<c.args.count {
            switch c.option(i) {
            case "NX": flags.insert(.nx)
            case "XX": flags.insert(.xx)
            case "GT": flags.insert(.gt)
            case "LT": flags.insert(.lt)
            default: return .failure(ReplyError(.err("Unsupported option \(c.text(i))")))
            }
        }
        if flags.contains(.nx) && !flags.isDisjoint(with: [.xx, .gt, .lt]) {
            return .failure(ReplyError(.err("NX and XX, GT or LT options at the same time are not compatible")))
        }
        if flags.contains([.gt, .lt]) { return .failure(ReplyError(.err("GT and LT options at the same time are not compatible"))) }
        return .success(flags)
    }

    /// EXPIRE and PEXPIRE (relative), EXPIREAT and PEXPIREAT (absolute).
    static func expire(_ c: Invocation) -> CommandPlan {
        let name = c.command.name
        let seconds = !name.hasPrefix("p"), absolute = name.hasSuffix("at")
        let parsed = conditions(c)
        guard case .success(let flags) = parsed else { return .reply(parsed.replyError!) }
        guard var when = c.integer(2) else { return .reply(Reply.notInteger) }
        if seconds {
            guard when <= Int64.max / 1000, when >= Int64.min / 1000 else { return .reply(Reply.invalidExpire(name)) }
            when *= 1000
        }
        let (key, ns, server) = (c.args[1], c.namespace, c.server)
        return .write { [when] tx in
            let space = try server.keyspace(tx, ns)
            var at = when
            if !absolute {
                let (sum, overflow) = when.addingReportingOverflow(Int64(clamping: space.now))
                guard !overflow else { return Reply.invalidExpire(name) }
                at = sum
            }
            guard try space.contains(key) else { return .integer(0) }
            if !flags.isEmpty, !flags.allow(current: try space.expiration(key), when: at) { return .integer(0) }
            if at <= Int64(clamping: space.now) {
                _ = try space.delete(key)
                return .integer(1)
            }
            guard space.canStore(expiresAt: UInt64(at)) else { return Reply.invalidExpire(name) }
            return .integer(try space.setExpiration(key, UInt64(at)) ? 1 : 0)
        }
    }

    /// TTL (seconds, rounded) and PTTL: -2 for a missing key, -1 for one without expiry.
    static func ttl(_ c: Invocation) -> CommandPlan {
        let millis = c.command.name == "pttl"
        let (key, ns, server) = (c.args[1], c.namespace, c.server)
        return .read { tx in
            let space = try server.keyspace(tx, ns)
            guard try space.contains(key) else { return .integer(-2) }
            guard let at = try space.expiration(key) else { return .integer(-1) }
            let ms = Int64(at) - Int64(space.now)
            return .integer(millis ? ms : (ms + 500) / 1000)
        }
    }

    /// EXPIRETIME (seconds) and PEXPIRETIME: the absolute Unix time, -2 or -1 as TTL.
    static func expireTime(_ c: Invocation) -> CommandPlan {
        let millis = c.command.name == "pexpiretime"
        let (key, ns, server) = (c.args[1], c.namespace, c.server)
        return .read { tx in
            let space = try server.keyspace(tx, ns)
            guard try space.contains(key) else { return .integer(-2) }
            guard let at = try space.expiration(key) else { return .integer(-1) }
            return .integer(millis ? Int64(at) : Int64(at / 1000))
        }
    }

    static func persist(_ c: Invocation) -> CommandPlan {
        let (key, ns, server) = (c.args[1], c.namespace, c.server)
        return .write { tx in
            let space = try server.keyspace(tx, ns)
            guard try space.expiration(key) != nil else { return .integer(0) }
            return .integer(try space.setExpiration(key, nil) ? 1 : 0)
        }
    }
}
