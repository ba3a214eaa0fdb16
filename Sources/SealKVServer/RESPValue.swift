import NIOCore

/// A RESP2 reply.
public enum RESPValue: Equatable, Sendable {
    /// `+OK`
    case simple(String)
    /// `-ERR message`: the text after the minus sign, including its error prefix.
    case error(String)
    /// `:42`
    case integer(Int64)
    /// `$3\r\nfoo` (nil: the null bulk string `$-1`).
    case bulk([UInt8]?)
    /// `*2\r\n…` (nil: the null array `*-1`).
    case array([RESPValue]?)

    /// `+OK`.
    public static let ok = RESPValue.simple("OK")
    /// The null bulk string.
    public static let null = RESPValue.bulk(nil)

    /// A bulk string of UTF-8 text.
    public static func text(_ s: String) -> RESPValue { .bulk(Array(s.utf8)) }

    /// An error reply with the generic `ERR` prefix.
    public static func err(_ message: String) -> RESPValue { .error("ERR " + message) }

    /// Appends the wire form to `buffer`.
    public func write(to buffer: inout ByteBuffer) {
        switch self {
        case .simple(let s):
            buffer.writeInteger(UInt8(ascii: "+"))
            buffer.writeString(Self.oneLine(s))
            buffer.writeStaticString("\r\n")
        case .error(let s):
            buffer.writeInteger(UInt8(ascii: "-"))
            buffer.writeString(Self.oneLine(s))
            buffer.writeStaticString("\r\n")
        case .integer(let n):
            buffer.writeString(":\(n)\r\n")
        case .bulk(nil):
            buffer.writeStaticString("$-1\r\n")
        case .bulk(let bytes?):
            buffer.writeString("$\(bytes.count)\r\n")
            buffer.writeBytes(bytes)
            buffer.writeStaticString("\r\n")
        case .array(nil):
            buffer.writeStaticString("*-1\r\n")
        case .array(let items?):
            buffer.writeString("*\(items.count)\r\n")
            for item in items { item.write(to: &buffer) }
        }
    }

    /// Simple strings and errors cannot hold line breaks.
    private static func oneLine(_ s: String) -> String {
        s.contains(where: { $0 == "\r" || $0 == "\n" }) ? s.map { $0 == "\r" || $0 == "\n" ? " " : String($0) }.joined() : s
    }
}
