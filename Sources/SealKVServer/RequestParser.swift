import NIOCore

/// Bounds on what one client may send. A bulk string or a request over its limit is read past
/// without being kept, and its command is answered with an error; the connection stays usable.
/// Malformed framing is a protocol error: answered, then the connection is closed.
public struct RequestLimits: Sendable {
    /// Longest bulk string (one key or value), bytes (`sealkv serve --max-bulk`). Values a command
    /// builds (APPEND, SETRANGE) are held to it too.
    public var maxBulkLength = 16 << 20
    /// Most arguments in one command.
    public var maxArguments = 65_536
    /// Longest inline command line (and longest `*` or `$` header line), bytes.
    public var maxInlineLength = 64 << 10
    /// Most bytes of all arguments of one command together (`sealkv serve --max-request`); a MULTI
    /// transaction may queue this much as well.
    public var maxRequestBytes = 64 << 20

    /// The defaults: 16 MiB bulks, 65,536 arguments, 64 KiB inline lines, 64 MiB per command.
    public init() {}

    /// What a client that has not authenticated yet may send, as Redis allows: 10 arguments of at
    /// most 16 KiB.
    var unauthenticated: RequestLimits {
        var l = self
        l.maxArguments = min(maxArguments, 10)
        l.maxBulkLength = min(maxBulkLength, 16 << 10)
        l.maxRequestBytes = min(maxRequestBytes, 160 << 10)
        l.isUnauthenticated = true
        return l
    }
    fileprivate(set) var isUnauthenticated = false
}

/// Framing the parser cannot recover from; the message goes back to the client as
/// `-ERR Protocol error: …` before the connection is closed.
public struct RESPProtocolError: Error, Equatable {
    /// What was wrong, in Redis's words where Redis has them.
    public let message: String
}

/// Reads requests — RESP arrays of bulk strings, as clients send them, and inline commands (a line
/// of words, as `nc` and `telnet` users type) — out of a connection's input, incrementally: bytes
/// are consumed as they arrive, so a request that arrives slowly is never scanned twice, and a
/// bulk string over the limit is skipped rather than kept.
struct RequestParser {
    /// What the next call found.
    enum Step: Equatable {
        /// A complete command.
        case command([[UInt8]])
        /// A complete request that broke a limit: its bytes were discarded; answer with this error.
        case refused(String)
        /// The rest of a request has not arrived yet.
        case needMoreData
    }

    private enum State {
        /// Between requests.
        case start
        /// Expecting the `$` header of one of `remaining` arguments.
        case header(remaining: Int)
        /// Collecting an argument of `length` bytes (then its CR LF).
        case body(remaining: Int, length: Int)
        /// Discarding `left` bytes of a refused argument and its CR LF.
        case skip(remaining: Int, left: Int)
    }

    private var state = State.start
    private var args: [[UInt8]] = []
    private var current: [UInt8] = []
    /// Declared bytes of the arguments of the request so far.
    private var declared = 0
    /// Why the request being read will be refused, once one of its limits is broken.
    private var refusal: String?
    /// How far the line being waited for has been searched for its LF already.
    private var scanned = 0
    /// Bookkeeping cost counted for each argument beyond its bytes.
    static let argumentOverhead = 32

    /// Bytes of the request's completed arguments, with their bookkeeping.
    private var completedBytes = 0

    /// Bytes the parser holds for the request being received: its arguments so far, counting the
    /// memory reserved for the one arriving.
    var heldBytes: Int { completedBytes + current.capacity }

    /// Whether a request has begun and not ended.
    var inRequest: Bool { if case .start = state { false } else { true } }

    /// Consumes from `buffer` up to the end of the next request, or everything when it is incomplete.
    mutating func next(_ buffer: inout ByteBuffer, _ limits: RequestLimits) throws(RESPProtocolError) -> Step {
        while true {
            switch state {
            case .start:
                guard let first = buffer.readableBytesView.first else { return .needMoreData }
                if first == UInt8(ascii: "*") {
                    guard try startArray(&buffer, limits) else { return .needMoreData }
                } else {
                    guard let line = try line(&buffer, limits, tooLong: "too big inline request") else { return .needMoreData }
                    let words = try Self.splitInline(line)
                    if words.isEmpty { continue }
                    guard words.count <= limits.maxArguments else { throw RESPProtocolError(message: "too many arguments in inline request") }
                    return .command(words)
                }
            case .header(let remaining):
                guard let line = try line(&buffer, limits, tooLong: "too big bulk count string") else { return .needMoreData }
                try startBulk(line, remaining: remaining, limits)
            case .body(let remaining, let length):
                guard collect(&buffer, length: length) else { return .needMoreData }
                let terminator = buffer.readInteger(as: UInt16.self)
                guard terminator == 0x0D0A else { throw RESPProtocolError(message: "bulk string not terminated by CRLF") }
                completedBytes += current.count + Self.argumentOverhead
                args.append(current)
                current = []
                if let done = finishArgument(remaining: remaining) { return done }
            case .skip(let remaining, let left):
                let n = min(left, buffer.readableBytes)
                buffer.moveReaderIndex(forwardBy: n)
                guard n == left else {
                    state = .skip(remaining: remaining, left: left - n)
                    return .needMoreData
                }
                if let done = finishArgument(remaining: remaining) { return done }
            }
        }
    }

    /// Reads a `*N` header; false if its line is incomplete.
    private mutating func startArray(_ buffer: inout ByteBuffer, _ limits: RequestLimits) throws(RESPProtocolError) -> Bool {
        guard let line = try line(&buffer, limits, tooLong: "too big mbulk count string") else { return false }
        guard let count = RedisNumber.integer(line.dropFirst()), count <= limits.maxArguments else {
            if limits.isUnauthenticated, RedisNumber.integer(line.dropFirst()) != nil {
                throw RESPProtocolError(message: "unauthenticated multibulk length")
            }
            throw RESPProtocolError(message: "invalid multibulk length")
        }
        // `*0` and `*-1` are empty requests, ignored as Redis ignores them.
        if count > 0 {
            state = .header(remaining: Int(count))
            args.reserveCapacity(min(Int(count), 64))
        }
        return true
    }

    /// Handles a `$N` header: collect the argument, or skip it when it breaks a limit.
    private mutating func startBulk(_ line: ArraySlice<UInt8>, remaining: Int, _ limits: RequestLimits) throws(RESPProtocolError) {
        guard line.first == UInt8(ascii: "$") else {
            throw RESPProtocolError(message: "expected '$', got '\(String(decoding: line.prefix(1), as: UTF8.self))'")
        }
        guard let length = RedisNumber.integer(line.dropFirst()), length >= 0, length < 1 << 40 else {
            throw RESPProtocolError(message: "invalid bulk length")
        }
        if limits.isUnauthenticated, length > limits.maxBulkLength {
            throw RESPProtocolError(message: "unauthenticated bulk length")
        }
        let n = Int(length)
        declared += n
        if refusal == nil {
            if n > limits.maxBulkLength {
                refusal = "argument of \(n) bytes is longer than the server's bulk limit of \(limits.maxBulkLength) bytes (sealkv serve --max-bulk); the command was not run"
            } else if declared > limits.maxRequestBytes {
                refusal = "request of more than \(limits.maxRequestBytes) bytes is larger than the server's request limit (sealkv serve --max-request); the command was not run"
            }
            if refusal != nil { dropArguments() }
        }
        if refusal != nil {
            state = .skip(remaining: remaining, left: n + 2)
        } else {
            state = .body(remaining: remaining, length: n)
        }
    }

    /// Moves the argument's bytes into `current` as they arrive; true once all of them and the
    /// two bytes after them are there.
    private mutating func collect(_ buffer: inout ByteBuffer, length: Int) -> Bool {
        if current.isEmpty, buffer.readableBytes >= length + 2 {
            current = buffer.readBytes(length: length)!
            return true
        }
        let n = min(length - current.count, buffer.readableBytes)
        if n > 0 {
            buffer.readWithUnsafeReadableBytes { raw in
                current.append(contentsOf: raw.prefix(n))
                return n
            }
        }
        return current.count == length && buffer.readableBytes >= 2
    }

    /// Counts one argument done; the request's outcome when it was the last.
    private mutating func finishArgument(remaining: Int) -> Step? {
        guard remaining == 1 else {
            state = .header(remaining: remaining - 1)
            return nil
        }
        defer { reset() }
        if let refusal { return .refused(refusal) }
        return .command(args)
    }

    private mutating func dropArguments() {
        args = []
        current = []
        completedBytes = 0
    }

    private mutating func reset() {
        state = .start
        dropArguments()
        declared = 0
        refusal = nil
    }

    /// The next line without its CR LF, consumed; nil while its LF has not arrived.
    private mutating func line(_ buffer: inout ByteBuffer, _ limits: RequestLimits, tooLong: String) throws(RESPProtocolError) -> ArraySlice<UInt8>? {
        let view = buffer.readableBytesView
        let from = view.startIndex + min(scanned, view.count)
        guard let lf = view[from...].firstIndex(of: UInt8(ascii: "\n")) else {
            scanned = view.count
            if view.count > limits.maxInlineLength { throw RESPProtocolError(message: tooLong) }
            return nil
        }
        scanned = 0
        let length = lf - view.startIndex
        if length > limits.maxInlineLength { throw RESPProtocolError(message: tooLong) }
        var bytes = ArraySlice(buffer.readBytes(length: length + 1)!.dropLast())
        if bytes.last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }
        return bytes
    }

    /// Splits an inline command line into words as Redis does (`sdssplitargs`): blanks separate
    /// words, "double quotes" take `\n \r \t \b \a \xHH` and `\"` escapes, 'single quotes' take
    /// `\'`; a closing quote must end the word.
    static func splitInline(_ line: ArraySlice<UInt8>) throws(RESPProtocolError) -> [[UInt8]] {
        let text = line.prefix { $0 != 0 }   // the C original stops at a NUL byte
        var words: [[UInt8]] = []
        var i = text.startIndex
        func isBlank(_ b: UInt8) -> Bool { b == 0x20 || (0x09...0x0D).contains(b) }
        while true {
            while i < text.endIndex, isBlank(text[i]) { i += 1 }
            guard i < text.endIndex else { return words }
            var word: [UInt8] = []
            var quote: UInt8? = nil
            while true {
                let b: UInt8? = i < text.endIndex ? text[i] : nil
                let after: UInt8? = i + 1 < text.endIndex ? text[i + 1] : nil
                if let q = quote {
                    guard let b else { throw RESPProtocolError(message: "unbalanced quotes in request") }
                    if q == UInt8(ascii: "\""), b == UInt8(ascii: "\\"), after == UInt8(ascii: "x"),
                       i + 3 < text.endIndex, let hi = hexValue(text[i + 2]), let lo = hexValue(text[i + 3]) {
                        word.append(hi << 4 | lo); i += 4; continue
                    }
                    if q == UInt8(ascii: "\""), b == UInt8(ascii: "\\"), let e = after {
                        word.append(unescape(e)); i += 2; continue
                    }
                    if q == UInt8(ascii: "'"), b == UInt8(ascii: "\\"), after == UInt8(ascii: "'") {
                        word.append(UInt8(ascii: "'")); i += 2; continue
                    }
                    if b == q {
                        if let after, !isBlank(after) { throw RESPProtocolError(message: "unbalanced quotes in request") }
                        i += 1
                        break
                    }
                    word.append(b); i += 1
                } else {
                    guard let b, !isBlank(b) else { break }
                    if b == UInt8(ascii: "\"") || b == UInt8(ascii: "'") { quote = b } else { word.append(b) }
                    i += 1
                }
            }
            words.append(word)
        }
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func unescape(_ e: UInt8) -> UInt8 {
        switch e {
        case UInt8(ascii: "n"): 0x0A
        case UInt8(ascii: "r"): 0x0D
        case UInt8(ascii: "t"): 0x09
        case UInt8(ascii: "b"): 0x08
        case UInt8(ascii: "a"): 0x07
        default: e
        }
    }
}
