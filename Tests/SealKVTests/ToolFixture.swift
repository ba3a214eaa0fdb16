import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A temporary folder with a raw key file, for the tool's subprocess tests: a key file skips
/// Argon2id, so a test can run the real binary dozens of times in a second or two.
final class ToolFixture {
    let dir: String
    let keyFile: String

    init() {
        dir = TestSupport.temporaryDirectory()
        keyFile = dir + "/key.bin"
        TestSupport.writeFile(keyFile, (0..<32).map { UInt8($0 &* 7 &+ 3) })
    }

    deinit { TestSupport.removeTree(dir) }

    /// A path in the folder.
    func path(_ name: String) -> String { dir + "/" + name }

    /// Runs `sealkv arguments… --key-file KEY`.
    @discardableResult
    func run(_ arguments: [String], stdin: ToolProcess.Input = .null, environment: [String: String] = [:], timeout: Double = 120) throws -> ToolProcess.Result {
        try ToolProcess.run(arguments + ["--key-file", keyFile], environment: environment, stdin: stdin, timeout: timeout)
    }

    /// Runs with raw-byte arguments (and `--key-file KEY`).
    @discardableResult
    func run(bytes arguments: [[UInt8]], stdin: ToolProcess.Input = .null, timeout: Double = 120) throws -> ToolProcess.Result {
        try ToolProcess.run(arguments + [Array("--key-file".utf8), Array(keyFile.utf8)], stdin: stdin, timeout: timeout)
    }

    /// Creates a store and loads `lines` (export-format JSON lines) into it.
    @discardableResult
    func store(_ name: String, lines: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let path = self.path(name)
        let made = try run(["init", path])
        #expect(made.status == 0, "init: \(made.err)", sourceLocation: sourceLocation)
        if !lines.isEmpty {
            let loaded = try run(["load", path], stdin: .bytes(Array(lines.joined(separator: "\n").utf8)))
            #expect(loaded.status == 0, "load: \(loaded.err)", sourceLocation: sourceLocation)
        }
        return path
    }

    /// Export-format lines for `count` entries of `valueSize` bytes in the default namespace.
    static func lines(_ count: Int, valueSize: Int = 16, prefix: String = "key-") -> [String] {
        (0..<count).map { "{\"key\":\"\(prefix)\(String(format: "%07d", $0))\",\"value\":\"\(String(repeating: "v", count: valueSize))\"}" }
    }
}

extension ToolProcess.Result {
    /// Expects exit status `status`, and for usage errors (2) one line on stderr, no trap or hang.
    func expect(_ status: Int32, _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!timedOut, "\(what): hung (killed at the deadline)", sourceLocation: sourceLocation)
        #expect(self.status == status, "\(what): exit \(self.status), stderr: \(err)", sourceLocation: sourceLocation)
        if status == 2 {
            #expect(err.split(separator: "\n").count == 1, "\(what): not one line: \(err)", sourceLocation: sourceLocation)
            #expect(!err.contains("Fatal error") && !err.contains("Backtrac"), "\(what): \(err)", sourceLocation: sourceLocation)
        }
    }
}
