import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `export` writes what is stored (expiry times included) in the format it always had; `load`
/// reads it back strictly, streaming, with the store's lock taken first.
@Suite("sealkv tool: export and load")
struct ToolExportLoadTests {
    /// An "expires" that is not a whole, in-range number of milliseconds fails the load, naming
    /// the line, and loads nothing of its batch (it used to drop the entry or load it without expiry).
    @Test func loadRejectsBadExpiryTimesWithTheLineNumber() throws {
        let f = ToolFixture()
        let store = try f.store("x.sealkv")
        for bad in ["true", "1e30", "-5", "18446744073709551615", "\"soon\"", "1.5", "1700000000000.0", "{}", "[1]"] {
            let input = "{\"key\":\"ok\",\"value\":\"1\"}\n{\"key\":\"bad\",\"value\":\"2\",\"expires\":\(bad)}\n"
            let r = try f.run(["load", store, "--batch", "10"], stdin: .bytes(Array(input.utf8)))
            r.expect(2, "expires \(bad)")
            #expect(r.err.contains("line 2") && r.err.contains("expires"), "expires \(bad): \(r.err)")
            #expect(try f.run(["scan", store]).out.isEmpty, "expires \(bad): something was loaded")
        }
        let good = "{\"key\":\"a\",\"value\":\"1\",\"expires\":null}\n{\"key\":\"b\",\"value\":\"2\",\"expires\":99999999999999}\n"
        try f.run(["load", store], stdin: .bytes(Array(good.utf8))).expect(0, "null and a far expiry")
    }

    /// Other malformed lines name their line too.
    @Test func loadNamesEveryKindOfBadLine() throws {
        let f = ToolFixture()
        let store = try f.store("m.sealkv")
        let bad = [
            "[1, 2]", "{\"key\": \"a\"}", "{\"value\": \"a\"}", "{\"key\": \"\", \"value\": \"a\"}", "{\"key\": 5, \"value\": \"a\"}",
            "{\"key\": \"a\", \"key_b64\": \"YQ==\", \"value\": \"a\"}", "{\"key_b64\": \"!!\", \"value\": \"a\"}",
            "{\"key\": \"a\", \"value\": \"a\", \"ns\": 3}", "{\"key\": \"a\", \"value\": \"a\"} x", "{\"key\": \"\\ud800\", \"value\": \"a\"}",
            "{\"key\": \"a\", \"key\": \"b\", \"value\": \"a\"}", "{\"key\": \"\(String(repeating: "k", count: 1025))\", \"value\": \"a\"}",
        ]
        for line in bad {
            let r = try f.run(["load", store], stdin: .bytes(Array("{\"key\":\"fine\",\"value\":\"1\"}\n\n\(line)\n".utf8)))
            r.expect(2, line)
            #expect(r.err.contains("line 3"), "\(line): \(r.err)")
        }
        // Bytes that are not UTF-8 inside a JSON string are refused, not replaced.
        let raw = Array("{\"key\":\"a".utf8) + [0xFF] + Array("\",\"value\":\"v\"}\n".utf8)
        try f.run(["load", store], stdin: .bytes(raw)).expect(2, "raw 0xff")
        // Binary input is refused at once, not read to the end of the line.
        let zero = try f.run(["load", store, "/dev/zero"], timeout: 30)
        zero.expect(2, "/dev/zero")
        let zeros = try f.run(["load", store], stdin: .file("/dev/zero"), timeout: 30)
        zeros.expect(2, "stdin from /dev/zero")
        #expect(zeros.err.contains("line 1"), "\(zeros.err)")
        #expect(try f.run(["scan", store]).out.isEmpty)
    }

    /// An entry whose expiry time has passed is skipped and counted in the summary, honestly.
    @Test func expiredEntriesAreSkippedAndCounted() throws {
        let f = ToolFixture()
        let store = try f.store("e.sealkv")
        let later = UInt64(Date().timeIntervalSince1970 * 1000) + 3_600_000
        let input = "{\"key\":\"a\",\"value\":\"1\"}\n{\"key\":\"b\",\"value\":\"2\",\"expires\":1000}\n{\"key\":\"c\",\"value\":\"3\",\"expires\":\(later)}\n"
        let r = try f.run(["load", store], stdin: .bytes(Array(input.utf8)))
        r.expect(0, "load")
        #expect(r.err.contains("loaded 2 entries") && r.err.contains("skipped 1"), "\(r.err)")
        #expect(try f.run(["scan", store]).out == "a\t1\nc\t3\n")
    }

    /// `export` writes each entry's expiry as stored, not the export's start time plus a remaining
    /// time to live measured later, so export, load, export gives the same bytes.
    @Test func exportWritesTheStoredExpiry() throws {
        let f = ToolFixture()
        let store = try f.store("x.sealkv", lines: ToolFixture.lines(20_000))
        let base = UInt64(Date().timeIntervalSince1970 * 1000) + 7_200_000
        let timed = (0..<50).map { "{\"expires\":\(base + UInt64($0) * 997),\"key\":\"t\(String(format: "%02d", $0))\",\"ns\":\"z\",\"value\":\"v\"}" }
        try f.run(["load", store], stdin: .bytes(Array(timed.joined(separator: "\n").utf8))).expect(0, "load timed")
        let exported = try f.run(["export", store]).out
        let lines = exported.split(separator: "\n").map(String.init)
        #expect(lines.count == 20_050)
        #expect(Array(lines.suffix(50)) == timed, "expiry times changed on export")
        let copy = try f.store("y.sealkv")
        try f.run(["load", copy], stdin: .bytes(Array(exported.utf8))).expect(0, "load the export")
        #expect(try f.run(["export", copy]).out == exported, "export, load, export changed the bytes")
    }

    /// `scan`, `scan --json` and `export` write exactly what the former String and
    /// JSONSerialization code wrote, for bytes of every kind (control characters, quotes,
    /// backslashes, multi-byte UTF-8, and sequences that are not UTF-8).
    @Test func theDataPathKeepsItsFormat() throws {
        let f = ToolFixture()
        let store = try f.store("d.sealkv")
        var rng = SeededRandom(seed: 21)
        let pieces: [[UInt8]] = [
            Array("plain".utf8), [0x22], [0x5C], [0x2F], [0x7F], [0x00], [0x08], [0x0C], [0x0A], [0x0D], [0x09], [0x1F], [0x20],
            Array("é€😀".utf8), [0xE2, 0x80, 0xA8], [0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82],
        ]
        var entries: [([UInt8], [UInt8])] = []
        var lines: [String] = []
        for i in 0..<400 {
            func make(_ n: Int) -> [UInt8] { (0..<n).flatMap { _ in pieces[Int.random(in: 0..<pieces.count, using: &rng)] } }
            let key = Array(String(format: "%04d", i).utf8) + make(Int.random(in: 0...6, using: &rng))
            let value = i % 7 == 0 ? Array(repeating: 0x61, count: 3000 + i) : make(Int.random(in: 0...12, using: &rng))
            entries.append((key, value))
            lines.append(jsonLine(["key_b64": Data(key).base64EncodedString(), "value_b64": Data(value).base64EncodedString()]))
        }
        try f.run(["load", store], stdin: .bytes(Array(lines.joined(separator: "\n").utf8))).expect(0, "load")
        var text = "", json = "", export = ""
        for (k, v) in entries {
            text += Self.formerEscaped(k) + "\t" + Self.formerEscaped(v) + "\n"
            var o: [String: Any] = [:]
            Self.formerField("key", k, into: &o)
            Self.formerField("value", v, into: &o)
            json += Self.formerJSON(o) + "\n"
            o["ns"] = ""
            export += Self.formerJSON(o) + "\n"
        }
        #expect(try f.run(["scan", store]).out == text)
        #expect(try f.run(["scan", store, "--json"]).out == json)
        #expect(try f.run(["export", store]).out == export)
    }

    // The former encoders, as they were.
    static func formerEscaped(_ bytes: [UInt8]) -> String {
        var out = ""
        for b in bytes {
            switch b {
            case 0x5C: out += "\\\\"
            case 0x09: out += "\\t"
            case 0x0A: out += "\\n"
            case 0x20...0x7E: out.unicodeScalars.append(Unicode.Scalar(b))
            default: out += String(format: "\\x%02x", b)
            }
        }
        return out
    }

    static func formerField(_ name: String, _ bytes: [UInt8], into object: inout [String: Any]) {
        if let s = String(validating: bytes, as: UTF8.self) { object[name] = s } else { object[name + "_b64"] = Data(bytes).base64EncodedString() }
    }

    static func formerJSON(_ object: Any) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
    }

    /// Output that cannot be written (a full disk: /dev/full) is an error, not a crash or a
    /// silently short export.
    @Test func aFullDiskIsAnError() throws {
        let f = ToolFixture()
        let store = try f.store("f.sealkv", lines: ToolFixture.lines(3000, valueSize: 500))
        for command in [["export", store], ["scan", store], ["scan", store, "--json"], ["get", store, "key-0000001"]] {
            let r = try ToolProcess.start((command + ["--key-file", f.keyFile]).map { Array($0.utf8) }, stdout: "/dev/full").finish(timeout: 60)
            r.expect(2, "\(command[0]) > /dev/full")
            #expect(r.err.contains("no space left"), "\(command.joined(separator: " ")): \(r.err)")
        }
    }

    /// `load` takes the store's lock before it reads its input (it used to read everything first,
    /// holding no lock), and so does `put -`.
    @Test func loadAndPutTakeTheLockBeforeReadingInput() throws {
        let f = ToolFixture()
        let store = try f.store("l.sealkv")
        for command in [["load", store], ["put", store, "k", "-"]] {
            let ends = closeOnExecPipe()
            let fds = [ends.read, ends.write]
            let reader = try ToolProcess.start((command + ["--key-file", f.keyFile]).map { Array($0.utf8) }, stdin: .descriptor(fds[0]))
            close(fds[0])
            // While it waits for input, a writer is refused.
            let deadline = Date().addingTimeInterval(60)
            var refused = false
            while !refused && Date() < deadline {
                let other = try f.run(["put", store, "other", "x"])
                refused = other.status == 2 && other.err.contains("is being written by another process")
                if !refused { usleep(20_000) }
            }
            #expect(refused, "\(command[0]) did not hold the lock while waiting for input")
            let input = command[0] == "load" ? "{\"key\":\"a\",\"value\":\"1\"}\n" : "streamed"
            _ = Array(input.utf8).withUnsafeBytes { write(fds[1], $0.baseAddress, $0.count) }
            close(fds[1])
            reader.finish(timeout: 60).expect(0, command[0])
        }
        #expect(try f.run(["get", store, "k"]).out == "streamed")
    }

    /// `load` holds a batch in memory, not its input: 150 MB of input stay far below it.
    @Test func loadMemoryIsBoundedByTheBatch() throws {
        let f = ToolFixture()
        let store = try f.store("big.sealkv")
        let input = f.path("in.jsonl")
        let value = String(repeating: "x", count: 1000)
        var text = ""
        text.reserveCapacity(160 << 20)
        for i in 0..<150_000 { text += "{\"key\":\"k\(i)\",\"value\":\"\(value)\"}\n" }
        try text.write(toFile: input, atomically: false, encoding: .utf8)
        text = ""
        let baseline = try f.run(["get", store, "k"]).peakMemory
        let r = try f.run(["load", store], stdin: .file(input), timeout: 300)
        r.expect(0, "load")
        #expect(r.peakMemory < baseline + 48 << 20, "load of 150 MB peaked at \(r.peakMemory >> 20) MiB, a get at \(baseline >> 20) MiB")
    }

    /// A value over the 1 GiB limit is refused as soon as it crosses it: from a file at once (by its
    /// size), from a pipe after at most the limit, never holding much more than the limit.
    @Test func putRefusesAValueOverTheLimitAsItCrossesIt() throws {
        let f = ToolFixture()
        let store = try f.store("v.sealkv")
        let sparse = f.path("sparse")
        let fd = open(sparse, O_WRONLY | O_CREAT, 0o600)
        #expect(ftruncate(fd, off_t(1 << 30) + 1) == 0)
        close(fd)
        let baseline = try f.run(["get", store, "k"]).peakMemory
        let fromFile = try f.run(["put", store, "k", "-"], stdin: .file(sparse), timeout: 60)
        fromFile.expect(2, "a 1 GiB + 1 file on stdin")
        #expect(fromFile.err.contains("limit"), "\(fromFile.err)")
        #expect(fromFile.peakMemory < baseline + 16 << 20, "peaked at \(fromFile.peakMemory >> 20) MiB, a get at \(baseline >> 20) MiB")
        let valueFile = try f.run(["put", store, "k", "--value-file", sparse], timeout: 60)
        valueFile.expect(2, "--value-file of 1 GiB + 1")

        let ends = closeOnExecPipe()
        let fds = [ends.read, ends.write]
        let put = try ToolProcess.start(["put", store, "k", "-", "--key-file", f.keyFile].map { Array($0.utf8) }, stdin: .descriptor(fds[0]))
        close(fds[0])
        signal(SIGPIPE, SIG_IGN)
        let chunk = [UInt8](repeating: 0x41, count: 1 << 20)
        var sent = 0
        while true {
            let n = chunk.withUnsafeBytes { write(fds[1], $0.baseAddress, $0.count) }
            if n <= 0 { break }
            sent += n
            if sent > 3 << 30 { break }
        }
        close(fds[1])
        let r = put.finish(timeout: 120)
        r.expect(2, "an endless value through a pipe")
        #expect(sent < (1 << 30) + (8 << 20), "it read \(sent) bytes before refusing")
        #expect(r.peakMemory < baseline + (1 << 30) + (64 << 20), "peaked at \(r.peakMemory >> 20) MiB")
        try f.run(["get", store, "k"]).expect(1, "nothing stored")
    }
}
