import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Every number the tool takes is range-checked with a one-line message naming the option; bytes
/// that are not UTF-8 are refused as arguments and can be given in hex, from a file or from stdin.
@Suite("sealkv tool: arguments")
struct ToolArgumentTests {
    /// Out-of-range, negative, infinite and non-numeric values: exit 2, one line naming the option,
    /// no trap ("Fatal error", exit 132) and no "Missing value" (a negative number taken for a flag).
    @Test func everyNumericOptionIsRangeChecked() throws {
        let f = ToolFixture()
        let store = try f.store("n.sealkv")
        let cases: [([String], String)] = [
            (["put", store, "k", "v", "--ttl", "inf"], "--ttl"),
            (["put", store, "k", "v", "--ttl", "nan"], "--ttl"),
            (["put", store, "k", "v", "--ttl", "1e16"], "--ttl"),
            (["put", store, "k", "v", "--ttl", "9.3e15"], "--ttl"),
            (["put", store, "k", "v", "--ttl", "9300000000000000"], "--ttl"),
            (["put", store, "k", "v", "--ttl", "-5"], "--ttl"),
            (["put", store, "k", "v", "--ttl=-5"], "--ttl"),
            (["put", store, "k", "v", "--ttl", "0"], "--ttl"),
            (["put", store, "k", "v", "--ttl", "soon"], "--ttl"),
            (["scan", store, "--limit", "-1"], "--limit"),
            (["scan", store, "--limit=-1"], "--limit"),
            (["scan", store, "--limit", "many"], "--limit"),
            (["load", store, "--batch", "-1"], "--batch"),
            (["load", store, "--batch", "0"], "--batch"),
            (["check", store, "--meta", "-1"], "--meta"),
            (["check", store, "--meta", "2"], "--meta"),
            (["get", store, "k", "--min-txn", "-1"], "--min-txn"),
            (["get", store, "k", "--min-txn", "x"], "--min-txn"),
            (["page", store, "-1"], "negative"),
            (["crashtest", "--ops", "-5"], "--ops"),
            (["crashtest", "--rounds", "0", "--mode", "kill"], "--rounds"),
            (["crashtest", "--mode", "kill", "--dir", "/dev/null"], "--dir"),
            (["crashtest", "--mode", "kill", "--dir", store], "--dir"),
        ]
        for (arguments, names) in cases {
            let r = arguments[0] == "crashtest" ? try ToolProcess.run(arguments) : try f.run(arguments, stdin: .bytes([]))
            r.expect(2, arguments.joined(separator: " "))
            #expect(r.err.contains(names) && !r.err.contains("Missing value"), "\(arguments.joined(separator: " ")): \(r.err)")
        }
        try f.run(["scan", store, "--limit", "0"]).expect(0, "--limit 0")
        try f.run(["get", store, "k"]).expect(1, "nothing was stored")
    }

    /// Every numeric option of every command says which flag, what was given and what it accepts,
    /// where the argument parser alone said only "The value 'abc' is invalid for '--rounds
    /// <rounds>'"; `--ttl` and the other durations take plain decimal seconds only.
    @Test func aRefusedNumberIsNamedWithWhatIsAccepted() throws {
        let f = ToolFixture()
        let store = try f.store("a.sealkv")
        let cases: [([String], [String])] = [
            (["crashtest", "--rounds", "abc", "--mode", "kill"], ["--rounds", "'abc'", "from 1 to 1000000"]),
            (["crashtest", "--ops", "1.5"], ["--ops", "'1.5'", "whole number", "from 1 to 10000000"]),
            (["crashtest", "--max-states", "1e3"], ["--max-states", "'1e3'", "0: no limit"]),
            (["crashtest", "--readers", "many", "--mode", "kill"], ["--readers", "'many'", "from 0 to 64"]),
            (["crashtest", "--seed", "x"], ["--seed", "'x'", "whole number"]),
            (["crashtest", "--sector", "abc"], ["--sector", "'abc'", "512"]),
            (["crashtest", "--sector", "1000"], ["--sector", "1000", "512, 1024, 2048 or 4096"]),
            (["crashtest", "--full-check-every", "often"], ["--full-check-every", "'often'", "0: never"]),
            (["crashtest", "--mode", "kill", "--write-engine", "uring"], ["--write-engine", "'uring'", "automatic, pwritev or io-uring"]),
            (["crashtest", "--workload", "nosuch"], ["'nosuch'", "mixed, namespaces, shrink, rotation, bulk, concurrent or all"]),
            (["scan", store, "--limit", "1.5"], ["--limit", "'1.5'", "whole number"]),
            (["load", store, "--batch", "0"], ["--batch", "0 is out of range", "from 1 to 1000000"]),
            (["check", store, "--meta", "2"], ["--meta", "2 is out of range", "from 0 to 1"]),
            (["get", store, "k", "--min-txn", "x"], ["--min-txn", "'x'", "whole number"]),
            (["put", store, "k", "v", "--ttl", "1e3"], ["--ttl", "'1e3'", "number of seconds", "like 30 or 2.5"]),
            (["put", store, "k", "v", "--ttl", "0.0005"], ["--ttl", "'0.0005'", "three digits after the point"]),
        ]
        for (arguments, says) in cases {
            let r = arguments[0] == "crashtest" ? try ToolProcess.run(arguments) : try f.run(arguments, stdin: .bytes([]))
            r.expect(2, arguments.joined(separator: " "))
            for part in says { #expect(r.err.contains(part), "\(arguments.joined(separator: " ")): no \"\(part)\" in: \(r.err)") }
            #expect(!r.err.contains("is invalid for"), "the argument parser's words: \(r.err)")
        }
    }

    /// `SEALKV_MIN_TXN=` (set to nothing, as a script that clears it leaves it) means no minimum;
    /// a value that is not a number is refused naming the variable and how to unset it.
    @Test func anEmptyMinimumTxnIDVariableIsUnset() throws {
        let f = ToolFixture()
        let store = try f.store("e.sealkv", lines: ToolFixture.lines(1))
        let empty = try f.run(["get", store, "key-0000000"], environment: ["SEALKV_MIN_TXN": ""])
        empty.expect(0, "SEALKV_MIN_TXN=")
        #expect(empty.out == "vvvvvvvvvvvvvvvv", "\(empty.out)")
        let bad = try f.run(["get", store, "key-0000000"], environment: ["SEALKV_MIN_TXN": "soon"])
        bad.expect(2, "SEALKV_MIN_TXN=soon")
        #expect(bad.err.contains("SEALKV_MIN_TXN") && bad.err.contains("'soon'") && bad.err.contains("unset it"), "\(bad.err)")
    }

    /// A time to live with a fraction is kept to the millisecond.
    @Test func aFractionalTimeToLiveIsKept() throws {
        let f = ToolFixture()
        let store = try f.store("t.sealkv")
        let before = UInt64(Date().timeIntervalSince1970 * 1000)
        try f.run(["put", store, "k", "v", "--ttl", "3600.25"]).expect(0, "put")
        let after = UInt64(Date().timeIntervalSince1970 * 1000)
        let line = try f.run(["export", store]).out
        let expires = (try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["expires"] as? UInt64 ?? 0
        #expect(expires >= before + 3_600_250 && expires <= after + 3_600_250, "expires \(expires), put between \(before) and \(after)")
    }

    /// Arguments that are not UTF-8 are refused (Swift would turn each into U+FFFD, so two different
    /// keys met at one); keys and values of any bytes go through --key-hex, --value-hex,
    /// --value-file and stdin, and come back exactly.
    @Test func bytesThatAreNotUTF8() throws {
        let f = ToolFixture()
        let store = try f.store("b.sealkv")
        let put = try f.run(bytes: [Array("put".utf8), Array(store.utf8), [0x61, 0xFF], Array("V".utf8)])
        put.expect(2, "put with a key that is not UTF-8")
        #expect(put.err.contains("not valid UTF-8") && put.err.contains("--key-hex"), "\(put.err)")
        try f.run(bytes: [Array("get".utf8), Array(store.utf8), [0x61, 0xFE]]).expect(2, "get with a key that is not UTF-8")
        #expect(try f.run(["scan", store]).out.isEmpty, "something was stored")

        var rng = SeededRandom(seed: 9)
        let blob = (0..<5000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        TestSupport.writeFile(f.path("blob"), blob)
        try f.run(["put", store, "--key-hex", "61ff", "--value-hex", "00FE80"]).expect(0, "hex key and value")
        try f.run(["put", store, "--key-hex", "61fe", "--value-file", f.path("blob")]).expect(0, "value file")
        try f.run(["put", store, "--key-hex", "00", "-"], stdin: .bytes(blob.reversed())).expect(0, "value from stdin")
        try f.run(["put", store, "--key-hex", "0001", "text value"]).expect(0, "hex key, text value")
        #expect(try f.run(["get", store, "--key-hex", "61ff"]).stdout == [0x00, 0xFE, 0x80])
        #expect(try f.run(["get", store, "--key-hex", "61fe"]).stdout == blob)
        #expect(try f.run(["get", store, "--key-hex", "00"]).stdout == blob.reversed())
        #expect(try f.run(["get", store, "--key-hex", "0001"]).out == "text value")
        #expect(try f.run(["scan", store, "--prefix-hex", "61"]).out.hasPrefix("a\\xfe\t"))
        #expect(try f.run(["scan", store, "--from-hex", "61ff", "--json"]).out == "{\"key_b64\":\"Yf8=\",\"value_b64\":\"AP6A\"}\n")
        try f.run(["del", store, "--key-hex", "61ff"]).expect(0, "del")
        try f.run(["get", store, "--key-hex", "61ff"]).expect(1, "deleted")
        try f.run(["put", store, "--key-hex", "6"]).expect(2, "odd hex")
        try f.run(["put", store, "--key-hex", "zz", "v"]).expect(2, "bad hex")
        try f.run(["put", store, "k", "v", "--value-hex", "00"]).expect(2, "two values")
        try f.run(["get", store, "k", "--key-hex", "00"]).expect(2, "two keys")

        // Export and load carry the same bytes.
        let exported = try f.run(["export", store]).stdout
        let copy = try f.store("copy.sealkv")
        try f.run(["load", copy], stdin: .bytes(exported)).expect(0, "load")
        #expect(try f.run(["export", copy]).stdout == exported)
    }

    /// A typo'd command gets the nearest command suggested, in one line.
    @Test func aMistypedCommandSuggestsTheNearest() throws {
        for (typed, meant) in [("sacn", "scan"), ("chekc", "check"), ("backpu", "backup"), ("inti", "init"), ("gte", "get")] {
            let r = try ToolProcess.run([typed, "store.sealkv"])
            r.expect(2, typed)
            #expect(r.err.contains("did you mean '\(meant)'"), "\(typed): \(r.err)")
        }
        let far = try ToolProcess.run(["frobnicate"])
        far.expect(2, "frobnicate")
        #expect(far.err.contains("not a command") && far.err.contains("scan"), "\(far.err)")
    }
}
