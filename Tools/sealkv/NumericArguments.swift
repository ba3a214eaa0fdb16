import Foundation

/// Numbers given on the command line, checked against their range with a one-line message in the
/// tool's words. Options that take numbers are parsed `.unconditional`ly as text, so `--limit -1`
/// reaches this check instead of being taken for a flag ("Missing value").
enum NumericArgument {
    /// A whole number in `range`, written in decimal digits (an optional sign, no spaces).
    static func integer<T: FixedWidthInteger>(_ text: String, _ name: String, in range: ClosedRange<T>) throws -> T {
        guard let value = T(text, radix: 10), range.contains(value) else {
            throw ToolFailure("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(text)'.", exitCode: 2)
        }
        return value
    }

    /// The largest time to live in milliseconds the store accepts (2^50 ms, about 35,000 years).
    static let maxTTLMilliseconds: Int64 = 1 << 50

    /// A time to live in seconds (a decimal number, fractions down to a millisecond) as milliseconds.
    static func ttlMilliseconds(_ text: String, _ name: String) throws -> Int64 {
        let maxSeconds = maxTTLMilliseconds / 1000
        let problem = "\(name) must be a number of seconds from 0.001 to \(maxSeconds) (about 35,000 years), not '\(text)'."
        // Digits, at most one point, nothing else: no "inf", "nan", exponents or signs.
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard !text.isEmpty, parts.allSatisfy({ $0.allSatisfy(\.isASCIIDigit) }), parts.contains(where: { !$0.isEmpty }) else {
            throw ToolFailure(problem, exitCode: 2)
        }
        let whole = parts[0].drop { $0 == "0" }
        guard whole.count <= 13, let seconds = Int64(whole.isEmpty ? "0" : String(whole)), seconds <= maxSeconds else {
            throw ToolFailure(problem, exitCode: 2)
        }
        let fraction = parts.count > 1 ? parts[1] : ""
        guard fraction.dropFirst(3).allSatisfy({ $0 == "0" }) else {
            throw ToolFailure("\(name) has a resolution of one millisecond; '\(text)' has more digits after the point.", exitCode: 2)
        }
        let millis = Int64(String((fraction + "000").prefix(3)))!
        let total = seconds * 1000 + millis
        guard total > 0, total < maxTTLMilliseconds else { throw ToolFailure(problem, exitCode: 2) }
        return total
    }
}

extension Character {
    /// Whether this is one of the ASCII digits 0-9.
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
