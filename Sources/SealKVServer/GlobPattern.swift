/// Redis's glob patterns for KEYS and SCAN MATCH: `*`, `?`, `[abc]`, `[^a-z]`, and `\` escapes,
/// matched byte by byte.
public struct GlobPattern: Sendable {
    let pattern: [UInt8]

    /// A pattern from its bytes.
    public init(_ pattern: [UInt8]) { self.pattern = pattern }

    /// True for `*`, which matches every key without looking at it.
    public var matchesEverything: Bool { pattern == [UInt8(ascii: "*")] }

    /// Whether `key` matches. Iterative with one backtrack point for `*`, so it runs in O(n·m).
    public func matches(_ key: [UInt8]) -> Bool {
        var p = 0, k = 0
        var starP = -1, starK = 0
        while k < key.count {
            if p < pattern.count {
                switch pattern[p] {
                case UInt8(ascii: "*"):
                    while p < pattern.count, pattern[p] == UInt8(ascii: "*") { p += 1 }
                    if p == pattern.count { return true }
                    starP = p
                    starK = k
                    continue
                case UInt8(ascii: "?"):
                    p += 1; k += 1
                    continue
                case UInt8(ascii: "["):
                    if let (matched, next) = matchClass(at: p, key[k]) {
                        if matched { p = next; k += 1; continue }
                    } else if pattern[p] == key[k] {   // an unterminated '[' matches itself
                        p += 1; k += 1
                        continue
                    }
                case UInt8(ascii: "\\") where p + 1 < pattern.count:
                    if pattern[p + 1] == key[k] { p += 2; k += 1; continue }
                default:
                    if pattern[p] == key[k] { p += 1; k += 1; continue }
                }
            }
            // Mismatch: let the last '*' swallow one more byte, or fail.
            guard starP >= 0 else { return false }
            starK += 1
            k = starK
            p = starP
        }
        while p < pattern.count, pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }

    /// Matches `byte` against the class starting at `pattern[start] == '['`; returns whether it
    /// matched and the index after the class, or nil for a class without its closing ']'.
    private func matchClass(at start: Int, _ byte: UInt8) -> (Bool, Int)? {
        var i = start + 1
        var negate = false
        if i < pattern.count, pattern[i] == UInt8(ascii: "^") { negate = true; i += 1 }
        var matched = false
        var first = true
        while i < pattern.count {
            var c = pattern[i]
            if c == UInt8(ascii: "]") && !first { return (matched != negate, i + 1) }
            first = false
            if c == UInt8(ascii: "\\"), i + 1 < pattern.count { i += 1; c = pattern[i] }
            if i + 2 < pattern.count, pattern[i + 1] == UInt8(ascii: "-"), pattern[i + 2] != UInt8(ascii: "]") {
                var hi = pattern[i + 2]
                var lo = c
                if lo > hi { swap(&lo, &hi) }
                if byte >= lo && byte <= hi { matched = true }
                i += 3
            } else {
                if byte == c { matched = true }
                i += 1
            }
        }
        return nil
    }
}
