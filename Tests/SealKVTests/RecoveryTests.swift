@testable import SealKV
import Testing

/// A memory backend that remembers every page image written to it.
final class ObservingStorage: PageStorage, @unchecked Sendable {
    let inner: MemoryStorage
    let log: Locked<[(page: UInt64, image: [UInt8])]>
    /// Pages per `writePages` call, in order.
    let writeCalls = Locked<[Int]>([])
    init(bytes: [UInt8] = [], log: Locked<[(page: UInt64, image: [UInt8])]> = Locked([])) {
        inner = MemoryStorage(bytes: bytes)
        self.log = log
    }
    var pageCount: UInt64 { inner.pageCount }
    var engineName: String { "observing" }
    func readPage(_ n: UInt64, into b: UnsafeMutableRawPointer) throws(SealKVError) { try inner.readPage(n, into: b) }
    func writePages(_ writes: [PageWrite], sync: Bool) throws(SealKVError) {
        writeCalls.withLock { $0.append(writes.count) }
        log.withLock { log in
            for w in writes { log.append((w.page, Array(UnsafeRawBufferPointer(start: w.bytes, count: FileFormat.pageSize)))) }
        }
        try inner.writePages(writes, sync: sync)
    }
    func sync() throws(SealKVError) {}
    func resize(toPages pages: UInt64) throws(SealKVError) { try inner.resize(toPages: pages) }
    func close() {}
}

@Suite("Recovery and confidentiality")
struct RecoveryTests {
    /// Two commits; returns the store's bytes after the first and after the second.
    func twoCommits() throws -> (before: [UInt8], after: [UInt8]) {
        let (db, storage) = try TestSupport.memoryStore()
        try db.write { tx in for i in 0..<200 { try tx.put("k\(i)", "first-\(i)") } }
        let before = storage.snapshot()
        try db.write { tx in
            for i in 0..<200 where i % 3 == 0 { try tx.put("k\(i)", "second-\(i)") }
            try tx.put("new", "second")
        }
        db.close()
        return (before, storage.snapshot())
    }

    @Test func tornNewestMetaOpensAtThePreviousCommit() throws {
        let (before, after) = try twoCommits()
        // The second commit (txn 2) wrote meta slot 0. Write every prefix of its new bytes over the old.
        let slot = 0
        let oldMeta = Array(before[(slot * 4096)..<((slot + 1) * 4096)])
        let newMeta = Array(after[(slot * 4096)..<((slot + 1) * 4096)])
        for k in 0...4096 {
            var bytes = after
            bytes.replaceSubrange((slot * 4096)..<((slot + 1) * 4096), with: newMeta[..<k] + oldMeta[k...])
            let db = try TestSupport.reopen(bytes)
            let (txn, value) = try db.read { tx in (tx.snapshotTxnID, try tx.getString("new")) }
            if k == 4096 {
                #expect(txn == 2 && value == "second")
            } else {
                #expect(txn == 1, "prefix \(k) opened txn \(txn)")
                #expect(value == nil)
                #expect(try db.read { try $0.getString("k3") } == "first-3")
                #expect(db.recovery.chosenSlot == 1)
            }
            try TestSupport.expectClean(db)
        }
    }

    @Test func missingDataPageOpensAtThePreviousCommit() throws {
        let (before, after) = try twoCommits()
        let db = try TestSupport.reopen(after)
        let state = try db.read { $0.base }
        db.close()
        // Every page the second commit wrote, in turn, left as it was before the commit.
        let written = (Int(FileFormat.firstDataPage)..<Int(state.pageCount)).filter { p in
            let range = (p * 4096)..<((p + 1) * 4096)
            return p * 4096 >= before.count || before[range] != after[range]
        }
        #expect(!written.isEmpty)
        for p in written {
            var bytes = after
            let range = (p * 4096)..<((p + 1) * 4096)
            if p * 4096 < before.count {
                bytes.replaceSubrange(range, with: before[range])
            } else {
                bytes.replaceSubrange(range, with: [UInt8](repeating: 0, count: 4096))
            }
            let reopened = try TestSupport.reopen(bytes)
            #expect(reopened.recovery.fellBack, "page \(p) missing, yet the newest commit was accepted")
            // The contents of commit 1, under commit 3: the writable open retired the refused 2.
            #expect(reopened.recovery.openedTxnID == 1)
            #expect(try reopened.read { tx in (tx.snapshotTxnID, try tx.getString("new")) } == (3, nil))
            try TestSupport.expectClean(reopened)
        }
    }

    /// A commit whose meta reached the disk but whose pages did not is what a power cut leaves: the
    /// open tells the caller (before it writes anything), and `check` checks the commit recovery
    /// opened, naming the refused one as a warning instead of calling the store damaged.
    @Test func tornNewestCommitIsAWarningToldBeforeAnyWrite() throws {
        let (before, after) = try twoCommits()
        let p = (2..<(before.count / 4096)).first { p in before[(p * 4096)..<((p + 1) * 4096)] != after[(p * 4096)..<((p + 1) * 4096)] }!
        var torn = after
        torn.replaceSubrange((p * 4096)..<((p + 1) * 4096), with: before[(p * 4096)..<((p + 1) * 4096)])
        for mode in [OpenMode.readOnly, .openExisting] {
            let storage = MemoryStorage(bytes: torn)
            let told = Locked<(RecoveryReport, [UInt8])?>(nil)
            var options = TestSupport.options(mode)
            options.recoveryNotice = { report in told.withLock { $0 = (report, storage.snapshot()) } }
            let db = try Database.open(storage: storage, credential: .password(TestSupport.password), options: options)
            let (report, bytesWhenTold) = try #require(told.withLock { $0 })
            #expect(report == db.recovery)
            #expect(bytesWhenTold == torn, "the notice came after the open had written")
            #expect(report.refusedTxnID == 2 && report.openedTxnID == 1 && report.refusedSlot == 0)
            #expect(report.warning?.contains("transaction 2") == true)
            let check = try db.check()
            #expect(check.problems.isEmpty, "\(check.problems)")
            // A writable open retires the refused slot with an empty commit numbered past it.
            #expect(check.txnID == (mode == .readOnly ? 1 : 3))
            #expect(check.warnings.contains { $0.message == report.warning })
            #expect(try db.stats().recovery == report)
            db.close()
        }
        // An open that does not fall back tells nothing and warns of nothing.
        let told = Locked(false)
        var options = TestSupport.options()
        options.recoveryNotice = { _ in told.withLock { $0 = true } }
        let db = try Database.open(storage: MemoryStorage(bytes: after), credential: .password(TestSupport.password), options: options)
        #expect(!told.withLock { $0 })
        #expect(db.recovery.warning == nil && db.recovery.openedTxnID == 2)
        #expect(try db.check().warnings.isEmpty)
    }

    /// After a fallback, the next commit must not reuse the refused commit's txnid: a caller who
    /// saw that txnid (and passes it as `minimumTxnID`) would be satisfied by other contents.
    @Test func aCommitAfterAFallbackNeverReusesTheRefusedTxnID() throws {
        let (before, after) = try twoCommits()
        let p = (2..<(before.count / 4096)).first { p in before[(p * 4096)..<((p + 1) * 4096)] != after[(p * 4096)..<((p + 1) * 4096)] }!
        var torn = after
        torn.replaceSubrange((p * 4096)..<((p + 1) * 4096), with: before[(p * 4096)..<((p + 1) * 4096)])
        let storage = MemoryStorage(bytes: torn)
        let db = try Database.open(storage: storage, credential: .password(TestSupport.password), options: TestSupport.options(.openExisting))
        #expect(db.recovery.refusedTxnID == 2 && db.recovery.openedTxnID == 1)
        #expect(db.currentTxnID == 3, "the writable open retired the refused txnid 2 with txnid \(db.currentTxnID)")
        try db.write { tx in try tx.put("after the fallback", "x") }
        #expect(db.currentTxnID == 4)
        try TestSupport.expectClean(db)
        db.close()
        var options = TestSupport.options(.openExisting)
        options.minimumTxnID = 4
        let again = try Database.open(storage: MemoryStorage(bytes: storage.snapshot()), credential: .password(TestSupport.password), options: options)
        #expect(try again.read { try $0.getString("after the fallback") } == "x")
        #expect(try again.check().problems.isEmpty)
        // Closed without a commit after the fallback: the next session does not reuse 2 either.
        let storage2 = MemoryStorage(bytes: torn)
        try Database.open(storage: storage2, credential: .password(TestSupport.password), options: TestSupport.options(.openExisting)).close()
        let later = try Database.open(storage: MemoryStorage(bytes: storage2.snapshot()), credential: .password(TestSupport.password), options: TestSupport.options(.openExisting))
        try later.write { tx in try tx.put("k", "v") }
        #expect(later.currentTxnID > 2)
    }

    /// Found by the crash harness (compound crash, no-sync): after a fallback the refused slot still
    /// held the newer commit, claiming the file's old length. A `sync()` then cut the tail, and the
    /// next open took that slot's claim for truncation and refused the store.
    @Test func fallbackThenTailCutStillOpens() throws {
        let (db, storage) = try TestSupport.memoryStore()
        try db.write { tx in try tx.put("a", "1") }
        let before = storage.snapshot()
        try db.write { tx in for i in 0..<2000 { try tx.put("k\(i)", String(repeating: "x", count: 500)) } }
        db.close()
        var bytes = storage.snapshot()
        // Lose the first page the second commit appended, as if it never reached the disk.
        bytes.replaceSubrange(before.count..<(before.count + 4096), with: [UInt8](repeating: 0, count: 4096))
        let damaged = MemoryStorage(bytes: bytes)
        let reopened = try Database.open(storage: damaged, credential: .password(TestSupport.password), options: TestSupport.options())
        #expect(reopened.recovery.fellBack)
        #expect(reopened.currentTxnID == 3, "the refused commit 2 is retired by an empty commit 3")
        try reopened.sync()   // nothing to commit: cuts the tail the lost commit had grown
        reopened.close()
        #expect(damaged.snapshot().count < bytes.count, "the tail was not cut, so this test proves nothing")
        let again = try TestSupport.reopen(damaged.snapshot())
        #expect(again.currentTxnID == 3)
        #expect(try again.read { try $0.getString("a") } == "1")
        try TestSupport.expectClean(again)
    }

    /// Recovery itself never writes: not a read-only open after a fallback, and not a writable open
    /// of a store whose newer slot does not authenticate at all (nothing there to retire).
    @Test func recoveryDoesNotWrite() throws {
        let (before, after) = try twoCommits()
        var garbled = after
        garbled.replaceSubrange(0..<4096, with: before[0..<4096].map { $0 ^ 0xFF })
        // A page the second commit rewrote in place of an older one, put back as it was.
        var lostPage = after
        let p = (2..<(before.count / 4096)).first { p in before[(p * 4096)..<((p + 1) * 4096)] != after[(p * 4096)..<((p + 1) * 4096)] }!
        lostPage.replaceSubrange((p * 4096)..<((p + 1) * 4096), with: before[(p * 4096)..<((p + 1) * 4096)])
        for (bytes, mode) in [(garbled, OpenMode.openExisting), (lostPage, .readOnly)] {
            let storage = MemoryStorage(bytes: bytes)
            let db = try Database.open(storage: storage, credential: .password(TestSupport.password), options: TestSupport.options(mode))
            #expect(mode == .readOnly ? db.recovery.fellBack : db.recovery.slotTxnIDs[0] == nil)
            _ = try db.read { try $0.getString("k1") }
            db.close()
            #expect(storage.snapshot() == bytes)
        }
    }

    @Test func noncesNeverRepeatEvenWhenACrashReusesATxnID() throws {
        let log = Locked<[(page: UInt64, image: [UInt8])]>([])
        let first = ObservingStorage(log: log)
        let db = try Database.open(storage: first, credential: .password(TestSupport.password), options: TestSupport.options(), create: true)
        for round in 0..<30 { try db.write { tx in try tx.put("same", "round \(round)") } }
        let crashPoint = first.inner.snapshot()
        let txnAtCrash = try db.read { $0.snapshotTxnID }
        for round in 30..<40 { try db.write { tx in try tx.put("same", "round \(round)") } }
        db.close()
        // "Crash": go back to the bytes at the crash point; the next commits reuse txnids 31...
        let second = ObservingStorage(bytes: crashPoint, log: log)
        let again = try Database.open(storage: second, credential: .password(TestSupport.password), options: TestSupport.options())
        #expect(try again.read { $0.snapshotTxnID } == txnAtCrash)
        for round in 0..<10 { try again.write { tx in try tx.put("same", "after crash \(round)") } }
        again.close()

        let images = log.withLock { $0 }
        var seen = Set<[UInt8]>()
        var pagesWrittenTwice = 0
        var perPage: [UInt64: Int] = [:]
        for (page, image) in images {
            let nonce = page < 2 ? Array(image[FileFormat.metaNonce..<(FileFormat.metaNonce + 16)])
                                 : Array(image[FileFormat.headerNonce..<(FileFormat.headerNonce + 16)])
            #expect(seen.insert(nonce + withUnsafeBytes(of: page) { Array($0) }).inserted, "a nonce repeated for page \(page)")
            perPage[page, default: 0] += 1
        }
        pagesWrittenTwice = perPage.values.filter { $0 > 1 }.count
        #expect(pagesWrittenTwice > 2, "the test must rewrite page numbers to mean anything")
    }

    @Test func wholeFileRollbackIsCaughtWithMinimumTxnID() throws {
        let (before, after) = try twoCommits()
        let newest = try TestSupport.reopen(after).currentTxnID
        var options = TestSupport.options()
        options.minimumTxnID = newest
        #expect((try? Database.open(storage: MemoryStorage(bytes: after), credential: .password(TestSupport.password), options: options)) != nil)
        do {
            _ = try Database.open(storage: MemoryStorage(bytes: before), credential: .password(TestSupport.password), options: options)
            Issue.record("an old copy was accepted")
        } catch let e {
            #expect(e.code == .rolledBack)
        }
    }

    @Test func canaryNeverAppearsInTheFile() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let path = dir + "/c.sealkv"
        let canary = "CANARY-5e1f-not-in-file"
        let db = try Database.open(at: path, credential: .password("canary password"), options: TestSupport.options())
        try db.write { tx in
            try tx.put(canary, canary)
            try tx.put("big", Array(String(repeating: canary, count: 2000).utf8))
            try tx.namespace(canary).put("k-" + canary, "v-" + canary)
            for i in 0..<500 { try tx.put("filler-\(i)-\(canary)", "value-\(i)-\(canary)") }
        }
        try db.write { tx in for i in 0..<250 { try tx.delete("filler-\(i)-\(canary)") } }
        db.close()
        let bytes = TestSupport.readFile(path)
        #expect(bytes.count > 20 * 4096)
        #expect(!TestSupport.contains(bytes, Array(canary.utf8)))
        #expect(!TestSupport.contains(bytes, Array("CANARY".utf8)))
        #expect(!TestSupport.contains(bytes, Array("canary password".utf8)))
        let reopened = try Database.open(at: path, credential: .password("canary password"), options: TestSupport.options(.openExisting))
        #expect(try reopened.read { try $0.getString(canary) } == canary)
        reopened.close()
    }
}
