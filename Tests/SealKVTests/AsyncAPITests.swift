@testable import SealKV
import Testing
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The `async` API: blocking work runs on the store's own threads, so the cooperative pool keeps
/// serving other tasks; cancellation before the commit rolls back; concurrent tasks share commits.
@Suite("Async API")
struct AsyncAPITests {
    /// The README's async example, compiled and run.
    @Test func readmeAsyncExample() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        // --- README async example begins ---
        let db = try await Database.open(at: dir + "/store.sealkv", credential: .password("p@ssw0rd"))
        try await db.write { tx in                        // the closure runs on a store thread
            try tx.put("user:1", "alice")
            try tx.put("user:1:visits", encoding: 1)        // Codable values
        }
        try await db.put("motd", "hello")                 // one-call forms: put, get, delete, update,
        let name = try await db.namespace("").getString("user:1")   // compareAndSwap, getOrInsert
        let visits = try await db.update("user:1:visits", as: Int.self) { ($0 ?? 0) + 1 }
        let changes = try await db.observe(prefix: "user:")     // committed changes, in commit order
        Task {
            for await batch in changes { for change in batch.changes { print(change.key, change.value as Any) } }
        }
        // --- README async example ends ---
        #expect(name == "alice" && visits == 2)
        #expect(try await db.get("motd") == Array("hello".utf8))
        #expect(try await db.delete("motd"))
        #expect(try await db.compareAndSwap("user:1", expected: Array("alice".utf8), new: Array("bob".utf8)))
        #expect(try await db.getOrInsert("fresh") { "made" } == Array("made".utf8))
        #expect(try await db.namespace("ns").count() == 0)
        var iterator = try await db.observe(key: "user:2").makeAsyncIterator()
        try await db.namespace("").put("user:2", "carol")
        let batch = await iterator.next()
        #expect(batch?.changes == [ObservedChange(key: Array("user:2".utf8), value: Array("carol".utf8))])
        db.close()
    }

    /// The example client (an actor over the async API, built with warnings as errors in Swift 6
    /// mode) runs: 64 concurrent tasks, an observer, a cancelled write.
    @Test func theExampleClientRuns() throws {
        let binary = URL(fileURLWithPath: ToolProcess.binary).deletingLastPathComponent().appendingPathComponent("sealkv-async-example").path
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [dir + "/example"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text.contains("64 visits") && text.contains("observer saw 8 sessions") && text.contains("left nothing"), "\(text)")
    }

    @Test func durableWritesDoNotBlockTheCooperativePool() async throws {
        // Every sync waits until a task on the cooperative pool releases it. Writers that blocked
        // the pool's threads (about one per core) would keep that task from running, and the
        // syncs would give up after 10 s.
        let storage = SlowSyncStorage(syncMicroseconds: 0)
        let db = try Database.open(storage: storage, credential: .password(TestSupport.password), options: TestSupport.options(), create: true)
        let before = storage.syncs.withLock { $0 }
        storage.holdSyncs()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for t in 0..<32 { group.addTask { try await db.write { tx in try tx.put("k\(t)", "v") } } }
            group.addTask {
                try await Task.sleep(for: .milliseconds(100))
                storage.releaseSyncs()
            }
            try await group.waitForAll()
        }
        let syncs = storage.syncs.withLock { $0 } - before
        #expect(storage.gaveUp.withLock { $0 } == 0, "a task on the cooperative pool could not run while 32 durable writes were in flight")
        #expect(syncs < 32, "32 concurrent writes took \(syncs) syncs: none shared")
        let count = try await db.read { tx in try tx.all().reduce(0) { n, _ in n + 1 } }
        #expect(count == 32)
    }

    @Test func opensDeriveKeysOffTheCooperativePool() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let options = Options(kdf: .interactive)   // 64 MiB of Argon2id, about 0.1 s here
        let opened = Locked(0)
        let ranBeforeAnyOpen = Locked<Bool?>(nil)
        try await withThrowingTaskGroup(of: Void.self) { group in
            // More opens than the pool has threads: opens that blocked them would keep the task
            // below from running until one had finished.
            for i in 0..<4 {
                group.addTask {
                    let db = try await Database.open(at: dir + "/s\(i).sealkv", credential: .password("pw"), options: options)
                    opened.withLock { $0 += 1 }
                    db.close()
                }
            }
            group.addTask { ranBeforeAnyOpen.withLock { $0 = opened.withLock { $0 } == 0 } }
            try await group.waitForAll()
        }
        #expect(ranBeforeAnyOpen.withLock { $0 } == true, "a task had to wait for an Argon2id open to finish before it could run")
    }

    @Test func cancellationBeforeTheCommitRollsBack() async throws {
        let (db, _) = try TestSupport.memoryStore()
        try await db.write { tx in try tx.put("base", "1") }
        // Cancelled while its closure runs: no change, CancellationError.
        let started = Locked(false)
        let cancelSent = Locked(false)
        let task = Task {
            try await db.write { tx in
                try tx.put("base", "changed")
                started.withLock { $0 = true }
                // The closure is still running when the cancellation arrives, however loaded the
                // machine: it waits for it.
                let deadline = ContinuousClock.now + .seconds(30)
                while !cancelSent.withLock({ $0 }) && ContinuousClock.now < deadline { usleep(1_000) }
            }
        }
        while !started.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(1)) }
        task.cancel()
        cancelSent.withLock { $0 = true }
        do {
            try await task.value
            Issue.record("a write cancelled before its commit committed")
        } catch is CancellationError {}
        #expect(try await db.read { try $0.getString("base") } == "1")
        // Cancelled before it started: the closure never runs.
        let ran = Locked(false)
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await db.write { tx in ran.withLock { $0 = true }; try tx.put("never", "x") }
        }
        await #expect(throws: CancellationError.self) { try await early.value }
        #expect(!ran.withLock { $0 })
        // Finished before the cancellation: the result stands.
        let late = Task { try await db.write { tx in try tx.put("late", "kept") } }
        try await late.value
        late.cancel()
        #expect(try await db.read { try $0.getString("late") } == "kept")
    }
}
