import Foundation
import Testing

/// Runs the built `sealkv` binary as a subprocess.
enum Tool {
    static var binary: String {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return dir.appendingPathComponent("sealkv").path
    }

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    static func run(_ arguments: [String], environment: [String: String] = ["SEALKV_PASSWORD": "tool pw"], stdin: Data? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["SEALKV_PASSWORD"] = nil
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }
}

@Suite("sealkv tool")
struct ToolTests {
    @Test func version() throws {
        let r = try Tool.run(["--version"])
        #expect(r.status == 0)
        #expect(r.stdout.hasPrefix("sealkv 0."))
    }

    @Test func initCreatesAStoreAndRefusesToOverwrite() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let path = dir + "/t.sealkv"
        let r = try Tool.run(["init", path, "--kdf", "interactive"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(TestSupport.readFile(path).count >= 8192)
        let again = try Tool.run(["init", path])
        #expect(again.status == 2)
        #expect(again.stderr.contains("already exists"))
        #expect(again.stderr.split(separator: "\n").count == 1)
    }

    @Test func noCredentialIsAUsageError() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let r = try Tool.run(["init", dir + "/x"], environment: [:])
        #expect(r.status == 2)
        #expect(r.stderr.contains("SEALKV_PASSWORD"))
    }
}
