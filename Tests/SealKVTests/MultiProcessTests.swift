@testable import SealKV
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Many processes, one store: the tool reads, checks and backs up a store `sealkv serve` writes
/// under load; garbage in the lock file harms nothing.
@Suite("Many processes, one store")
struct MultiProcessTests {
    @Test func theToolWorksOnAStoreServeWritesUnderLoad() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-benchmark"), "redis-benchmark is missing: run `make deps`")
        let server = try ServeProcess()
        let client = try RawClient(port: server.port)
        #expect(client.call("SET", "fixed", "value") == .ok)
        let load = Process()
        load.executableURL = URL(fileURLWithPath: "/usr/bin/redis-benchmark")
        load.arguments = ["-p", "\(server.port)", "-t", "set", "-n", "100000000", "-c", "20", "-r", "20000", "-d", "200", "-q"]
        load.standardOutput = FileHandle.nullDevice
        load.standardError = FileHandle.nullDevice
        try load.run()
        defer {
            load.terminate()
            load.waitUntilExit()
        }
        // The load must be committing while the tool runs.
        let start = Int(String(decoding: try Tool.run(["stat", server.store, "--json"]).stdout.utf8, as: UTF8.self)
            .split(separator: "\"txnid\":").last?.prefix { $0.isNumber } ?? "0") ?? 0
        for command in [["get", server.store, "fixed"], ["scan", server.store, "--limit", "100"], ["stat", server.store],
                        ["check", server.store], ["export", server.store]] {
            let r = try Tool.run(command)
            #expect(r.status == 0, "\(command[0]) beside a serving writer: \(r.stderr)")
            if command[0] == "get" { #expect(r.stdout == "value") }
        }
        // Many short-lived readers, one after another, each claiming the reader slot the one
        // before it left: a claim's start time must never look like a reused pid's to the writer
        // (it reclaimed such slots under live readers, and their pages were overwritten).
        for round in 0..<12 {
            let r = try Tool.run(["check", server.store])
            #expect(r.status == 0, "check \(round) beside a serving writer: \(r.stdout.prefix(400))\(r.stderr)")
        }
        let backup = server.directory + "/hot.sealkv"
        let b = try Tool.run(["backup", server.store, backup])
        #expect(b.status == 0, "backup of a served store: \(b.stderr)")
        let end = try Tool.run(["stat", server.store, "--json"]).stdout
        let now = Int(end.split(separator: "\"txnid\":").last?.prefix { $0.isNumber } ?? "0") ?? 0
        #expect(now > start + 10, "the server committed only \(now - start) times while the tool ran: the test proves nothing")
        // The hot copy opens, checks, and holds the fixed key.
        let check = try Tool.run(["check", backup])
        #expect(check.status == 0, "the hot backup: \(check.stdout)\(check.stderr)")
        #expect(try Tool.run(["get", backup, "fixed"]).stdout == "value")
        #expect(client.call("PING") == .simple("PONG"))
        #expect(server.terminate() != nil)
    }

    /// A process that can write the lock file can at most stall page reuse or make readers look
    /// again: garbage in every byte of it, while a writer commits and a reader reads, corrupts
    /// nothing and crashes nothing.
    @Test func garbageInTheLockFileHarmsNothing() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let path = dir + "/g.sealkv"
        let writer = try Database.open(at: path, credential: .password(TestSupport.password), options: TestSupport.options())
        try writer.write { tx in for i in 0..<500 { try tx.put("k\(i)", "v0") } }
        let lockPath = Database.lockFilePath(forStore: path)
        #expect(FileManager.default.fileExists(atPath: lockPath))
        var rng = SeededRandom(seed: 7)
        let reader = try Database.open(at: path, credential: .password(TestSupport.password), options: TestSupport.options(.readOnly))
        for round in 1...40 {
            // Scribble over the header or a random stretch of slots.
            let fd = open(lockPath, O_WRONLY)
            let offset = round % 3 == 0 ? 0 : Int.random(in: 0..<(LockFile.fileSize - 512), using: &rng)
            let junk = (0..<512).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = junk.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
            close(fd)
            try writer.write { tx in for i in stride(from: round % 7, to: 500, by: 7) { try tx.put("k\(i)", "v\(round)") } }
            do {
                let seen = try reader.read { tx in try tx.all().map { $0.key }.count }
                #expect(seen == 500)
            } catch let e as SealKVError where e.code == .corrupted || e.code == .locked {
                // Allowed: garbage may let the writer reuse a page a reader reads, which the reader
                // then refuses; or claim every slot. Never a wrong answer.
            }
        }
        reader.close()
        try TestSupport.expectClean(writer)
        writer.close()
        // Truncated to nothing, the lock file is made again at the next open.
        #expect(truncate(lockPath, 0) == 0)
        let again = try Database.open(at: path, credential: .password(TestSupport.password), options: TestSupport.options(.readOnly))
        #expect(try again.read { try $0.getString("k6") } != nil)
        again.close()
    }

    /// On a read-only file system no writer can exist, so readers need no lock file (none can be
    /// made there): a store on one opens read-only and reads; a writable open says why it cannot.
    /// Needs permission to mount a tmpfs (skipped otherwise).
    @Test func aStoreOnAReadOnlyFileSystemIsRead() throws {
        let mountPoint = TestSupport.temporaryDirectory()
        guard system("mount -t tmpfs -o size=8m tmpfs '\(mountPoint)' 2>/dev/null") == 0 else {
            print("skipped: this process may not mount a tmpfs")
            TestSupport.removeTree(mountPoint)
            return
        }
        let result = Result { try readOnlyFileSystemChecks(mountPoint) }
        _ = system("umount '\(mountPoint)'")
        TestSupport.removeTree(mountPoint)
        try result.get()
    }

    private func readOnlyFileSystemChecks(_ mountPoint: String) throws {
        let path = mountPoint + "/ro.sealkv"
        let db = try Database.open(at: path, credential: .password(TestSupport.password), options: TestSupport.options())
        try db.write { tx in try tx.put("k", "v") }
        db.close()
        unlink(Database.lockFilePath(forStore: path))
        #expect(system("mount -o remount,ro '\(mountPoint)'") == 0)
        let reader = try Database.open(at: path, credential: .password(TestSupport.password), options: TestSupport.options(.readOnly))
        #expect(try reader.read { try $0.getString("k") } == "v")
        #expect(!FileManager.default.fileExists(atPath: Database.lockFilePath(forStore: path)))
        reader.close()
        let writable = Result { () throws(SealKVError) -> Database in
            try Database.open(at: path, credential: .password(TestSupport.password), options: TestSupport.options(.openExisting))
        }
        switch writable {
        case .success: Issue.record("a writable open on a read-only file system succeeded")
        case .failure(let e): #expect(e.code == .readOnly, "\(e)")
        }
    }
}
