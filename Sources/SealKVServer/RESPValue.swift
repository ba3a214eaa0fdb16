import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// The protocol version a client speaks: RESP2 until it sends `HELLO 3`.
public enum RESPVersion: Int, Sendable {
    /// RESP2: maps are flat arrays, every null is `$-1` or `*-1`.
    case resp2 = 2
    /// RESP3: maps, sets, doubles, booleans, verbatim strings and one null `_`.
    case resp3 = 3
}

/// One key and value of a ``RESPValue/map(_:)`` reply.
public struct RESPField: Equatable, Sendable {
    /// The field's name.
    public var key: RESPValue
    /// The field's value.
    public var value: RESPValue

    /// A field of a map reply.
    public init(_ key: RESPValue, _ value: RESPValue) {
        self.key = key
        self.value = value
    }
}

/// A reply in the shapes RESP3 distinguishes. A RESP2 client gets each in the form Redis 7 sends
/// it: a map as a flat array, a set as an array, a double and a verbatim string as bulk strings, a
/// boolean as 1 or 0.
public indirect enum RESPValue: Equatable, Sendable {
    /// `+OK`
    case simple(String)
    /// `-ERR message`: the text after the minus sign, including its error prefix.
    case error(String)
    /// `:42`
    case integer(Int64)
    /// `$3\r\nfoo`; nil is the null reply (`$-1` in RESP2, `_` in RESP3).
    case bulk([UInt8]?)
    /// `*2\r\n…`; nil is the null array (`*-1` in RESP2, `_` in RESP3).
    case array([RESPValue]?)
    /// `%2\r\n…` in RESP3.
    case map([RESPField])
    /// `~2\r\n…` in RESP3.
    case set([RESPValue])
    /// `,3.14\r\n` in RESP3.
    case double(Double)
    /// `#t\r\n` in RESP3.
    case boolean(Bool)
    /// `=15\r\ntxt:some text\r\n` in RESP3 (INFO, CLIENT LIST).
    case verbatim(String)

    /// `+OK`.
    public static let ok = RESPValue.simple("OK")
    /// The null reply.
    public static let null = RESPValue.bulk(nil)
    /// The null array (EXEC of a transaction whose watched keys changed).
    public static let nullArray = RESPValue.array(nil)

    /// A bulk string of UTF-8 text.
    public static func text(_ s: String) -> RESPValue { .bulk(Array(s.utf8)) }

    /// An error reply with the generic `ERR` prefix.
    public static func err(_ message: String) -> RESPValue { .error("ERR " + message) }

    /// Whether this is an error reply.
    public var isError: Bool { if case .error = self { true } else { false } }

    /// How many bytes ``write(to:version:)`` appends, computed without encoding.
    public func encodedSize(_ version: RESPVersion) -> Int {
        switch self {
        case .simple(let s), .error(let s): return 3 + s.utf8.count
        case .integer(let n): return 3 + Self.decimalLength(n)
        case .bulk(nil), .array(nil): return version == .resp3 ? 3 : 5
        case .bulk(let bytes?): return Self.bulkSize(bytes.count)
        case .array(let items?): return Self.aggregateHeader(items.count) + items.reduce(0) { $0 + $1.encodedSize(version) }
        case .set(let items): return Self.aggregateHeader(items.count) + items.reduce(0) { $0 + $1.encodedSize(version) }
        case .map(let fields):
            let header = Self.aggregateHeader(version == .resp3 ? fields.count : fields.count * 2)
            return header + fields.reduce(0) { $0 + $1.key.encodedSize(version) + $1.value.encodedSize(version) }
        case .double(let d):
            let n = Self.formatDouble(d).utf8.count
            return version == .resp3 ? 3 + n : Self.bulkSize(n)
        case .boolean: return 4
        case .verbatim(let s): return version == .resp3 ? Self.bulkSize(4 + s.utf8.count) : Self.bulkSize(s.utf8.count)
        }
    }

    /// Appends the wire form for a client speaking `version`.
    public func write(to buffer: inout ByteBuffer, version: RESPVersion = .resp2) {
        switch self {
        case .simple(let s):
            buffer.writeInteger(UInt8(ascii: "+"))
            Self.writeLine(s, to: &buffer)
        case .error(let s):
            buffer.writeInteger(UInt8(ascii: "-"))
            Self.writeLine(s, to: &buffer)
        case .integer(let n):
            buffer.writeString(":\(n)\r\n")
        case .bulk(nil):
            buffer.writeStaticString(version == .resp3 ? "_\r\n" : "$-1\r\n")
        case .array(nil):
            buffer.writeStaticString(version == .resp3 ? "_\r\n" : "*-1\r\n")
        case .bulk(let bytes?):
            Self.writeBulk(bytes, to: &buffer)
        case .array(let items?):
            buffer.writeString("*\(items.count)\r\n")
            for item in items { item.write(to: &buffer, version: version) }
        case .set(let items):
            buffer.writeString("\(version == .resp3 ? "~" : "*")\(items.count)\r\n")
            for item in items { item.write(to: &buffer, version: version) }
        case .map(let fields):
            buffer.writeString(version == .resp3 ? "%\(fields.count)\r\n" : "*\(fields.count * 2)\r\n")
            for field in fields {
                field.key.write(to: &buffer, version: version)
                field.value.write(to: &buffer, version: version)
            }
        case .double(let d):
            let text = Self.formatDouble(d)
            if version == .resp3 { buffer.writeString(",\(text)\r\n") } else { Self.writeBulk(Array(text.utf8), to: &buffer) }
        case .boolean(let b):
            buffer.writeStaticString(version == .resp3 ? (b ? "#t\r\n" : "#f\r\n") : (b ? ":1\r\n" : ":0\r\n"))
        case .verbatim(let s):
            if version == .resp3 {
                buffer.writeString("=\(4 + s.utf8.count)\r\ntxt:")
                buffer.writeString(s)
                buffer.writeStaticString("\r\n")
            } else {
                Self.writeBulk(Array(s.utf8), to: &buffer)
            }
        }
    }

    private static func writeBulk(_ bytes: [UInt8], to buffer: inout ByteBuffer) {
        buffer.writeString("$\(bytes.count)\r\n")
        buffer.writeBytes(bytes)
        buffer.writeStaticString("\r\n")
    }

    /// A double as Redis 7.0 writes one: `%.17g`, and `inf`, `-inf`, `nan` spelled out.
    static func formatDouble(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d > 0 ? "inf" : "-inf" }
        var out = [CChar](repeating: 0, count: 64)
        let n = withVaList([d]) { vsnprintf(&out, out.count, "%.17g", $0) }
        return String(decoding: out.prefix(Int(n)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func bulkSize(_ n: Int) -> Int { 1 + decimalLength(Int64(n)) + 2 + n + 2 }
    private static func aggregateHeader(_ n: Int) -> Int { 1 + decimalLength(Int64(n)) + 2 }

    private static func decimalLength(_ n: Int64) -> Int {
        if n == .min { return 20 }
        var v = n < 0 ? -n : n
        var digits = 1
        while v >= 10 { v /= 10; digits += 1 }
        return digits + (n < 0 ? 1 : 0)
    }

    /// Writes `s` and CR LF; a simple string or error cannot hold a line break, so each CR or LF
    /// byte becomes a space (the length stays what ``encodedSize(_:)`` said).
    private static func writeLine(_ s: String, to buffer: inout ByteBuffer) {
        if s.utf8.contains(where: { $0 == 13 || $0 == 10 }) {
            buffer.writeBytes(s.utf8.map { $0 == 13 || $0 == 10 ? 32 : $0 })
        } else {
            buffer.writeString(s)
        }
        buffer.writeStaticString("\r\n")
    }
}
