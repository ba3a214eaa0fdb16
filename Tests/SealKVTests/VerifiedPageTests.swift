@testable import SealKV
import Testing

/// Memory storage over fixed bytes that names each page's bytes (as the crash harness's states do)
/// and counts the pages read.
final class NamedPagesStorage: PageStorage, @unchecked Sendable {
    let inner: MemoryStorage
    let identities: [UInt64: UInt64]
    let reads = Locked<[UInt64]>([])

    init(bytes: [UInt8], identities: [UInt64: UInt64]) {
        inner = MemoryStorage(bytes: bytes)
        self.identities = identities
    }

    /// Every page named by its number plus `offset`.
    convenience init(bytes: [UInt8], offset: UInt64 = 1_000) {
        let pages = UInt64(bytes.count / FileFormat.pageSize)
        self.init(bytes: bytes, identities: Dictionary(uniqueKeysWithValues: (0..<pages).map { ($0, $0 + offset) }))
    }

    var pageCount: UInt64 { inner.pageCount }
    var engineName: String { "named" }
    var dataPagesRead: Int { reads.withLock { $0.filter { $0 >= FileFormat.firstDataPage }.count } }
    func contentIdentity(ofPage number: UInt64) -> UInt64? { identities[number] }
    func readPage(_ n: UInt64, into b: UnsafeMutableRawPointer) throws(SealKVError) {
        reads.withLock { $0.append(n) }
        try inner.readPage(n, into: b)
    }
    func writePages(_ writes: [PageWrite], sync: Bool) throws(SealKVError) { throw SealKVError(.readOnly, "read-only") }
    func sync() throws(SealKVError) {}
    func resize(toPages pages: UInt64) throws(SealKVError) { throw SealKVError(.readOnly, "read-only") }
    func close() {}
}

/// Recovery's walk skips reading a page whose storage names bytes that opened before, and still
/// checks it against the link that names it; a page under a new name is read and opened.
@Suite("Verified pages")
struct VerifiedPageTests {
    let credential = Credential.password(TestSupport.password)

    /// A store's bytes after one commit, and after a second that rewrote part of the tree.
    func twoCommits(keys: Int = 3_000, rewritingEvery step: Int = 7) throws -> (before: [UInt8], after: [UInt8]) {
        let (db, storage) = try TestSupport.memoryStore()
        try db.write { tx in for i in 0..<keys { try tx.put("key-\(i)", "first-\(i)") } }
        let before = storage.snapshot()
        try db.write { tx in for i in stride(from: 0, to: keys, by: step) { try tx.put("key-\(i)", "second-\(i)") } }
        db.close()
        return (before, storage.snapshot())
    }

    @Test func aPageThatOpenedBeforeIsNotReadAgain() throws {
        let (_, after) = try twoCommits()
        // The same keys object each time (as the harness's unlock cache gives): a remembered page
        // is only trusted for the sealer that opened it.
        let cache = AuthenticationCache(), keys = UnlockCache()
        let first = NamedPagesStorage(bytes: after)
        let opened = try Recovery.open(storage: first, credential: credential, unlockCache: keys, authenticationCache: cache)
        #expect(first.dataPagesRead > 1, "the first open read \(first.dataPagesRead) data pages")
        // The same pages under the same names: the remembered walk stands, no page is even looked up.
        let second = NamedPagesStorage(bytes: after)
        let again = try Recovery.open(storage: second, credential: credential, unlockCache: keys, authenticationCache: cache)
        #expect(second.dataPagesRead == 0, "the second open read \(second.dataPagesRead) data pages again")
        #expect(again.state.txnID == opened.state.txnID && again.slot == opened.slot)
        #expect(cache.walkCounts.whole == 1 && cache.verifiedCounts.hits == 0)
        // One page of the walk under another name (the same bytes): the walk resumes at it, reads
        // it alone, and checks the rest from the remembered pages.
        let walk = try #require(cache.walks.first)
        #expect(walk.links.count == first.dataPagesRead)
        let j = walk.links.count / 2
        var names = NamedPagesStorage(bytes: after).identities
        names[walk.links[j].page] = 7
        let renamed = NamedPagesStorage(bytes: after, identities: names)
        let resumed = try Recovery.open(storage: renamed, credential: credential, unlockCache: keys, authenticationCache: cache)
        #expect(resumed.state.txnID == opened.state.txnID && resumed.slot == opened.slot && !resumed.recovery.fellBack)
        #expect(renamed.reads.withLock { $0.filter { $0 >= FileFormat.firstDataPage } } == [walk.links[j].page])
        #expect(cache.walkCounts.resumed == 1)
        #expect(cache.verifiedCounts.hits == walk.links.count - j - 1, "\(cache.verifiedCounts)")
        // Without the same keys object, every page is read and opened again.
        let third = NamedPagesStorage(bytes: after)
        _ = try Recovery.open(storage: third, credential: credential, authenticationCache: cache)
        #expect(third.dataPagesRead == first.dataPagesRead)
    }

    @Test func aRememberedPageIsStillCheckedAgainstItsLink() throws {
        let (_, after) = try twoCommits()
        let cache = AuthenticationCache()
        let storage = NamedPagesStorage(bytes: after)
        let opened = try Recovery.open(storage: storage, credential: credential, authenticationCache: cache)
        let root = try #require(opened.state.roots.map(\.descriptor.root).first { !$0.isNone && $0.txnID == opened.state.txnID })
        let known = try #require(cache.verifiedPages([(root.page, storage.contentIdentity(ofPage: root.page))])[0])
        let sealer: (UInt32) -> PageSealer? = { _ in opened.sealer }
        #expect(PageAuthentication.canCheck(root, remembered: known, sealer: sealer))
        try PageAuthentication.check(root, remembered: known, sealer: sealer)

        var otherTag = root
        otherTag.tag = PageTag(low: root.tag.low ^ 1, high: root.tag.high)
        #expect(throws: SealKVError.self) { try PageAuthentication.check(otherTag, remembered: known, sealer: sealer) }
        var otherWriter = root
        otherWriter.txnID += 1
        #expect(throws: SealKVError.self) { try PageAuthentication.check(otherWriter, remembered: known, sealer: sealer) }
        #expect(throws: SealKVError.self) { try PageAuthentication.check(root, remembered: known, sealer: { _ in nil }) }
        // Remembered under one sealer, it says nothing for another: the page is read and opened.
        let stranger = PageSealer(keys: DataKeys(dataKey: SecureBytes.random(count: 32), epoch: opened.keys.epoch), fileID: opened.header.fileID)
        #expect(!PageAuthentication.canCheck(root, remembered: known, sealer: { _ in stranger }))
    }

    /// The newest commit's root damaged, under a name of its own: recovery reads it, refuses it and
    /// falls back to the first commit, exactly as without the cache.
    @Test func aChangedPageUnderANewNameIsReadAndRefused() throws {
        let (before, after) = try twoCommits()
        let cache = AuthenticationCache()
        let newest = try Recovery.open(storage: NamedPagesStorage(bytes: after), credential: credential, authenticationCache: cache)
        let root = try #require(newest.state.roots.map(\.descriptor.root).first { !$0.isNone && $0.txnID == newest.state.txnID })
        var damaged = after
        damaged[Int(root.page) * FileFormat.pageSize + FileFormat.bodyStart + 100] ^= 0x40
        var names = NamedPagesStorage(bytes: after).identities
        names[root.page] = 1
        let storage = NamedPagesStorage(bytes: damaged, identities: names)
        let opened = try Recovery.open(storage: storage, credential: credential, authenticationCache: cache)
        let plain = try Recovery.open(storage: MemoryStorage(bytes: damaged), credential: credential)
        #expect(opened.recovery.fellBack && opened.state.txnID == plain.state.txnID)
        #expect(opened.state.txnID < newest.state.txnID)
        #expect(storage.reads.withLock { $0.contains(root.page) })
        let first = try Recovery.open(storage: MemoryStorage(bytes: before), credential: credential)
        #expect(opened.state.txnID == first.state.txnID)
    }
    /// Damage at a page of a remembered walk, under a new name: the walk resumes there and ends
    /// exactly as a walk without any cache does — the same commit opened, the same slot refused,
    /// for the same reason. And the same bytes under a new name: the walk resumes, reads that page
    /// alone, checks every later page from what it remembers and passes. Tried at every page of a
    /// small walk, and at the edges of every batch of one larger than a batch, and a sample.
    @Test(arguments: [(3_000, 7), (40_000, 1)])
    func aResumedWalkEndsAsAFullWalkDoes(keys count: Int, rewritingEvery step: Int) throws {
        let (before, after) = try twoCommits(keys: count, rewritingEvery: step)
        let cache = AuthenticationCache(), keys = UnlockCache()
        let opened = try Recovery.open(storage: NamedPagesStorage(bytes: after), credential: credential, unlockCache: keys,
                                       authenticationCache: cache)
        let walk = try #require(cache.walks.first)
        let batch = VerifiedWalk.batchSize
        // The batches as the walk claimed them: the roots, then what the frontier held when each began.
        var edges: Set<Int> = []
        var start = 0, end = min(batch, walk.inputs.roots.count)
        while start < walk.links.count {
            edges.formUnion([start, start + 1, end - 1, end])
            start = end
            if start < walk.links.count { end = min(start + batch, Int(walk.frontierAfter[start - 1])) }
        }
        if step == 1 { #expect(walk.links.count > batch + 2 && edges.count > 8, "the walk has \(walk.links.count) pages") }
        let tried = walk.links.indices.filter { j in walk.links.count < 100 || j % 17 == 0 || edges.contains(j) || j == walk.links.count - 1 }
        let page = FileFormat.pageSize
        for j in tried {
            let link = walk.links[j]
            let at = Int(link.page) * page
            var flipped = after
            flipped[at + FileFormat.bodyStart + 7] ^= 1
            var zeroed = after
            zeroed.replaceSubrange(at..<(at + page), with: repeatElement(0, count: page))
            // What the file held at that page number before the commit (zeros past its old end).
            var lost = zeroed
            if at + page <= before.count { lost.replaceSubrange(at..<(at + page), with: before[at..<(at + page)]) }
            for (v, (what, bytes)) in [("flipped", flipped), ("zeroed", zeroed), ("lost", lost)].enumerated() {
                var names = NamedPagesStorage(bytes: after).identities
                names[link.page] = 1_000_000 + 3 * UInt64(j) + UInt64(v)
                let cached = try Recovery.open(storage: NamedPagesStorage(bytes: bytes, identities: names), credential: credential,
                                               unlockCache: keys, authenticationCache: cache)
                let plain = try Recovery.open(storage: MemoryStorage(bytes: bytes), credential: credential)
                #expect(cached.state.txnID == plain.state.txnID && cached.slot == plain.slot, "page \(j) \(what)")
                #expect(cached.recovery == plain.recovery, "page \(j) \(what): \(cached.recovery) against \(plain.recovery)")
                #expect(cached.recovery.fellBack, "page \(j) \(what) was not refused")
            }
        }
        #expect(cache.walkCounts.resumed == 3 * tried.filter { $0 > 0 }.count, "\(cache.walkCounts)")
        for j in tried where j > 0 {
            var names = NamedPagesStorage(bytes: after).identities
            names[walk.links[j].page] = 2_000_000 + UInt64(j)
            let renamed = NamedPagesStorage(bytes: after, identities: names)
            let resumed = try Recovery.open(storage: renamed, credential: credential, unlockCache: keys, authenticationCache: cache)
            #expect(resumed.state.txnID == opened.state.txnID && resumed.slot == opened.slot && !resumed.recovery.fellBack, "page \(j)")
            #expect(renamed.reads.withLock { $0.filter { $0 >= FileFormat.firstDataPage } } == [walk.links[j].page], "page \(j)")
        }
    }
}
