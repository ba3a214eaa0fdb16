@testable import SealKV
import Testing
import Dispatch

/// A storage that fails on demand, to test error paths.
final class FaultyStorage: PageStorage, @unchecked Sendable {
    let inner: MemoryStorage
    let failWrites = Locked(false)
    let failSyncs = Locked(false)
    let failReads = Locked(false)
    /// Write calls that succeed before every later one fails.
    let writeCallsBeforeFailure = Locked(Int.max)
    init(_ inner: MemoryStorage) { self.inner = inner }
    var pageCount: UInt64 { inner.pageCount }
    var engineName: String { "faulty" }
    func readPage(_ n: UInt64, into b: UnsafeMutableRawPointer) throws(SealKVError) {
        if failReads.withLock({ $0 }) { throw SealKVError.system("pread", path: nil, errno: 5) }
        try inner.readPage(n, into: b)
    }
    func writePages(_ writes: [PageWrite], sync: Bool) throws(SealKVError) {
        let countedOut = writeCallsBeforeFailure.withLock { (left: inout Int) -> Bool in
            if left == 0 { return true }
            if left != .max { left -= 1 }
            return false
        }
        if failWrites.withLock({ $0 }) || countedOut { throw SealKVError.system("write", path: nil, errno: 5) }
        try inner.writePages(writes, sync: false)
        if sync { try self.sync() }
    }
    func sync() throws(SealKVError) {
        if failSyncs.withLock({ $0 }) { throw SealKVError.system("fdatasync", path: nil, errno: 5) }
    }
    func resize(toPages pages: UInt64) throws(SealKVError) { try inner.resize(toPages: pages) }
    func close() {}
}

@Suite("Public API")
struct APITests {
    /// The README's example, compiled and run.
    @Test func readmeExample() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let token: [UInt8] = [1, 2, 3]
        // --- README example begins ---
        let db = try Database.open(at: dir + "/store.sealkv", credential: .password("p@ssw0rd"))
        try db.write { tx in
            try tx.put("user:1", "alice")
            try tx.put("user:2", "bob")
            let existed = try tx.delete("user:2")
            assert(existed)
            try tx.namespace("sessions").put("alice", token)
        }
        let v: [UInt8]? = try db.read { tx in try tx.get("user:1") }
        try db.read { tx in
            for (key, value) in try tx.range(from: "a", to: "v") { print(key, value) }
            for (key, _) in try tx.prefix("user:") { print(String(decoding: key, as: UTF8.self)) }
            let cursor = try tx.cursor()
            if try cursor.last() { print(cursor.key!) }
        }
        let stats = try db.stats()
        print(stats.entries, stats.freePages, stats.cacheHits)
        // --- README example ends ---
        #expect(v == Array("alice".utf8))
        #expect(stats.entries[""] == 1 && stats.entries["sessions"] == 1)
        db.close()
    }

    @Test func cursorMovesBothWays() throws {
        let (db, _) = try TestSupport.memoryStore()
        let keys = (0..<3000).map { String(format4($0)) }
        try db.write { tx in for k in keys { try tx.put(k, "v" + k) } }
        try db.read { (tx) throws -> Void in
            let c = try tx.cursor()
            #expect(try c.first())
            var forward: [String] = []
            repeat { forward.append(String(decoding: c.key!, as: UTF8.self)) } while try c.next()
            #expect(forward == keys)
            #expect(c.key == nil)
            #expect(try c.last())
            var backward: [String] = []
            repeat { backward.append(String(decoding: c.key!, as: UTF8.self)) } while try c.previous()
            #expect(backward == keys.reversed())
            #expect(try c.seek(to: "1500"))
            #expect(c.key == Array("1500".utf8))
            #expect(try c.value() == Array("v1500".utf8))
            #expect(try c.seek(to: "15005"))
            #expect(c.key == Array("1501".utf8))
            #expect(try c.previous())
            #expect(c.key == Array("1500".utf8))
            #expect(try !c.seek(to: "9"))
        }
    }

    @Test func cursorFollowsChangesInAWriteTransaction() throws {
        let (db, _) = try TestSupport.memoryStore()
        try db.write { tx in for i in 0..<500 { try tx.put(format4(i), "v") } }
        try db.write { (tx) throws -> Void in
            let c = try tx.cursor()
            var seen = 0
            var more = try c.first()
            while more {
                // Delete every visited key while walking; the cursor re-finds its place.
                let k = c.key!
                try tx.delete(k)
                seen += 1
                more = try c.next()
            }
            #expect(seen == 500)
            #expect(try tx.count() == 0)
        }
    }

    /// `Cursor.withEntry` shows every entry's key and value in place, as `key` and `value()` copy
    /// them: inline, empty, overflow and expired-then-skipped entries, in a namespace, and in a
    /// writer whose changes made the cursor's leaf stale.
    @Test func cursorWithEntryMatchesTheCopies() throws {
        let clock = ManualClock()
        var options = TestSupport.options()
        options.clock = clock.reading
        let db = try Database.open(storage: MemoryStorage(), credential: .password("p"), options: options, create: true)
        let big = (0..<9_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try db.write { tx in
            for i in 0..<2000 { try tx.put(format4(i), "value \(i)") }
            try tx.put("0500", big)
            try tx.put("0501", [UInt8]())
            try tx.put("0502", "gone", ttl: .seconds(1))
            try tx.namespace("ns").put("k", big)
        }
        clock.advance(.seconds(2))
        try db.read { (tx) throws -> Void in
            let c = try tx.cursor()
            #expect(try c.withEntry { _, _ in 1 } == nil)
            var entries = 0
            var more = try c.first()
            while more {
                let (key, value) = try #require(try c.withEntry { (k, v) in (Array(k), Array(v)) })
                #expect(key == c.key)
                #expect(value == (try c.value()))
                entries += 1
                more = try c.next()
            }
            #expect(entries == 1999)
            #expect(try c.withEntry { _, _ in 1 } == nil)
            #expect(try c.seek(to: "0500"))
            #expect(try c.withEntry { _, v in Array(v) } == big)
            #expect(try c.next() && c.withEntry { _, v in v.count } == 0)
            #expect(try c.next() && c.withEntry { k, _ in Array(k) } == Array("0503".utf8))
            let ns = try tx.namespace("ns").cursor()
            #expect(try ns.first() && ns.withEntry { _, v in Array(v) } == big)
        }
        try db.write { (tx) throws -> Void in
            let c = try tx.cursor()
            #expect(try c.seek(to: "0100"))
            try tx.put("0100", "rewritten while the cursor rests on it")
            #expect(try c.withEntry { _, v in Array(v) } == Array("rewritten while the cursor rests on it".utf8))
        }
    }

    @Test func rangesRespectBoundsAndDirection() throws {
        let (db, _) = try TestSupport.memoryStore()
        try db.write { tx in for i in 0..<100 { try tx.put(format4(i), "\(i)") } }
        try db.read { (tx) throws -> Void in
            #expect(try tx.range(from: "0010", to: "0015").map { $0.key } == (10..<15).map { Array(format4($0).utf8) })
            #expect(try tx.range(from: "0010", to: "0015", reverse: true).map { $0.key } == (10..<15).reversed().map { Array(format4($0).utf8) })
            #expect(try tx.range(from: nil as String?, to: "0003").map { $0.key }.count == 3)
            #expect(try tx.range(from: "0097", to: nil as String?).map { $0.key }.count == 3)
            #expect(try tx.prefix("009").map { $0.key }.count == 10)
            #expect(try tx.prefix("009", reverse: true).map { $0.key }.first == Array("0099".utf8))
            #expect(try tx.withValue(for: "0042") { Array($0) } == Array("42".utf8))
            #expect(try tx.withValue(for: "nope") { $0.count } == nil)
        }
    }

    /// `withValue` hands `body` a copy in a buffer of the call's own: the bytes are right for
    /// inline, empty and overflow values, in namespaces and in a writer's own changes, and `body`
    /// may read the store again, even with `withValue`, without changing the bytes it holds.
    @Test func withValueReadsWithoutAllocatingAndAllowsNestedReads() throws {
        let (db, _) = try TestSupport.memoryStore()
        let big = (0..<20_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try db.write { tx in
            try tx.put("a", "first value")
            try tx.put("b", "second, longer value")
            try tx.put("empty", [UInt8]())
            try tx.put("big", big)
            try tx.put("inline, past the stack buffer", Array(big.prefix(1200)))
            try tx.namespace("ns").put("a", "in a namespace")
        }
        try db.read { (tx) throws -> Void in
            let (outer, inner, got) = try #require(try tx.withValue(for: "a") { (a) throws -> ([UInt8], [UInt8]?, [UInt8]?) in
                let inner = try tx.withValue(for: "b") { Array($0) }
                let got = try tx.get("big")
                return (Array(a), inner, got)
            })
            #expect(outer == Array("first value".utf8))
            #expect(inner == Array("second, longer value".utf8))
            #expect(got == big)
            // After a nested call the buffer is free again and serves the next call.
            #expect(try tx.withValue(for: "b") { Array($0) } == Array("second, longer value".utf8))
            #expect(try tx.withValue(for: "empty") { $0.count } == 0)
            #expect(try tx.withValue(for: "big") { Array($0) } == big)
            #expect(try tx.withValue(for: "inline, past the stack buffer") { Array($0) } == Array(big.prefix(1200)))
            #expect(try tx.namespace("ns").withValue(for: "a") { Array($0) } == Array("in a namespace".utf8))
            #expect(try tx.withValue(for: "absent") { $0.count } == nil)
        }
        try db.write { tx in
            try tx.put("a", "changed")
            #expect(try tx.withValue(for: "a") { Array($0) } == Array("changed".utf8))
        }
    }

    @Test(arguments: [Durability.oneSync, .twoPhase, .noSync])
    func everyDurabilityModeCommitsAndReopens(mode: Durability) throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let path = dir + "/d.sealkv"
        let db = try Database.open(at: path, credential: .password("p"), options: TestSupport.options(durability: mode))
        for i in 0..<50 { try db.write { tx in try tx.put("k\(i)", "v\(i)") } }
        try db.sync()
        try TestSupport.expectClean(db)
        db.close()
        let again = try Database.open(at: path, credential: .password("p"), options: TestSupport.options(.openExisting))
        #expect(try again.read { try $0.count() } == 50)
        again.close()
    }

    /// A commit whose write or sync fails poisons the handle. Large commits (which cache their pages
    /// before the sync) and small ones alike leave the poisoned handle reading exactly what was
    /// acknowledged, and the store reopening at that or, after a failed sync, at the failed commit.
    @Test(arguments: [1, 20_000])  // 20,000 entries of 100 bytes: over 600 pages
    func failedWriteOrSyncPoisonsTheHandle(lostEntries: Int) throws {
        for failSync in [false, true] {
            let memory = MemoryStorage()
            let storage = FaultyStorage(memory)
            let db = try Database.open(storage: storage, credential: .password("p"), options: TestSupport.options(), create: true)
            try db.write { tx in
                try tx.put("acknowledged", "yes")
                for i in 0..<3000 { try tx.put("kept-\(i)", "\(i)") }
            }
            // Room for the commit, so the failure hits its own writes and sync, not the growth.
            try memory.resize(toPages: memory.pageCount + 2 * UInt64(lostEntries) / 10 + 64)
            if failSync { storage.failSyncs.withLock { $0 = true } } else { storage.failWrites.withLock { $0 = true } }
            #expect(throws: SealKVError.self) {
                try db.write { tx in
                    for i in 0..<lostEntries { try tx.put("lost-\(i)", [UInt8](repeating: 7, count: 100)) }
                    for i in 0..<3000 where i % 3 == 0 { try tx.put("kept-\(i)", "overwritten") }
                }
            }
            storage.failSyncs.withLock { $0 = false }
            storage.failWrites.withLock { $0 = false }
            do {
                try db.write { tx in try tx.put("after", "no") }
                Issue.record("a poisoned handle accepted a commit")
            } catch let e as SealKVError {
                #expect(e.code == .poisoned)
            }
            // Reads of acknowledged data still work on the poisoned handle.
            let acknowledged = ["acknowledged": "yes"].merging((0..<3000).map { ("kept-\($0)", "\($0)") }) { a, _ in a }
            func contents(_ db: Database) throws -> [String: String] {
                try db.read { tx in
                    Dictionary(uniqueKeysWithValues: try tx.all().map { (String(decoding: $0.0, as: UTF8.self), String(decoding: $0.1, as: UTF8.self)) })
                }
            }
            #expect(try contents(db) == acknowledged)
            db.close()
            // A failed sync says nothing of what reached the disk: the store reopens at the last
            // acknowledged commit or at the failed one, whole.
            var attempted = acknowledged
            for i in 0..<lostEntries { attempted["lost-\(i)"] = String(decoding: [UInt8](repeating: 7, count: 100), as: UTF8.self) }
            for i in 0..<3000 where i % 3 == 0 { attempted["kept-\(i)"] = "overwritten" }
            let reopened = try Database.open(storage: memory, credential: .password("p"), options: TestSupport.options())
            let after = try contents(reopened)
            #expect(after == acknowledged || (failSync && after == attempted))
            try TestSupport.expectClean(reopened)
        }
    }

    /// A large commit's batches are written by a thread of their own while sealing goes on. A
    /// write that fails — any of the thread's batches, or the final one with the meta — fails that
    /// commit (not a later one), stops it, gives every buffer back, and leaves the store as the
    /// previous commit left it.
    @Test func failedBackgroundBatchFailsItsCommit() throws {
        // Write calls 0..<failing succeed, the next fails; `failing` grows until the commit (about
        // 1,700 pages: several full batches through the thread, then the last with the meta)
        // makes fewer calls than that and succeeds.
        var failing = 0
        while true {
            let memory = MemoryStorage()
            let storage = FaultyStorage(memory)
            let db = try Database.open(storage: storage, credential: .password("p"), options: TestSupport.options(), create: true)
            try db.write { tx in for i in 0..<2000 { try tx.put("kept-\(i)", "yes") } }
            storage.writeCallsBeforeFailure.withLock { $0 = failing }
            let committed: Bool
            do {
                try db.write { tx in for i in 0..<50_000 { try tx.put("lost-\(i)", [UInt8](repeating: 7, count: 100)) } }
                committed = true
            } catch let e as SealKVError {
                #expect(e.code == .ioError, "\(e)")
                #expect(storage.writeCallsBeforeFailure.withLock { $0 } == 0, "call \(failing) did not fail, yet the commit did")
                committed = false
            }
            storage.writeCallsBeforeFailure.withLock { $0 = .max }
            if !committed {
                #expect(throws: SealKVError.self) { try db.write { tx in try tx.put("after", "no") } }
            }
            #expect(db.pager.buffers.bufferCount == db.pager.buffers.freeCount, "a sealed batch's buffer was not given back")
            db.close()
            let reopened = try Database.open(storage: memory, credential: .password("p"), options: TestSupport.options())
            #expect(try reopened.read { try $0.count() } == (committed ? 52_000 : 2000), "failing write call \(failing)")
            try TestSupport.expectClean(reopened)
            reopened.close()
            if committed { break }
            failing += 1
            try #require(failing < 100)
        }
        #expect(failing > 2, "the commit made only \(failing) write calls; none went through the thread")
    }

    @Test func closedHandleRefusesWork() throws {
        let (db, _) = try TestSupport.memoryStore()
        db.close()
        do {
            _ = try db.read { try $0.get("x") }
            Issue.record("read after close")
        } catch let e as SealKVError {
            #expect(e.code == .closed)
        }
        db.close()
    }

    @Test func inMemoryStoreNeverTouchesDisk() throws {
        let db = try Database.inMemory()
        try db.write { tx in try tx.put("a", "b") }
        #expect(try db.read { try $0.getString("a") } == "b")
        #expect(db.path == nil)
        #expect(try db.stats().ioEngine == "memory")
    }

    @Test func statsReportReaders() throws {
        let (db, _) = try TestSupport.memoryStore()
        try db.write { tx in for i in 0..<1000 { try tx.put("k\(i)", "v") } }
        let started = DispatchSemaphore(value: 0), finish = DispatchSemaphore(value: 0)
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            try! db.read { _ in started.signal(); finish.wait() }
        }
        started.wait()
        let stats = try db.stats()
        finish.signal()
        group.wait()
        #expect(stats.readers.contains { $0.txnID == 1 })
        #expect(try db.check().pagesByKind[.leaf, default: 0] > 1)
        #expect(stats.entries[""] == 1000)
        #expect(stats.depth == 2)
    }
}

func format4(_ i: Int) -> String {
    let s = String(i)
    return String(repeating: "0", count: max(0, 4 - s.count)) + s
}
