import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `sealkv serve`'s options as an operator types them: every refused value gets a one-line message
/// that names the flag, repeats what was given and says what the flag accepts.
@Suite("sealkv serve: options")
struct ServeOptionTests {
    /// Numbers, sizes, durations and the listen address: each refused value is named with its
    /// flag and what the flag accepts; none starts a server (`--request-timeout 1e3` once did).
    @Test func everyOptionNamesTheFlagTheValueAndWhatItAccepts() throws {
        let f = ToolFixture()
        let store = try f.store("o.sealkv")
        let cases: [([String], [String])] = [
            (["--max-clients", "abc"], ["--max-clients", "'abc'", "whole number", "from 1 to 1000000"]),
            (["--max-clients", "0"], ["--max-clients", "0 is out of range", "from 1 to 1000000"]),
            (["--idle-timeout", "1e3"], ["--idle-timeout", "'1e3'", "not a whole number of seconds", "from 0 to 31536000", "0: never"]),
            (["--idle-timeout", "1.5"], ["--idle-timeout", "'1.5'", "not a whole number of seconds", "from 0 to 31536000"]),
            (["--idle-timeout", "99999999999"], ["--idle-timeout", "99999999999", "from 0 to 31536000"]),
            (["--max-bulk", "1.5m"], ["--max-bulk", "'1.5m'", "k, m or g"]),
            (["--max-bulk", "100"], ["--max-bulk", "at least 1024 bytes", "100"]),
            (["--max-request", "lots"], ["--max-request", "'lots'", "like 16m"]),
            (["--request-timeout", "1e3"], ["--request-timeout", "'1e3'", "number of seconds", "0.01 to 31536000"]),
            (["--client-output-timeout", "0x10"], ["--client-output-timeout", "'0x10'", "number of seconds"]),
            (["--request-timeout", "0"], ["--request-timeout", "0 is out of range", "0.01"]),
        ]
        for (arguments, says) in cases {
            let r = try f.run(["serve", store, "--listen", "127.0.0.1:0"] + arguments, timeout: 30)
            r.expect(2, arguments.joined(separator: " "))
            for part in says { #expect(r.err.contains(part), "\(arguments.joined(separator: " ")): no \"\(part)\" in: \(r.err)") }
        }
        let listens: [(String, [String])] = [
            (":16390", ["--listen", "':16390'", "host part", "empty", "127.0.0.1:16390"]),
            ("16390", ["--listen", "'16390'", "no port", "127.0.0.1:6379"]),
            ("127.0.0.1:99999", ["--listen", "'99999'", "0 to 65535"]),
            ("127.0.0.1:", ["--listen", "port", "empty", "0 to 65535"]),
            ("::1", ["--listen", "IPv6", "brackets", "[::1]:6379"]),
        ]
        for (address, says) in listens {
            let r = try f.run(["serve", store, "--listen", address], timeout: 30)
            r.expect(2, "--listen \(address)")
            for part in says { #expect(r.err.contains(part), "--listen \(address): no \"\(part)\" in: \(r.err)") }
        }
    }
}
