import NIOCore

/// Bounds on what one client may send; anything beyond them is a protocol error, answered and
/// followed by closing the connection, so no request can make the server allocate without limit.
public struct RequestLimits: Sendable {
    /// Longest bulk string (a key or value), bytes.
    public var maxBulkLength = 16 << 20
    /// Most arguments in one command.
    public var maxArguments = 65_536
    /// Longest inline command line (and longest `*`/`$` header line), bytes.
    public var maxInlineLength = 64 << 10
    /// Most bytes of all arguments of one command together.
    public var maxRequestBytes = 64 << 20

    /// The defaults: 16 MiB bulks, 65,536 arguments, 64 KiB inline lines, 64 MiB per command.
    public init() {}
}

/// A request the decoder refused; the message goes back to the client as `-ERR Protocol error: …`.
public struct RESPProtocolError: Error, Equatable {
    public let message: String
}

/// Decodes RESP2 requests — arrays of bulk strings, as clients send — and inline commands (a line of
/// words, as `nc` and `telnet` users type), into argument lists.
public struct RESPRequestDecoder: ByteToMessageDecoder {
    public typealias InboundOut = [[UInt8]]
    let limits: RequestLimits

    public init(limits: RequestLimits) { self.limits = limits }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return .needMoreData }
        var cursor = buffer.readerIndex
        let parsed: [[UInt8]]?
        if first == UInt8(ascii: "*") {
            parsed = try parseMultibulk(buffer, &cursor)
        } else {
            parsed = try parseInline(buffer, &cursor)
        }
        guard let parsed else { return .needMoreData }
        buffer.moveReaderIndex(to: cursor)
        if !parsed.isEmpty { context.fireChannelRead(wrapInboundOut(parsed)) }
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // Half a frame and then the end of the stream: nothing to answer, the connection is closing.
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }

    /// The line starting at `cursor` without its CR LF, advancing past it; nil if incomplete.
    private func line(_ buffer: ByteBuffer, _ cursor: inout Int) throws -> ArraySlice<UInt8>? {
        let end = buffer.writerIndex
        let view = buffer.viewBytes(at: cursor, length: end - cursor) ?? ByteBufferView()
        guard let lf = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if end - cursor > limits.maxInlineLength { throw RESPProtocolError(message: "line longer than \(limits.maxInlineLength) bytes") }
            return nil
        }
        if lf - cursor > limits.maxInlineLength { throw RESPProtocolError(message: "line longer than \(limits.maxInlineLength) bytes") }
        var bytes = ArraySlice(view[cursor..<lf])
        if bytes.last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }
        cursor = lf + 1
        return bytes
    }

    private func number(_ bytes: ArraySlice<UInt8>, what: String) throws -> Int {
        guard bytes.count <= 19, let n = Int(String(decoding: bytes, as: UTF8.self)) else {
            throw RESPProtocolError(message: "invalid \(what)")
        }
        return n
    }

    private func parseMultibulk(_ buffer: ByteBuffer, _ cursor: inout Int) throws -> [[UInt8]]? {
        guard let header = try line(buffer, &cursor) else { return nil }
        let count = try number(header.dropFirst(), what: "multibulk length")
        guard count <= limits.maxArguments else { throw RESPProtocolError(message: "more than \(limits.maxArguments) arguments") }
        guard count > 0 else { return [] }
        var args: [[UInt8]] = []
        args.reserveCapacity(min(count, 1024))
        var total = 0
        for _ in 0..<count {
            guard let bulkHeader = try line(buffer, &cursor) else { return nil }
            guard bulkHeader.first == UInt8(ascii: "$") else {
                throw RESPProtocolError(message: "expected '$', got '\(String(decoding: bulkHeader.prefix(1), as: UTF8.self))'")
            }
            let length = try number(bulkHeader.dropFirst(), what: "bulk length")
            guard length >= 0, length <= limits.maxBulkLength else { throw RESPProtocolError(message: "invalid bulk length") }
            total += length
            guard total <= limits.maxRequestBytes else { throw RESPProtocolError(message: "request larger than \(limits.maxRequestBytes) bytes") }
            guard buffer.writerIndex - cursor >= length + 2 else { return nil }
            let bytes = buffer.getBytes(at: cursor, length: length)!
            guard buffer.getInteger(at: cursor + length, as: UInt8.self) == UInt8(ascii: "\r"),
                  buffer.getInteger(at: cursor + length + 1, as: UInt8.self) == UInt8(ascii: "\n") else {
                throw RESPProtocolError(message: "bulk string not terminated by CRLF")
            }
            cursor += length + 2
            args.append(bytes)
        }
        return args
    }

    /// Words separated by spaces; "double quotes" (with \" \\ \n \r \t \xHH escapes) and 'single
    /// quotes' group words, as in redis-cli.
    private func parseInline(_ buffer: ByteBuffer, _ cursor: inout Int) throws -> [[UInt8]]? {
        guard let text = try line(buffer, &cursor) else { return nil }
        var args: [[UInt8]] = []
        var i = text.startIndex
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }
        while i < text.endIndex {
            while i < text.endIndex, isSpace(text[i]) { i += 1 }
            guard i < text.endIndex else { break }
            var word: [UInt8] = []
            if text[i] == UInt8(ascii: "\"") || text[i] == UInt8(ascii: "'") {
                let quote = text[i]
                i += 1
                var closed = false
                while i < text.endIndex {
                    let b = text[i]
                    if b == quote { closed = true; i += 1; break }
                    if quote == UInt8(ascii: "\""), b == UInt8(ascii: "\\"), i + 1 < text.endIndex {
                        let e = text[i + 1]
                        switch e {
                        case UInt8(ascii: "n"): word.append(0x0A); i += 2
                        case UInt8(ascii: "r"): word.append(0x0D); i += 2
                        case UInt8(ascii: "t"): word.append(0x09); i += 2
                        case UInt8(ascii: "x") where i + 3 < text.endIndex:
                            guard let v = UInt8(String(decoding: text[(i + 2)...(i + 3)], as: UTF8.self), radix: 16) else {
                                throw RESPProtocolError(message: "invalid \\x escape in inline command")
                            }
                            word.append(v); i += 4
                        default: word.append(e); i += 2
                        }
                        continue
                    }
                    word.append(b)
                    i += 1
                }
                guard closed, i == text.endIndex || isSpace(text[i]) else { throw RESPProtocolError(message: "unbalanced quotes in request") }
            } else {
                while i < text.endIndex, !isSpace(text[i]) { word.append(text[i]); i += 1 }
            }
            args.append(word)
            guard args.count <= limits.maxArguments else { throw RESPProtocolError(message: "more than \(limits.maxArguments) arguments") }
        }
        return args
    }
}
