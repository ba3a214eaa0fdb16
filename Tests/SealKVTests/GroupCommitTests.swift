@testable import SealKV
import Testing
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A memory store whose syncs take a while and are counted, so writers pile up behind them.
final class SlowSyncStorage: PageStorage, @unchecked Sendable {
    let inner = MemoryStorage()
    let syncs = Locked(0)
    let failNextSync = Locked(false)
    let syncMicroseconds: UInt32
    init(syncMicroseconds: UInt32) { self.syncMicroseconds = syncMicroseconds }
    var pageCount: UInt64 { inner.pageCount }
    var engineName: String { "slow-sync" }
    func readPage(_ n: UInt64, into b: UnsafeMutableRawPointer) throws(SealKVError) { try inner.readPage(n, into: b) }
    func writePages(_ writes: [PageWrite], sync: Bool) throws(SealKVError) {
        try inner.writePages(writes, sync: false)
        if sync { try self.sync() }
    }
    /// While true, every sync waits (up to 10 s) for ``releaseSyncs()``.
    let held = Locked(false)
    /// How many syncs stopped waiting because nothing released them within 10 s.
    let gaveUp = Locked(0)
    func holdSyncs() { held.withLock { $0 = true } }
    func releaseSyncs() { held.withLock { $0 = false } }
    func sync() throws(SealKVError) {
        usleep(syncMicroseconds)
        var waited = 0
        while held.withLock({ $0 }) {
            if waited == 10_000 { gaveUp.withLock { $0 += 1 }; break }
            usleep(1000)
            waited += 1
        }
        syncs.withLock { $0 += 1 }
        if failNextSync.withLock({ f in defer { f = false }; return f }) {
            throw SealKVError.system("fdatasync", path: nil, errno: EIO)
        }
    }
    func resize(toPages pages: UInt64) throws(SealKVError) { try inner.resize(toPages: pages) }
    func close() {}
}

/// Runs `body` on `count` threads of their own at once (not the dispatch pool, which runs about
/// as many at a time as there are cores) and waits for all.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let done = DispatchGroup()
    for t in 0..<count {
        done.enter()
        Thread.detachNewThread {
            body(t)
            done.leave()
        }
    }
    done.wait()
}

@Suite("Group commit")
struct GroupCommitTests {
    func store(_ storage: SlowSyncStorage) throws -> Database {
        try Database.open(storage: storage, credential: .password(TestSupport.password), options: TestSupport.options(), create: true)
    }

    /// Threads writing at once share fsyncs: far fewer syncs than commits, every write there.
    @Test func concurrentWritersShareSyncs() throws {
        let storage = SlowSyncStorage(syncMicroseconds: 3_000)
        let db = try store(storage)
        let before = storage.syncs.withLock { $0 }
        let threads = 16, perThread = 25
        let failures = Locked(0)
        onThreads(threads) { t in
            for i in 0..<perThread {
                do { try db.write { tx in try tx.put("t\(t)-\(i)", "v\(i)") } } catch { failures.withLock { $0 += 1 } }
            }
        }
        #expect(failures.withLock { $0 } == 0)
        let syncs = storage.syncs.withLock { $0 } - before
        #expect(syncs < threads * perThread / 3, "\(threads * perThread) commits took \(syncs) syncs")
        #expect(try db.read { try $0.count() } == threads * perThread)
        try TestSupport.expectClean(db)
    }

    /// A caller whose closure throws in a shared transaction loses only its own changes; the
    /// others' commit.
    @Test func aFailingMemberLosesOnlyItsOwnChanges() throws {
        let db = try store(SlowSyncStorage(syncMicroseconds: 0))
        try db.write { tx in try tx.put("before", "1") }
        struct Refused: Error {}
        let first = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        let firstResult = Locked<Bool?>(nil)
        done.enter()
        Thread.detachNewThread {
            do {
                try db.write { tx in
                    try tx.put("first", "kept")
                    first.signal()
                    // Hold the writer until the second caller waits for it, so it joins.
                    while db.waitingWriters.load(ordering: .relaxed) == 0 { usleep(1_000) }
                }
                firstResult.withLock { $0 = true }
            } catch {
                firstResult.withLock { $0 = false }
            }
            done.leave()
        }
        first.wait()
        do {
            try db.write { tx in
                #expect(try tx.getString("first") == "kept", "the second caller does not see the first's changes")
                try tx.put("second", "lost")
                _ = try tx.delete("before")
                throw Refused()
            }
            Issue.record("the throwing closure's write succeeded")
        } catch is Refused {}
        done.wait()
        #expect(firstResult.withLock { $0 } == true)
        try db.read { (tx) throws in
            #expect(try tx.getString("first") == "kept")
            #expect(try tx.getString("second") == nil)
            #expect(try tx.getString("before") == "1")
        }
        try TestSupport.expectClean(db)
    }

    /// A failed sync fails every caller of its group and poisons the handle; nothing of the
    /// group is visible.
    @Test func aFailedSyncFailsTheWholeGroup() throws {
        let storage = SlowSyncStorage(syncMicroseconds: 2_000)
        let db = try store(storage)
        try db.write { tx in try tx.put("base", "1") }
        let failed = Locked(0), succeeded = Locked(0)
        storage.failNextSync.withLock { $0 = true }
        onThreads(8) { t in
            do {
                try db.write { tx in try tx.put("g\(t)", "x") }
                succeeded.withLock { $0 += 1 }
            } catch let e as SealKVError {
                #expect(e.code == .ioError || e.code == .poisoned, "\(e)")
                failed.withLock { $0 += 1 }
            } catch {
                Issue.record("\(error)")
            }
        }
        #expect(succeeded.withLock { $0 } == 0, "a write succeeded after the failed sync")
        #expect(failed.withLock { $0 } == 8)
        #expect(try db.read { tx in try tx.getString("base") } == "1")
        let anyVisible = try db.read { tx in try (0..<8).contains { try tx.get("g\($0)") != nil } }
        #expect(!anyVisible)
    }
}
