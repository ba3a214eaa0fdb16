#if canImport(Glibc)
import Glibc
#endif

/// One entry of the export format, as `load` reads it.
struct LoadEntry {
    var namespace: String
    var key: [UInt8]
    var value: [UInt8]
    /// The expiry time as stored: milliseconds since 1970.
    var expires: UInt64?
    /// Bytes of key and value (what a batch holds in memory).
    var size: Int { key.count + value.count }
}

/// Why a line is not an entry: a phrase that follows "line N".
struct LineProblem: Error {
    let phrase: String
    init(_ phrase: String) { self.phrase = phrase }
}

/// A strict JSON parser for one line of the export format, reading bytes (no `String` or
/// Foundation object per line):
/// `{"ns": "name", "key" | "key_b64": "…", "value" | "value_b64": "…", "expires": 1700000000000}`.
/// "ns" and "expires" may be absent ("expires" may be null); other fields are skipped. `expires`
/// must be a whole number of milliseconds since 1970 (no fraction, exponent or sign), at most
/// `latestExpiry`.
struct EntryLineParser {
    private let p: UnsafeRawBufferPointer
    private var i = 0
    private let latestExpiry: UInt64

    /// The entry on `line`, or nil for a blank line.
    static func parse(_ line: UnsafeRawBufferPointer, latestExpiry: UInt64) throws(LineProblem) -> LoadEntry? {
        var parser = EntryLineParser(p: line, latestExpiry: latestExpiry)
        return try parser.entry()
    }

    private init(p: UnsafeRawBufferPointer, latestExpiry: UInt64) {
        self.p = p
        self.latestExpiry = latestExpiry
    }

    private var peek: UInt8? { i < p.count ? p[i] : nil }

    private mutating func skipWhitespace() {
        while let c = peek, c == 0x20 || c == 0x09 || c == 0x0D || c == 0x0A { i += 1 }
    }

    private func malformed(_ what: String = "") -> LineProblem {
        LineProblem("is not valid JSON at column \(i + 1)\(what.isEmpty ? "" : " (\(what))")")
    }

    private mutating func entry() throws(LineProblem) -> LoadEntry? {
        skipWhitespace()
        guard peek != nil else { return nil }
        guard peek == 0x7B else { throw LineProblem("is not a JSON object") }
        i += 1
        var fields: [String: [UInt8]] = [:]
        var expires: UInt64? = nil
        var sawExpires = false
        skipWhitespace()
        if peek == 0x7D {
            i += 1
        } else {
            while true {
                skipWhitespace()
                guard peek == 0x22 else { throw malformed("expected a field name") }
                let name = String(decoding: try string(), as: UTF8.self)
                skipWhitespace()
                guard peek == 0x3A else { throw malformed("expected ':'") }
                i += 1
                skipWhitespace()
                switch name {
                case "ns", "key", "key_b64", "value", "value_b64":
                    guard fields[name] == nil else { throw LineProblem("has \"\(name)\" twice") }
                    guard peek == 0x22 else { throw LineProblem("has a field \"\(name)\" that is not a string") }
                    fields[name] = try string()
                case "expires":
                    guard !sawExpires else { throw LineProblem("has \"expires\" twice") }
                    sawExpires = true
                    expires = try expiry()
                default:
                    try skipValue(depth: 0)
                }
                skipWhitespace()
                if peek == 0x2C { i += 1; continue }
                if peek == 0x7D { i += 1; break }
                throw malformed("expected ',' or '}'")
            }
        }
        skipWhitespace()
        guard peek == nil else { throw malformed("more follows the object") }
        return LoadEntry(namespace: String(decoding: fields["ns"] ?? [], as: UTF8.self),
                         key: try bytes("key", fields, required: "has no non-empty \"key\" (or \"key_b64\")"),
                         value: try bytes("value", fields, required: "has no \"value\" (or \"value_b64\")"),
                         expires: expires)
    }

    /// `name` or `name_b64` (decoded), exactly one of them.
    private func bytes(_ name: String, _ fields: [String: [UInt8]], required: String) throws(LineProblem) -> [UInt8] {
        switch (fields[name], fields[name + "_b64"]) {
        case (let text?, nil):
            if name == "key" && text.isEmpty { throw LineProblem(required) }
            return text
        case (nil, let encoded?):
            guard let decoded = Base64.decode(encoded) else { throw LineProblem("has a \"\(name)_b64\" that is not valid base64") }
            if name == "key" && decoded.isEmpty { throw LineProblem(required) }
            return decoded
        case (nil, nil): throw LineProblem(required)
        case (_?, _?): throw LineProblem("has both \"\(name)\" and \"\(name)_b64\"")
        }
    }

    /// The "expires" value: null, or a whole number of milliseconds up to `latestExpiry`.
    private mutating func expiry() throws(LineProblem) -> UInt64? {
        if literal("null") { return nil }
        guard let c = peek, c == 0x2D || (0x30...0x39).contains(c) else {
            throw LineProblem("has an \"expires\" that is not a number; it must be a time in milliseconds since 1970")
        }
        let start = i
        try number()
        let token = UnsafeRawBufferPointer(rebasing: p[start..<i])
        let text = String(decoding: token, as: UTF8.self)
        guard token.allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw LineProblem("has an \"expires\" of \(text), which is not a whole number of milliseconds since 1970")
        }
        guard let value = UInt64(text), value <= latestExpiry else {
            throw LineProblem("has an \"expires\" of \(text), more than 35,000 years from now; the store cannot hold it")
        }
        return value
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard i + n <= p.count, memcmp(p.baseAddress! + i, word.utf8Start, n) == 0 else { return false }
        i += n
        return true
    }

    /// A JSON number (validated, not converted).
    private mutating func number() throws(LineProblem) {
        func digits() -> Int {
            let s = i
            while let c = peek, (0x30...0x39).contains(c) { i += 1 }
            return i - s
        }
        if peek == 0x2D { i += 1 }
        if peek == 0x30 { i += 1 } else if digits() == 0 { throw malformed("bad number") }
        if peek == 0x2E {
            i += 1
            if digits() == 0 { throw malformed("bad number") }
        }
        if peek == 0x65 || peek == 0x45 {
            i += 1
            if peek == 0x2B || peek == 0x2D { i += 1 }
            if digits() == 0 { throw malformed("bad number") }
        }
    }

    /// A quoted string's bytes, escapes decoded; it must be UTF-8 (as all JSON text must).
    private mutating func string() throws(LineProblem) -> [UInt8] {
        i += 1
        var out: [UInt8] = []
        while true {
            let runStart = i
            while let c = peek, c != 0x22, c != 0x5C, c >= 0x20 { i += 1 }
            if i > runStart { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: p[runStart..<i])) }
            guard let c = peek else { throw malformed("unterminated string") }
            if c == 0x22 { i += 1; break }
            if c < 0x20 { throw malformed("a control character inside a string") }
            i += 1
            guard let e = peek else { throw malformed("unterminated string") }
            i += 1
            switch e {
            case 0x22, 0x5C, 0x2F: out.append(e)
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0C)
            case 0x6E: out.append(0x0A)
            case 0x72: out.append(0x0D)
            case 0x74: out.append(0x09)
            case 0x75: try unicodeEscape(into: &out)
            default: throw malformed("unknown escape")
            }
        }
        guard out.withUnsafeBytes({ EntryEncoding.isValidUTF8($0) }) else {
            throw LineProblem("has a string that is not valid UTF-8 (binary keys and values go in \"key_b64\" and \"value_b64\")")
        }
        return out
    }

    /// `\uXXXX` (the `\u` read), with a surrogate pair as one character, appended as UTF-8.
    private mutating func unicodeEscape(into out: inout [UInt8]) throws(LineProblem) {
        var scalar = try hex4()
        if (0xD800...0xDBFF).contains(scalar) {
            guard literal("\\u") else { throw LineProblem("has a lone UTF-16 surrogate in a string") }
            let low = try hex4()
            guard (0xDC00...0xDFFF).contains(low) else { throw LineProblem("has a lone UTF-16 surrogate in a string") }
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        } else if (0xDC00...0xDFFF).contains(scalar) {
            throw LineProblem("has a lone UTF-16 surrogate in a string")
        }
        out.append(contentsOf: String(Unicode.Scalar(scalar)!).utf8)
    }

    private mutating func hex4() throws(LineProblem) -> UInt32 {
        guard i + 4 <= p.count else { throw malformed("short \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = p[i]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw malformed("bad \\u escape")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    /// Skips any JSON value (for fields load does not use), nested at most 64 deep.
    private mutating func skipValue(depth: Int) throws(LineProblem) {
        guard depth < 64 else { throw malformed("nested too deeply") }
        guard let c = peek else { throw malformed("expected a value") }
        switch c {
        case 0x22: _ = try string()
        case 0x7B, 0x5B:
            let close: UInt8 = c == 0x7B ? 0x7D : 0x5D
            i += 1
            skipWhitespace()
            if peek == close { i += 1; return }
            while true {
                skipWhitespace()
                if c == 0x7B {
                    guard peek == 0x22 else { throw malformed("expected a field name") }
                    _ = try string()
                    skipWhitespace()
                    guard peek == 0x3A else { throw malformed("expected ':'") }
                    i += 1
                    skipWhitespace()
                }
                try skipValue(depth: depth + 1)
                skipWhitespace()
                if peek == 0x2C { i += 1; continue }
                if peek == close { i += 1; return }
                throw malformed("expected ',' or '\(Character(Unicode.Scalar(close)))'")
            }
        case 0x74: if !literal("true") { throw malformed() }
        case 0x66: if !literal("false") { throw malformed() }
        case 0x6E: if !literal("null") { throw malformed() }
        default: try number()
        }
    }
}

/// Standard base64 (RFC 4648, with padding), decoded strictly: no other characters, no spaces.
enum Base64 {
    private static let values: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() { table[Int(c)] = Int8(i) }
        return table
    }()

    /// The bytes `text` encodes, or nil if it is not base64.
    static func decode(_ text: [UInt8]) -> [UInt8]? {
        guard text.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(text.count / 4 * 3)
        var i = 0
        while i < text.count {
            let last = i + 4 == text.count
            let padding = last ? (text[i + 3] == 0x3D ? (text[i + 2] == 0x3D ? 2 : 1) : 0) : 0
            var v: UInt32 = 0
            for k in 0..<4 {
                if k >= 4 - padding { v <<= 6; continue }
                let d = values[Int(text[i + k])]
                guard d >= 0 else { return nil }
                v = v << 6 | UInt32(d)
            }
            out.append(UInt8(v >> 16))
            if padding < 2 { out.append(UInt8(v >> 8 & 0xFF)) }
            if padding < 1 { out.append(UInt8(v & 0xFF)) }
            i += 4
        }
        return out
    }
}
