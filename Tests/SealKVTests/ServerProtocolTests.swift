@testable import SealKVServer
import NIOCore
import Testing

/// The request parser and the reply encoder on their own.
@Suite("sealkv serve protocol")
struct ServerProtocolTests {
    /// Feeds `bytes` to a parser in pieces of `piece` bytes and collects every step but
    /// needMoreData.
    func parse(_ bytes: [UInt8], piece: Int, limits: RequestLimits = RequestLimits()) throws -> [RequestParser.Step] {
        var parser = RequestParser()
        var buffer = ByteBuffer()
        var steps: [RequestParser.Step] = []
        var offset = 0
        while offset < bytes.count {
            buffer.writeBytes(bytes[offset..<min(offset + piece, bytes.count)])
            offset += piece
            while true {
                let step = try parser.next(&buffer, limits)
                if step == .needMoreData { break }
                steps.append(step)
            }
        }
        #expect(!parser.inRequest)
        return steps
    }

    @Test func requestsParseTheSameWhateverPiecesTheyArriveIn() throws {
        let wire = Array("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nv\r\nv!\r\nPING\r\n  GET  \"a b\\x41\" 'c\\'d'\r\n*0\r\n*1\r\n$0\r\n\r\n".utf8)
        let expected: [RequestParser.Step] = [
            .command([Array("SET".utf8), Array("k".utf8), Array("v\r\nv!".utf8)]), .command([Array("PING".utf8)]),
            .command([Array("GET".utf8), Array("a bA".utf8), Array("c'd".utf8)]), .command([[]]),
        ]
        for piece in [1, 2, 3, 7, 64, wire.count] {
            #expect(try parse(wire, piece: piece) == expected, "pieces of \(piece)")
        }
    }

    @Test func anArgumentOverTheLimitIsSkippedNotKept() throws {
        var limits = RequestLimits()
        limits.maxBulkLength = 1024
        limits.maxRequestBytes = 1500
        let big = [UInt8](repeating: 0x78, count: 5000)
        let wire = respCommand([Array("SET".utf8), Array("k".utf8), big]) + respCommand([Array("SET".utf8), Array("k".utf8), Array(big[..<1000])]) +
            respCommand([Array("MSET".utf8), Array(big[..<800]), Array(big[..<800])]) + respCommand(["PING"])
        for piece in [1, 100, wire.count] {
            let steps = try parse(wire, piece: piece, limits: limits)
            #expect(steps.count == 4)
            if case .refused(let m) = steps[0] { #expect(m.contains("5000 bytes") && m.contains("--max-bulk")) } else { Issue.record("\(steps[0])") }
            if case .command(let args) = steps[1] { #expect(args[2].count == 1000) } else { Issue.record("\(steps[1])") }
            if case .refused(let m) = steps[2] { #expect(m.contains("--max-request")) } else { Issue.record("\(steps[2])") }
            #expect(steps[3] == .command([Array("PING".utf8)]))
        }
        // Skipping holds nothing: a declared 100 MB argument costs no memory as it streams past.
        var parser = RequestParser()
        var buffer = ByteBuffer(bytes: Array("*2\r\n$3\r\nGET\r\n$100000000\r\n".utf8) + [UInt8](repeating: 0, count: 1 << 20))
        #expect(try parser.next(&buffer, limits) == .needMoreData)
        #expect(parser.heldBytes < 4096 && buffer.readableBytes == 0)
    }

    @Test func malformedFramingIsAProtocolError() {
        let cases: [(String, String)] = [
            ("*x\r\n", "invalid multibulk length"), ("*99999999\r\n", "invalid multibulk length"),
            ("*1\r\n:5\r\n", "expected '$', got ':'"), ("*1\r\n$-1\r\n", "invalid bulk length"),
            ("*1\r\n$3\r\nabcXY", "bulk string not terminated by CRLF"), ("GET \"open\r\n", "unbalanced quotes in request"),
            ("GET 'a'b\r\n", "unbalanced quotes in request"), (String(repeating: "A", count: 70_000), "too big inline request"),
            ("*1\r\n" + String(repeating: "$", count: 70_000), "too big bulk count string"),
        ]
        for (wire, message) in cases {
            #expect(throws: RESPProtocolError(message: message), "\(wire.prefix(20))") { try parse(Array(wire.utf8), piece: 1000) }
        }
        var unauthenticated = RequestLimits().unauthenticated
        unauthenticated.maxArguments = 10
        #expect(throws: RESPProtocolError(message: "unauthenticated multibulk length")) { try parse(Array("*11\r\n".utf8), piece: 10, limits: unauthenticated) }
        #expect(throws: RESPProtocolError(message: "unauthenticated bulk length")) { try parse(Array("*1\r\n$20000\r\n".utf8), piece: 20, limits: unauthenticated) }
    }

    @Test func everyReplyShapeEncodesAsRedisSevenAndItsSizeIsExact() {
        let cases: [(RESPValue, String, String)] = [
            (.simple("OK"), "+OK\r\n", "+OK\r\n"), (.error("ERR x\ny"), "-ERR x y\r\n", "-ERR x y\r\n"),
            (.integer(-42), ":-42\r\n", ":-42\r\n"), (.integer(.min), ":-9223372036854775808\r\n", ":-9223372036854775808\r\n"),
            (.null, "$-1\r\n", "_\r\n"), (.nullArray, "*-1\r\n", "_\r\n"), (.bulk([]), "$0\r\n\r\n", "$0\r\n\r\n"),
            (.array([.integer(1), .null]), "*2\r\n:1\r\n$-1\r\n", "*2\r\n:1\r\n_\r\n"),
            (.map([RESPField(.text("a"), .integer(1))]), "*2\r\n$1\r\na\r\n:1\r\n", "%1\r\n$1\r\na\r\n:1\r\n"),
            (.set([.simple("x")]), "*1\r\n+x\r\n", "~1\r\n+x\r\n"),
            (.double(1.5), "$3\r\n1.5\r\n", ",1.5\r\n"), (.double(.infinity), "$3\r\ninf\r\n", ",inf\r\n"),
            (.double(-.infinity), "$4\r\n-inf\r\n", ",-inf\r\n"), (.double(0.1), "$19\r\n0.10000000000000001\r\n", ",0.10000000000000001\r\n"),
            (.boolean(true), ":1\r\n", "#t\r\n"), (.boolean(false), ":0\r\n", "#f\r\n"),
            (.verbatim("hi"), "$2\r\nhi\r\n", "=6\r\ntxt:hi\r\n"),
        ]
        for (value, resp2, resp3) in cases {
            for (version, expected) in [(RESPVersion.resp2, resp2), (.resp3, resp3)] {
                var buffer = ByteBuffer()
                value.write(to: &buffer, version: version)
                #expect(String(buffer: buffer) == expected, "\(value) in \(version)")
                #expect(value.encodedSize(version) == buffer.readableBytes, "\(value) in \(version)")
            }
        }
    }

    @Test func numbersFollowRedis() {
        for (text, value) in [("0", Int64(0)), ("-1", -1), ("9223372036854775807", .max), ("-9223372036854775808", .min)] {
            #expect(RedisNumber.integer(Array(text.utf8)) == value)
        }
        for text in ["", "-", "+1", "01", "-0", " 1", "1 ", "1.0", "9223372036854775808", "-9223372036854775809", "0x1"] {
            #expect(RedisNumber.integer(Array(text.utf8)) == nil, "\(text)")
        }
        #expect(RedisNumber.text(RedisNumber.longDouble(Array("3.0".utf8))! + RedisNumber.longDouble(Array("0.1".utf8))!) == Array("3.1".utf8))
        #expect(RedisNumber.text(RedisNumber.longDouble(Array("-0.0".utf8))!) == Array("0".utf8))
        for text in ["nan", " 1", "1 ", "", "abc", "1e99999"] { #expect(RedisNumber.longDouble(Array(text.utf8)) == nil, "\(text)") }
        #expect(StringCommands.range(0, -100, count: 5) == 0..<1)
        #expect(StringCommands.range(-1, -5, count: 5) == nil)
        #expect(StringCommands.range(-100, -1, count: 5) == 0..<5)
        #expect(StringCommands.range(0, -1, count: 0) == nil)
    }
}
