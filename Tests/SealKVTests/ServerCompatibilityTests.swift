import Foundation
import SealKV
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Runs the Redis compatibility suite (Tests/compat: redis-py in RESP2 and RESP3, and redis-cli)
/// against freshly started `sealkv serve` processes: one plain, one with a password.
@Suite("Redis compatibility through redis-py", .serialized)
struct ServerCompatibilityTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    @Test func redisPyAndRedisCliSuitePasses() throws {
        let python = Self.root + "/.build/venv/bin/python"
        try #require(FileManager.default.isExecutableFile(atPath: python),
                     "the compatibility suite's Python environment is missing: run `make test-deps` (Tools/scripts/compat-venv.sh)")
        let plain = try ServeProcess(["--max-bulk", "2m", "--client-output-limit", "8m"])
        let passwordFile = plain.directory + "/requirepass"
        TestSupport.writeFile(passwordFile, Array("compat pw\n".utf8))
        let authenticated = try ServeProcess(["--requirepass-file", passwordFile])

        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-m", "unittest", "discover", "-s", Self.root + "/Tests/compat", "-p", "test_*.py"]
        var env = ProcessInfo.processInfo.environment
        env["COMPAT_PORT"] = "\(plain.port)"
        env["COMPAT_AUTH_PORT"] = "\(authenticated.port)"
        env["COMPAT_PASSWORD"] = "compat pw"
        env["COMPAT_TARGET"] = "sealkv"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        process.environment = env
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)\nserver log:\n\(plain.log)")
        #expect(text.contains("OK"), "\(text)")
        #expect(plain.terminate() != nil)
        #expect(authenticated.terminate() != nil)
    }
}
