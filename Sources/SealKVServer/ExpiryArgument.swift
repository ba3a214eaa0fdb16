/// An expiry given to SET, SETEX, PSETEX or GETEX (`EX`, `PX`, `EXAT`, `PXAT`), checked as Redis
/// checks it: an integer, positive, and not overflowing once made milliseconds and absolute.
struct ExpiryArgument: Sendable {
    /// Milliseconds: a time to live, or a Unix time when `absolute`.
    let milliseconds: Int64
    let absolute: Bool

    /// The option's unit and kind.
    enum Kind: String, Sendable {
        case ex = "EX", px = "PX", exat = "EXAT", pxat = "PXAT"
        var seconds: Bool { self == .ex || self == .exat }
        var absolute: Bool { self == .exat || self == .pxat }
    }

    /// Parses `text` for option `kind` of command `name`; the error reply Redis gives otherwise.
    static func parse(_ text: [UInt8], _ kind: Kind, command name: String) -> Result<ExpiryArgument, ReplyError> {
        guard let n = RedisNumber.integer(text) else { return .failure(ReplyError(Reply.notInteger)) }
        guard n > 0, !(kind.seconds && n > Int64.max / 1000) else { return .failure(ReplyError(Reply.invalidExpire(name))) }
        return .success(ExpiryArgument(milliseconds: kind.seconds ? n * 1000 : n, absolute: kind.absolute))
    }

    /// The Unix time in milliseconds it names at `now`; nil if that overflows or is too far for
    /// SealKV to store (2^50 ms, about 35,000 years, ahead).
    func expiresAt(now: UInt64) -> UInt64? {
        let at: Int64
        if absolute {
            at = milliseconds
        } else {
            let (sum, overflow) = milliseconds.addingReportingOverflow(Int64(clamping: now))
            guard !overflow else { return nil }
            at = sum
        }
        guard at > 0 else { return nil }
        let t = UInt64(at)
        return t <= now || t - now < UInt64(1) << 50 ? t : nil
    }
}

/// An error reply as a Swift error, for parsing helpers that return `Result`.
struct ReplyError: Error {
    let reply: RESPValue
    init(_ reply: RESPValue) { self.reply = reply }
}
