import Foundation

/// Numbers given on the command line (and in `SEALKV_MIN_TXN`), checked against their range with a
/// one-line message in the tool's words that names the option, repeats the value given and says
/// what is accepted. Options that take numbers are parsed `.unconditional`ly as text, so
/// `--limit -1` reaches this check instead of being taken for a flag ("Missing value"), and so no
/// option gets the argument parser's "The value 'abc' is invalid", which says neither.
enum NumericArgument {
    /// A whole number in `range`, written in decimal digits (an optional sign, no spaces, no
    /// exponent). `unit` says what it counts ("seconds"); `note` what a special value means
    /// ("0: never").
    static func integer<T: FixedWidthInteger>(_ text: String, _ name: String, in range: ClosedRange<T>,
                                               unit: String? = nil, note: String? = nil) throws -> T {
        let counted = unit.map { " of \($0)" } ?? ""
        let span = "from \(range.lowerBound) to \(range.upperBound)\(note.map { " (\($0))" } ?? "")"
        guard let value = T(text, radix: 10) else {
            if isSignedDigits(text) {
                throw ToolFailure("\(name): \(text) is out of range; give a whole number\(counted) \(span).", exitCode: 2)
            }
            throw ToolFailure("\(name): '\(text)' is not a whole number\(counted); give one \(span).", exitCode: 2)
        }
        guard range.contains(value) else {
            throw ToolFailure("\(name): \(text) is out of range; give a whole number\(counted) \(span).", exitCode: 2)
        }
        return value
    }

    /// A duration in seconds (digits with at most one point, fractions down to a millisecond) as
    /// milliseconds, in `range` (also in milliseconds).
    static func milliseconds(_ text: String, _ name: String, in range: ClosedRange<Int64>, note: String? = nil) throws -> Int64 {
        let accepted = "give a number of seconds from \(secondsText(range.lowerBound)) to \(secondsText(range.upperBound))"
            + "\(note.map { " (\($0))" } ?? ""), like 30 or 2.5"
        switch DecimalSeconds(text, limit: range.upperBound) {
        case .notANumber:
            throw ToolFailure("\(name): '\(text)' is not a number of seconds (only digits and one point); \(accepted).", exitCode: 2)
        case .finerThanAMillisecond:
            throw ToolFailure("\(name): '\(text)' has more than three digits after the point, and durations count whole milliseconds; \(accepted).", exitCode: 2)
        case .tooLarge:
            throw ToolFailure("\(name): \(text) is out of range; \(accepted).", exitCode: 2)
        case .milliseconds(let value):
            guard range.contains(value) else { throw ToolFailure("\(name): \(text) is out of range; \(accepted).", exitCode: 2) }
            return value
        }
    }

    /// The largest time to live in milliseconds the store accepts (2^50 ms, about 35,000 years).
    static let maxTTLMilliseconds: Int64 = 1 << 50

    /// A time to live in seconds (a decimal number, fractions down to a millisecond) as milliseconds.
    static func ttlMilliseconds(_ text: String, _ name: String) throws -> Int64 {
        try milliseconds(text, name, in: 1...(maxTTLMilliseconds - 1), note: "about 35,000 years")
    }

    /// A byte count: digits with an optional k, m or g (KiB, MiB, GiB; a trailing b is allowed),
    /// from 1 byte to `limit`.
    static func bytes(_ text: String, _ name: String, limit: Int = 1 << 40) throws -> Int {
        let accepted = "give a positive whole number of bytes, with k, m or g for KiB, MiB or GiB (like 16m or 1048576), up to \(formatBytes(UInt64(limit)))"
        var digits = text.lowercased()
        if digits.hasSuffix("b") { digits.removeLast() }
        var unit = 1
        if let last = digits.last, let shift = ["k": 10, "m": 20, "g": 30][String(last)] {
            unit = 1 << shift
            digits.removeLast()
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCIIDigit) else {
            throw ToolFailure("\(name): '\(text)' is not a size; \(accepted).", exitCode: 2)
        }
        guard let n = Int(digits), n > 0, n <= limit / unit else {
            throw ToolFailure("\(name): \(text) is out of range; \(accepted).", exitCode: 2)
        }
        return n * unit
    }

    /// "30", "2.5", "0.01": milliseconds as the shortest decimal seconds.
    static func secondsText(_ milliseconds: Int64) -> String {
        let whole = milliseconds / 1000, fraction = milliseconds % 1000
        guard fraction != 0 else { return "\(whole)" }
        var digits = String(fraction).leftPadded(3)
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(whole).\(digits)"
    }

    /// Whether `text` is decimal digits with an optional sign: a number, if perhaps too large.
    private static func isSignedDigits(_ text: String) -> Bool {
        let digits = text.first == "-" || text.first == "+" ? text.dropFirst() : Substring(text)
        return !digits.isEmpty && digits.allSatisfy(\.isASCIIDigit)
    }
}

/// Seconds written the plain way, digits with at most one point ("30", "2.5", ".25"): no sign, no
/// exponent, no "inf" or "nan", no hexadecimal (which `Double(_:)` would all accept).
enum DecimalSeconds: Equatable {
    case milliseconds(Int64)
    case notANumber
    /// Non-zero digits past the third after the point.
    case finerThanAMillisecond
    /// More than `limit` milliseconds.
    case tooLarge

    init(_ text: String, limit: Int64) {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard !text.isEmpty, parts.allSatisfy({ $0.allSatisfy(\.isASCIIDigit) }), parts.contains(where: { !$0.isEmpty }) else {
            self = .notANumber
            return
        }
        let fraction = parts.count > 1 ? parts[1] : ""
        guard fraction.dropFirst(3).allSatisfy({ $0 == "0" }) else {
            self = .finerThanAMillisecond
            return
        }
        let whole = parts[0].drop { $0 == "0" }
        guard whole.count <= 15, let seconds = Int64(whole.isEmpty ? "0" : String(whole)), seconds <= limit / 1000 else {
            self = .tooLarge
            return
        }
        let total = seconds * 1000 + Int64(String((fraction + "000").prefix(3)))!
        self = total <= limit ? .milliseconds(total) : .tooLarge
    }
}

extension Character {
    /// Whether this is one of the ASCII digits 0-9.
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
