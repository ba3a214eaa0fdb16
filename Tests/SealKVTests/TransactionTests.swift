@testable import SealKV
import Testing
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

@Suite("Transactions, snapshots and free pages")
struct TransactionTests {
    @Test func readersSeeExactlyOneCommittedState() throws {
        let (db, _) = try TestSupport.memoryStore()
        let keys = (0..<40).map { "key-\($0)" }
        try db.write { tx in for k in keys { try tx.put(k, "0") } }
        let violations = Atomic<Int>(0)
        let reads = Atomic<Int>(0)
        let writerDone = Atomic<Bool>(false)
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            for round in 1...1500 {
                try! db.write { tx in for k in keys { try tx.put(k, "\(round)") } }
            }
            writerDone.store(true, ordering: .releasing)
        }
        for _ in 0..<3 {
            DispatchQueue.global().async(group: group) {
                var mine = 0
                while !writerDone.load(ordering: .acquiring) || mine < 20 {
                    mine += 1
                    try! db.read { tx in
                        let first = try tx.getString(keys[0])
                        for k in keys where try tx.getString(k) != first { violations.add(1, ordering: .relaxed) }
                        for (_, v) in try tx.all() where String(decoding: v, as: UTF8.self) != first {
                            violations.add(1, ordering: .relaxed)
                        }
                        if try tx.getString(keys[0]) != first { violations.add(1, ordering: .relaxed) }
                    }
                    reads.add(1, ordering: .relaxed)
                }
            }
        }
        group.wait()
        let violationCount = violations.load(ordering: .relaxed), readCount = reads.load(ordering: .relaxed)
        #expect(violationCount == 0)
        #expect(readCount > 10)
        try TestSupport.expectClean(db)
    }

    @Test func longReaderKeepsItsSnapshotAndPagesAreReusedAfterIt() throws {
        let (db, storage) = try TestSupport.memoryStore(cacheSize: 1 << 20)
        try db.write { tx in for i in 0..<200 { try tx.put("k\(i)", "original-\(i)") } }
        let readerStarted = DispatchSemaphore(value: 0)
        let churnDone = DispatchSemaphore(value: 0)
        let readerOK = Atomic<Bool>(false)
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            try! db.read { tx in
                readerStarted.signal()
                churnDone.wait()
                var ok = true
                for i in 0..<200 where try tx.getString("k\(i)") != "original-\(i)" { ok = false }
                let scanned = try tx.all().map { $0.key }.count
                ok = ok && scanned == 200
                readerOK.store(ok, ordering: .releasing)
            }
        }
        readerStarted.wait()
        for round in 0..<10_000 {
            try db.write { tx in try tx.put("k\(round % 200)", "round-\(round)") }
        }
        let grownWhileReading = storage.pageCount
        churnDone.signal()
        group.wait()
        let sawSnapshot = readerOK.load(ordering: .acquiring)
        #expect(sawSnapshot)
        // With the reader gone, churning the same keys reuses pages: the file stops growing.
        for round in 0..<300 { try db.write { tx in try tx.put("k\(round % 200)", "again-\(round)") } }
        let settled = storage.pageCount
        for round in 0..<2000 { try db.write { tx in try tx.put("k\(round % 200)", "more-\(round)") } }
        #expect(storage.pageCount <= settled, "grew from \(settled) to \(storage.pageCount) pages without readers")
        #expect(settled <= grownWhileReading)
        try TestSupport.expectClean(db)
    }

    /// A commit that frees the file's tail cuts those pages off instead of listing them when no
    /// reader is alive; a reader may still start while that commit is being written, on the
    /// snapshot before it, which reaches the cut pages. The next commit appends at the new end:
    /// it must not write over them while that reader lives.
    @Test func readerStartedDuringATailCuttingCommitKeepsItsPages() throws {
        let (db, _) = try TestSupport.memoryStore()
        defer { db.close() }
        let keys = (0..<3000).map { "key-\($0)" }
        try db.write { tx in for k in keys { try tx.put(k, "first") } }
        let registered = DispatchSemaphore(value: 0), proceed = DispatchSemaphore(value: 0)
        let result = Locked<Result<Int, SealKVError>?>(nil)
        let fired = Atomic<Bool>(false)
        let group = DispatchGroup()
        db.commitObserver.withLock {
            $0 = CommitObserver(willWrite: { _ in
                guard !fired.exchange(true, ordering: .relaxed) else { return }
                // The commit deleting everything has decided its cut; a reader starts now.
                DispatchQueue.global().async(group: group) {
                    do {
                        let n = try db.read { tx in
                            registered.signal()
                            proceed.wait()
                            var n = 0
                            for k in keys where try tx.getString(k) == "first" { n += 1 }
                            return n
                        }
                        result.withLock { $0 = .success(n) }
                    } catch {
                        result.withLock { $0 = .failure(error as! SealKVError) }
                        registered.signal()
                    }
                }
                registered.wait()
            }, didPublish: { _ in })
        }
        try db.write { tx in for k in keys { try tx.delete(k) } }
        db.commitObserver.withLock { $0 = nil }
        // Appends at the end of the (logically shorter) file.
        for round in 0..<5 { try db.write { tx in for k in keys { try tx.put(k, "later-\(round)") } } }
        proceed.signal()
        group.wait()
        let outcome = result.withLock { $0 }
        #expect(outcome.map { r in if case .success(let n) = r { n == keys.count } else { false } } ?? false,
                "the reader's snapshot lost pages: \(String(describing: outcome))")
        try TestSupport.expectClean(db)
    }

    @Test func fileShrinksAfterDeletingEverything() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let path = dir + "/shrink.sealkv"
        let db = try Database.open(at: path, credential: .password("p"), options: TestSupport.options())
        for batch in 0..<20 {
            try db.write { tx in
                for i in 0..<10_000 { try tx.put("key-\(batch)-\(i)", [UInt8](repeating: UInt8(i & 0xFF), count: 40)) }
            }
        }
        #expect(try db.read { try $0.count() } == 200_000)
        let full = TestSupport.readFile(path).count
        for batch in 0..<20 {
            try db.write { tx in for i in 0..<10_000 { try tx.delete("key-\(batch)-\(i)") } }
        }
        #expect(try db.read { try $0.count() } == 0)
        // The tail is cut by the commit that frees it where it can, else by the next commit.
        try db.write { tx in try tx.put("one more", "commit") }
        try TestSupport.expectClean(db)
        let size = TestSupport.readFile(path).count
        #expect(size <= 8 * FileFormat.pageSize, "file is \(size) bytes after deleting everything (was \(full))")
        db.close()
    }

    /// An older sealed image of a page put back in place authenticates on its own (same key, same
    /// page number); only the parent's Merkle link (tag and txnid) can refuse it. The page chosen
    /// was written before the newest commit: replacing a page of the newest commit instead makes
    /// that commit look torn, and open falls back one commit (see THREAT-MODEL.md).
    /// A single-put commit writes its tree path, the free tree's path to its last leaf and the meta,
    /// nothing more: the pages it reuses come from the newest free chunks, which sit in the leaf
    /// the commit rewrites anyway to list what it freed. Taking the lowest free pages instead
    /// rewrote an old chunk's leaf too, one more scattered page per fsync.
    @Test func singlePutCommitsWriteOnlyTheirPaths() throws {
        let storage = ObservingStorage()
        let db = try Database.open(storage: storage, credential: .password(TestSupport.password),
                                   options: TestSupport.options(), create: true)
        defer { db.close() }
        var rng = SeededRandom(seed: 11)
        let keys = (0..<100_000).map { i -> String in let d = String(i); return "key-" + String(repeating: "0", count: 6 - d.count) + d }
        try db.write { tx in for k in keys { try tx.put(k, [UInt8](repeating: 1, count: 100)) } }
        // Freeing a run of leaves in one commit lists a few hundred pages: several free-tree leaves.
        try db.write { tx in for k in keys[0..<20_000] { try tx.delete(k) } }
        let state = db.shared.withLock { $0.current }
        #expect(state.free.depth >= 2, "the free tree should have branches for this test to mean anything")
        var written: [Int] = []
        for round in 0..<200 {
            let before = storage.log.withLock { $0.count }
            try db.write { tx in try tx.put(keys[20_000 + Int(rng.next() % 80_000)], [UInt8](repeating: UInt8(round & 0xFF), count: 100)) }
            written.append(storage.log.withLock { $0.count } - before)
        }
        let after = db.shared.withLock { $0.current }
        let path = Int(after.main.depth + after.free.depth) + 1
        let median = written.sorted()[written.count / 2]
        #expect(median <= path, "a single put wrote \(median) pages (median); its paths and the meta are \(path)")
        try TestSupport.expectClean(db)
    }

    /// A large commit hands its sealed pages to storage in batches rather than sealing a copy of
    /// every page first, and gives the dirty pages' memory back afterwards.
    @Test func largeCommitWritesInBatchesAndReleasesItsBuffers() throws {
        let storage = ObservingStorage()
        let db = try Database.open(storage: storage, credential: .password(TestSupport.password),
                                   options: TestSupport.options(), create: true)
        defer { db.close() }
        let before = storage.log.withLock { $0.count }
        try db.write { tx in for i in 0..<300_000 { try tx.put("key-\(i)", [UInt8](repeating: UInt8(i & 0xFF), count: 100)) } }
        let written = storage.log.withLock { $0.count } - before
        #expect(written > 2 * Pager.idleBuffersKept, "the commit wrote \(written) pages")
        #expect(storage.writeCalls.withLock { $0.max() ?? 0 } <= CommitSealing.batchPages + 1)
        // What stays mapped is the pool's idle reserve (plus a partly used arena), not the commit.
        #expect(db.pager.buffers.bufferCount <= Pager.idleBuffersKept + 256, "the pool still holds \(db.pager.buffers.bufferCount) buffers")
        #expect(try db.read { try $0.count() } == 300_000)
        try TestSupport.expectClean(db)
    }

    /// A large write transaction's dirty pages borrow the cache's memory: with the cache full, a
    /// transaction dirtying thousands of pages beyond ``Pager/borrowThreshold`` maps little buffer
    /// memory of its own, and every borrowed slot goes back when it ends, committed or rolled back.
    @Test func dirtyPagesBorrowTheCachesMemory() throws {
        let (db, _) = try TestSupport.memoryStore(cacheSize: 64 << 20)
        defer { db.close() }
        let capacity = db.pager.cache.capacity
        let keys = 240_000
        try db.write { tx in for i in 0..<keys { try tx.put("key-\(i)", [UInt8](repeating: 7, count: 100)) } }
        #expect(try db.read { tx in try tx.all().reduce(0) { n, _ in n + 1 } } == keys)
        #expect(db.pager.cache.count > capacity * 3 / 4, "the cache should be warm")
        let poolBefore = db.pager.buffers.bufferCount
        struct Rollback: Error {}
        for commit in [true, false] {
            do {
                try db.write { tx in
                    for i in stride(from: 0, to: keys, by: 20) { try tx.put("key-\(i)", [UInt8](repeating: 8, count: 100)) }
                    let beyond = tx.space.dirty.count - Pager.borrowThreshold
                    #expect(beyond > 2_000, "only \(tx.space.dirty.count) dirty pages")
                    #expect(db.pager.cache.lentCount >= beyond, "lent \(db.pager.cache.lentCount) of \(capacity)")
                    let mapped = db.pager.buffers.bufferCount - poolBefore
                    #expect(mapped <= Pager.borrowThreshold + 2 * Pager.borrowBatch, "the pool mapped \(mapped) buffers of its own")
                    if !commit { throw Rollback() }
                }
            } catch is Rollback {}
            #expect(db.pager.cache.lentCount == 0, "slots still lent after the transaction (commit: \(commit))")
        }
        #expect(try db.read { tx in try tx.get("key-0") } == [UInt8](repeating: 8, count: 100))
        try TestSupport.expectClean(db)
    }

    @Test func oldVersionOfAPageIsRefused() throws {
        let (db, storage) = try TestSupport.memoryStore()
        try db.write { tx in for i in 0..<2000 { try tx.put("key-\(i)", "v1-\(i)") } }
        var olds = [storage.snapshot()]
        for round in 2...3 {
            try db.write { tx in for i in 0..<2000 where i % 7 == 0 { try tx.put("key-\(i)", "v\(round)-\(i)") } }
            olds.append(storage.snapshot())
        }
        // The newest commit touches only the first keys, so most leaves keep older txnids.
        try db.write { tx in try tx.put("key-0", "v4-0") }
        db.close()
        var bytes = storage.snapshot()
        let reopened = try TestSupport.reopen(bytes)
        let leaves: [PageLink] = try reopened.read { tx in
            try tx.pages.withPage(tx.base.main.root) { p in
                let node = NodePage(p)
                return (0..<node.count).map { node.child($0) }
            }
        }
        let newest = try reopened.read { $0.snapshotTxnID }
        reopened.close()
        var victim: (page: UInt64, old: [UInt8])? = nil
        for link in leaves where victim == nil && link.txnID < newest {
            let r = Int(link.page) * 4096..<(Int(link.page) + 1) * 4096
            for old in olds.reversed() where old.count >= r.upperBound && old[r] != bytes[r] && old[r].contains(where: { $0 != 0 }) {
                victim = (link.page, old)
                break
            }
        }
        let (page, old) = try #require(victim)
        let range = Int(page) * 4096..<(Int(page) + 1) * 4096
        bytes.replaceSubrange(range, with: old[range])
        let attacked = try TestSupport.reopen(bytes)
        #expect(!attacked.recovery.fellBack)
        var failures = 0
        var wrongValues = 0
        for i in 0..<2000 {
            do {
                let v = try attacked.read { try $0.getString("key-\(i)") }
                let want = i == 0 ? "v4-0" : i % 7 == 0 ? "v3-\(i)" : "v1-\(i)"
                if v != want { wrongValues += 1 }
            } catch let e as SealKVError {
                #expect(e.code == .corrupted)
                #expect(e.page == page)
                #expect(e.message.contains("page \(page)"))
                failures += 1
            }
        }
        #expect(failures > 0)
        #expect(wrongValues == 0, "a rolled-back page served old values")
        let report = try attacked.check()
        #expect(report.problems.contains { $0.page == page })
    }

    @Test func sixtyFourMebibyteValue() throws {
        let (db, storage) = try TestSupport.memoryStore()
        var value = [UInt8](repeating: 0, count: 64 << 20)
        var rng = SeededRandom(seed: 64)
        value.withUnsafeMutableBytes { b in
            let words = b.bindMemory(to: UInt64.self)
            for i in words.indices { words[i] = rng.next() }
        }
        try db.write { tx in
            try tx.put("small", "x")
            try tx.put("huge", value)
        }
        #expect(try db.read { try $0.get("huge") } == value)
        let withValue = storage.pageCount
        #expect(withValue > UInt64((64 << 20) / FileFormat.overflowCapacity))
        try TestSupport.expectClean(db)
        // Overwrite with a small value, then delete: every overflow page is freed.
        try db.write { tx in try tx.put("huge", "tiny now") }
        try TestSupport.expectClean(db)
        _ = try db.write { tx in try tx.delete("huge") }
        try db.write { tx in try tx.put("one more", "commit") }
        let report = try db.check()
        #expect(report.isClean)
        #expect(report.pagesByKind[.overflow, default: 0] == 0)
        #expect(storage.pageCount < 16, "file still holds \(storage.pageCount) pages")
    }

    @Test func throwingClosureRollsBackAndRethrowsTheFirstError() throws {
        struct Boom: Error {}
        let (db, _) = try TestSupport.memoryStore()
        try db.write { tx in try tx.put("keep", "1") }
        #expect(throws: Boom.self) {
            try db.write { tx in
                try tx.put("keep", "2")
                try tx.put("new", "x")
                throw Boom()
            }
        }
        #expect(try db.read { try $0.getString("keep") } == "1")
        #expect(try db.read { try $0.get("new") } == nil)
        // A store error swallowed inside the closure still rolls back: the first error wins.
        do {
            try db.write { tx in
                try tx.put("keep", "3")
                _ = try? tx.put("", "empty key is an error")
                try tx.put(Array(repeating: 1, count: Limits.maxKeyLength + 1), "too long")
            }
            Issue.record("committed despite an error")
        } catch let e as SealKVError {
            #expect(e.code == .keyTooLarge)
        }
        #expect(try db.read { try $0.getString("keep") } == "1")
    }

    /// Ended read transactions are kept and reopened for later reads (`IdleReaders`); a reopened
    /// one must read exactly as a new one would.
    @Test func reusedReadTransactionsStartFresh() throws {
        let (db, _) = try TestSupport.memoryStore()
        try db.write { tx in try tx.namespace("a").put("k", "1") }
        #expect(try db.read { try $0.namespace("a").getString("k") } == "1")
        #expect(db.shared.withLock { $0.idleReaders.count } == 1)
        let first = try db.read { ObjectIdentifier($0) }
        #expect(try db.read { ObjectIdentifier($0) } == first, "an ended transaction was not reused")
        // What the last reader looked up (the namespace's tree) and its snapshot are forgotten.
        try db.write { tx in
            try tx.namespace("a").put("k", "2")
            try tx.namespace("b").put("k", "3")
        }
        #expect(try db.read { try $0.namespace("a").getString("k") } == "2")
        #expect(try db.read { try $0.namespace("b").getString("k") } == "3")
        #expect(try db.read { $0.snapshotTxnID } == db.currentTxnID)
        try db.write { tx in _ = try tx.dropNamespace("a") }
        #expect(try db.read { try $0.hasNamespace("a") } == false)
        #expect(try db.read { try $0.namespace("a").get("k") } == nil)
        // A reader that failed is reused as well, without its error.
        #expect(throws: SealKVError.self) { try db.read { try $0.get([UInt8]()) } }
        #expect(try db.read { try $0.getString(Array("k".utf8)) } == nil)
        #expect(db.shared.withLock { $0.idleReaders.count } == 1)
        db.close()
        #expect(db.shared.withLock { $0.idleReaders.count } == 0)
    }

    /// A transaction, cursor or namespace handle that escaped its closure keeps its transaction
    /// referenced: it must never be reopened for a later reader (it would come back to life on
    /// someone else's snapshot).
    @Test func anEscapedTransactionIsNeverReused() throws {
        let (db, _) = try TestSupport.memoryStore()
        try db.write { tx in try tx.put("x", "1") }
        let escaped = try db.read { $0 }
        let cursor = try db.read { try $0.cursor() }
        let namespace = try db.read { try $0.namespace("") }
        let escapedIDs: Set = [ObjectIdentifier(escaped), ObjectIdentifier(cursor.transaction), ObjectIdentifier(namespace.transaction)]
        try db.write { tx in try tx.put("x", "2") }
        for _ in 0..<3 {
            let id = try db.read { (tx) throws -> ObjectIdentifier in
                #expect(try tx.getString("x") == "2")
                return ObjectIdentifier(tx)
            }
            #expect(!escapedIDs.contains(id))
        }
        #expect(throws: SealKVError.self) { try escaped.get("x") }
        #expect(throws: SealKVError.self) { try namespace.get("x") }
        #expect(throws: SealKVError.self) { try cursor.first() }
    }

    @Test func transactionCannotEscapeItsClosure() throws {
        let (db, _) = try TestSupport.memoryStore()
        let escaped = try db.read { $0 }
        do {
            _ = try escaped.get("x")
            Issue.record("an escaped transaction still worked")
        } catch {
            #expect(error.code == .transactionClosed)
        }
    }

    /// A sequence, cursor or namespace handle that escaped its closure must never answer "empty":
    /// throwing methods fail with `transactionClosed`, and the accessors that cannot throw stop the
    /// program (an exit test: each runs in a child process).
    @Test func escapedCursorsAndSequencesAreAnErrorNotAnEmptyAnswer() async throws {
        try escapedThrowingMethodsFail()
        await #expect(processExitsWith: .failure) {
            let (db, _) = try TestSupport.memoryStore()
            try db.write { tx in try tx.put("a1", "x") }
            let escaped = try db.read { tx in try tx.prefix("a") }
            _ = Array(escaped)
        }
        await #expect(processExitsWith: .failure) {
            let (db, _) = try TestSupport.memoryStore()
            try db.write { tx in try tx.put("a1", "x") }
            let iterator = try db.read { tx in try tx.all().makeIterator() }
            _ = iterator.next()
        }
        await #expect(processExitsWith: .failure) {
            let (db, _) = try TestSupport.memoryStore()
            try db.write { tx in try tx.put("a1", "x") }
            let cursor = try db.read { tx in
                let c = try tx.cursor()
                _ = try c.first()
                return c
            }
            _ = cursor.key
        }
    }

    /// The methods that can throw fail with `transactionClosed` once their transaction has ended.
    func escapedThrowingMethodsFail() throws {
        let (db, _) = try TestSupport.memoryStore()
        try db.write { tx in try tx.put("a1", "x"); try tx.put("a2", "y") }
        let (cursor, namespace) = try db.read { tx in (try tx.cursor(), try tx.namespace("")) }
        #expect(throws: SealKVError.self) { try cursor.first() }
        #expect(throws: SealKVError.self) { try namespace.get("a1") }
        #expect(throws: SealKVError.self) { try namespace.prefix("a") }
    }

    @Test func nestedWriteOnTheSameThreadIsAnErrorNotADeadlock() throws {
        let (db, _) = try TestSupport.memoryStore()
        do {
            try db.write { _ in try db.write { tx in try tx.put("a", "b") } }
            Issue.record("nested write ran")
        } catch let e as SealKVError {
            #expect(e.code == .conflict)
        }
    }

    @Test func writeInsideAReadTransactionIsRefused() throws {
        let (db, _) = try TestSupport.memoryStore()
        try db.write { tx in try tx.namespace("ns").put("a", "b") }
        do {
            try db.read { tx in try tx.namespace("ns").put("c", "d") }
            Issue.record("wrote in a read transaction")
        } catch let e as SealKVError {
            #expect(e.code == .readOnly)
        }
        // A missing namespace reads as empty and is not created by reading it.
        try db.read { tx in
            let missing = try tx.namespace("missing")
            #expect(try missing.get("a") == nil)
            #expect(try missing.count() == 0)
            #expect(try missing.cursor().first() == false)
            #expect(try tx.hasNamespace("missing") == false)
            #expect(try tx.hasNamespace("ns") && tx.hasNamespace(""))
            do {
                try missing.put("c", "d")
                Issue.record("wrote a missing namespace in a read transaction")
            } catch let e as SealKVError {
                #expect(e.code == .readOnly)
            }
        }
        #expect(try db.read { tx in try tx.namespaces() } == ["ns"])
    }

    @Test func keyAndValueLimits() throws {
        let (db, _) = try TestSupport.memoryStore()
        try db.write { tx in
            try tx.put([UInt8](repeating: 0xFF, count: Limits.maxKeyLength), [UInt8](repeating: 1, count: 5000))
            try tx.put([UInt8](repeating: 0x00, count: 1), [UInt8]())
        }
        #expect(try db.read { try $0.get([UInt8](repeating: 0xFF, count: Limits.maxKeyLength))?.count } == 5000)
        #expect(try db.read { try $0.get([UInt8](repeating: 0x00, count: 1)) } == [])
        for (key, code) in [([UInt8](), SealKVError.Code.emptyKey), ([UInt8](repeating: 1, count: Limits.maxKeyLength + 1), .keyTooLarge)] {
            do {
                try db.write { tx in try tx.put(key, "v") }
                Issue.record("accepted a bad key")
            } catch let e as SealKVError {
                #expect(e.code == code)
            }
        }
        try TestSupport.expectClean(db)
    }

    @Test func namespacesAreSeparate() throws {
        let (db, _) = try TestSupport.memoryStore()
        try db.write { tx in
            try tx.put("k", "default")
            try tx.namespace("a").put("k", "in a")
            try tx.namespace("b").put("k", "in b")
        }
        let seen = try db.read { tx in
            [try tx.getString("k"), try tx.namespace("a").getString("k"), try tx.namespace("b").getString("k")]
        }
        #expect(seen == ["default", "in a", "in b"])
        #expect(try db.read { try $0.namespaces() } == ["a", "b"])
        let dropped = try db.write { tx in try tx.dropNamespace("a") }
        #expect(dropped)
        #expect(try db.read { try $0.namespaces() } == ["b"])
        try TestSupport.expectClean(db)
    }

    // MARK: Regressions

    /// A namespace dropped and written again in one transaction used to write into its freed tree.
    @Test func dropAndReuseANamespaceInOneTransaction() throws {
        let (db, _) = try TestSupport.memoryStore()
        try db.write { tx in for i in 0..<500 { try tx.namespace("n").put("k\(i)", "v\(i)") } }
        try db.write { tx in
            try tx.dropNamespace("n")
            try tx.namespace("n").put("fresh", "1")
        }
        #expect(try db.read { try $0.namespace("n").count() } == 1)
        try TestSupport.expectClean(db)
    }

    /// Appending large keys used to split branches into a page with a single child.
    @Test func appendingLargeKeysKeepsBranchesValid() throws {
        let (db, _) = try TestSupport.memoryStore()
        for batch in 0..<20 {
            try db.write { tx in
                for i in 0..<100 {
                    var key = [UInt8](repeating: 0x61, count: 1000)
                    let n = UInt32(batch * 100 + i).bigEndian
                    withUnsafeBytes(of: n) { key.replaceSubrange(0..<4, with: $0) }
                    try tx.put(key, "v")
                }
            }
            try TestSupport.expectClean(db)
        }
    }

    /// Transactions below the borrowing threshold find the buffers an earlier one used still
    /// mapped: a steady stream of medium commits maps no memory after the first.
    @Test func mediumCommitsReuseThePoolsBuffers() throws {
        let (db, _) = try TestSupport.memoryStore()
        defer { db.close() }
        func commit(_ round: Int) throws {
            try db.write { tx in for i in 0..<40_000 { try tx.put("key-\(i)", [UInt8](repeating: UInt8(round), count: 100)) } }
        }
        try commit(0)
        try commit(1)
        let mapped = db.pager.buffers.arenasMapped
        #expect(db.pager.buffers.bufferCount > 1024, "the commits used only \(db.pager.buffers.bufferCount) buffers; the test needs more than 1,024")
        for round in 2..<5 { try commit(round) }
        // How many sealed batches are in flight at once (one to four, of an arena each) depends on
        // timing, so a later commit may need a few arenas more than the first ones did; unmapping
        // and mapping again at every commit (as with a 1,024-buffer reserve) maps about six per
        // commit, 18 over these three.
        let more = db.pager.buffers.arenasMapped - mapped
        #expect(more <= 5, "later commits mapped \(more) more arenas")
        try TestSupport.expectClean(db)
    }

    /// A handle that needs a few buffers maps a small arena, and the pool doubles from there up to
    /// full arenas: opening a store to read or check it no longer maps and locks 1 MiB of buffers.
    @Test func theBufferPoolStartsSmallAndDoubles() {
        let pool = PageBufferPool()
        var taken = [pool.take()]
        #expect(pool.bufferCount == PageBufferPool.firstArenaPages)
        var sizes = [pool.bufferCount]
        while pool.bufferCount < 1_024 {
            taken.append(pool.take())
            if pool.bufferCount != sizes.last { sizes.append(pool.bufferCount) }
        }
        #expect(sizes == [16, 32, 64, 128, 256, 512, 768, 1_024], "pool sizes \(sizes)")
        for p in taken { pool.give(p) }
        pool.releaseIdle(keeping: 0)
        #expect(pool.bufferCount <= 256)
    }

    /// Live readers are listed by `stats()` oldest first, with their snapshot and age; ended ones
    /// leave no trace, and their slots are reused rather than piling up.
    @Test func statsListsLiveReadersOldestFirst() throws {
        let (db, _) = try TestSupport.memoryStore()
        defer { db.close() }
        try db.write { tx in try tx.put("a", "1") }
        for _ in 0..<1000 { _ = try db.read { try $0.get("a") } }
        try db.read { outer in
            try db.write { tx in try tx.put("b", "2") }
            Glibc.usleep(60_000)
            try db.read { inner in
                let readers = try db.stats().readers
                #expect(readers.map(\.txnID) == [outer.snapshotTxnID, inner.snapshotTxnID])
                #expect(outer.snapshotTxnID < inner.snapshotTxnID)
                #expect(readers.count == 2 && readers[0].age >= .milliseconds(40) && readers[0].age > readers[1].age,
                        "ages \(readers.map(\.age))")
            }
        }
        #expect(try db.stats().readers.isEmpty)
        #expect(db.shared.withLock { $0.readers.isEmpty })
    }

}
