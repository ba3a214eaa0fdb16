@testable import SealKV
import Testing

/// The cache of opened pages must give exactly what decryption gives, and nothing decryption
/// would refuse: a hit needs the same kind, number, sealer and every sealed byte.
@Suite("Authentication cache")
struct AuthenticationCacheTests {
    let fileID = randomBytes(count: 16)
    let keys = DataKeys(dataKey: SecureBytes.random(count: 32), epoch: 1)

    func sealedPage(number: UInt64, sealer: PageSealer, fill: UInt8 = 7) -> [UInt8] {
        var page = [UInt8](repeating: 0, count: FileFormat.pageSize)
        for i in FileFormat.bodyStart..<FileFormat.bodyEnd { page[i] = UInt8(truncatingIfNeeded: i &* 31 &+ Int(fill)) }
        _ = page.withUnsafeMutableBytes { sealer.seal(page: $0.baseAddress!, number: number) }
        return page
    }

    func open(_ page: [UInt8], number: UInt64, sealer: PageSealer, cache: AuthenticationCache) -> (Bool, [UInt8]) {
        var copy = page
        let ok = copy.withUnsafeMutableBytes { cache.open(page: $0.baseAddress!, number: number, sealer: sealer) }
        return (ok, copy)
    }

    @Test func aHitGivesWhatDecryptionGives() {
        let sealer = PageSealer(keys: keys, fileID: fileID)
        let cache = AuthenticationCache()
        let sealed = sealedPage(number: 42, sealer: sealer)
        var expected = sealed
        #expect(expected.withUnsafeMutableBytes { sealer.open(page: $0.baseAddress!, number: 42) })
        let first = open(sealed, number: 42, sealer: sealer, cache: cache)
        let second = open(sealed, number: 42, sealer: sealer, cache: cache)
        #expect(first.0 && second.0)
        #expect(first.1 == expected && second.1 == expected)
        #expect(cache.counts.hits == 1 && cache.counts.misses == 1)
    }

    @Test func everyFlippedByteOfACachedPageFails() {
        let sealer = PageSealer(keys: keys, fileID: fileID)
        let cache = AuthenticationCache()
        let sealed = sealedPage(number: 7, sealer: sealer)
        #expect(open(sealed, number: 7, sealer: sealer, cache: cache).0)
        var accepted: [Int] = []
        for position in 0..<FileFormat.pageSize {
            var damaged = sealed
            damaged[position] ^= 0x01
            if open(damaged, number: 7, sealer: sealer, cache: cache).0 { accepted.append(position) }
        }
        #expect(accepted.isEmpty, "flipped bytes accepted at \(accepted.prefix(10))")
        // The damaged pages were not remembered: the original still opens from the cache.
        #expect(open(sealed, number: 7, sealer: sealer, cache: cache).0)
    }

    @Test func anotherNumberKeyOrFileMisses() {
        let sealer = PageSealer(keys: keys, fileID: fileID)
        let cache = AuthenticationCache()
        let sealed = sealedPage(number: 3, sealer: sealer)
        #expect(open(sealed, number: 3, sealer: sealer, cache: cache).0)
        #expect(!open(sealed, number: 4, sealer: sealer, cache: cache).0)
        let otherKeys = PageSealer(keys: DataKeys(dataKey: SecureBytes.random(count: 32), epoch: 1), fileID: fileID)
        #expect(!open(sealed, number: 3, sealer: otherKeys, cache: cache).0)
        let otherFile = PageSealer(keys: keys, fileID: randomBytes(count: 16))
        #expect(!open(sealed, number: 3, sealer: otherFile, cache: cache).0)
    }

    @Test func metaSlotsAreTheirOwnKind() {
        let sealer = PageSealer(keys: keys, fileID: fileID)
        let cache = AuthenticationCache()
        var meta = [UInt8](repeating: 9, count: FileFormat.pageSize)
        _ = meta.withUnsafeMutableBytes { sealer.sealMeta(page: $0.baseAddress!, slot: 1) }
        var expected = meta
        #expect(expected.withUnsafeMutableBytes { sealer.openMeta(page: $0.baseAddress!, slot: 1) })
        for _ in 0..<2 {
            var copy = meta
            #expect(copy.withUnsafeMutableBytes { cache.openMeta(page: $0.baseAddress!, slot: 1, sealer: sealer) })
            #expect(copy == expected)
        }
        #expect(cache.counts.hits == 1)
        // The same bytes as a data page (same number and tag) are not served from the meta entry.
        #expect(!open(meta, number: 1, sealer: sealer, cache: cache).0)
        var wrongSlot = meta
        #expect(!wrongSlot.withUnsafeMutableBytes { cache.openMeta(page: $0.baseAddress!, slot: 0, sealer: sealer) })
    }

    @Test func aFullCacheEvictsTheOldestAndStillOpens() {
        let sealer = PageSealer(keys: keys, fileID: fileID)
        let cache = AuthenticationCache(capacity: 2)
        let pages = (0..<3).map { sealedPage(number: UInt64(10 + $0), sealer: sealer, fill: UInt8($0)) }
        for (n, page) in pages.enumerated() { #expect(open(page, number: UInt64(10 + n), sealer: sealer, cache: cache).0) }
        #expect(open(pages[2], number: 12, sealer: sealer, cache: cache).0)
        #expect(cache.counts.hits == 1)
        var expected = pages[0]
        #expect(expected.withUnsafeMutableBytes { sealer.open(page: $0.baseAddress!, number: 10) })
        let again = open(pages[0], number: 10, sealer: sealer, cache: cache)
        #expect(again.0 && again.1 == expected)
        #expect(cache.counts.hits == 1 && cache.counts.misses == 4)
    }
    /// A handle opened with a cache that goes by sealed bytes only (the crash harness's full
    /// checks): its recovery and reads open remembered pages from the cache, its `check` decrypts
    /// every page regardless, and it never remembers pages by their storage's names.
    @Test func aHandlesReadsUseTheCacheAndItsCheckDecryptsAfresh() throws {
        let (db, storage) = try TestSupport.memoryStore()
        try db.write { tx in for i in 0..<2_000 { try tx.put("key-\(i)", "value-\(i)") } }
        // A second commit, so that recovery walks only its few pages: the rest are opened by reads.
        try db.write { tx in try tx.put("key-0", "changed") }
        db.close()
        let image = storage.snapshot()
        // One credential and unlock cache: the same keys object for each handle, as in the harness.
        let cache = AuthenticationCache(remembersNames: false), keys = UnlockCache(), credential = Credential.password(TestSupport.password)
        // Small page caches, so each read goes to storage.
        var options = TestSupport.options(durability: .oneSync, cacheSize: 16 * FileFormat.pageSize)
        options.mode = .readOnly
        func reopen() throws -> Database {
            try Database.open(storage: NamedPagesStorage(bytes: image), credential: credential, options: options,
                              unlockCache: keys, authenticationCache: cache)
        }
        func readAll(_ db: Database) throws -> Int { try db.read { tx in try tx.all().reduce(0) { n, _ in n + 1 } } }
        let first = try reopen()
        #expect(try readAll(first) == 2_000)
        first.close()
        let afterFirst = cache.counts
        #expect(afterFirst.misses > 10)
        let second = try reopen()
        defer { second.close() }
        let opened = cache.counts
        #expect(opened.misses == afterFirst.misses, "a second handle's open decrypted again: \(opened)")
        #expect(try readAll(second) == 2_000)
        #expect(cache.counts.misses == afterFirst.misses, "a second handle's reads decrypted again: \(cache.counts)")
        #expect(cache.counts.hits > opened.hits + 10, "the reads did not use the cache: \(opened) then \(cache.counts)")
        let beforeCheck = cache.counts
        let report = try second.check()
        #expect(report.isClean && report.pagesRead > 10)
        #expect(cache.counts == beforeCheck, "check consulted the cache: \(beforeCheck) then \(cache.counts)")
        #expect(cache.walkCounts == (0, 0, 0) && cache.verifiedCounts == (0, 0) && cache.walks.isEmpty)
    }
    /// The verified pages and walks are kept in bounded memos: once full, the key inserted longest
    /// ago makes room, and a key given a new value keeps its place.
    @Test func aBoundedMemoForgetsTheOldestKey() {
        var memo = BoundedMemo<Int, String>(capacity: 3)
        for k in 0..<3 { memo.insert("v\(k)", for: k) }
        memo.insert("again", for: 0)
        #expect(memo[0] == "again" && memo.values.count == 3)
        memo.insert("v3", for: 3)
        #expect(memo[0] == nil && memo[1] == "v1" && memo[3] == "v3")
        memo.insert("v4", for: 4)
        #expect(memo[1] == nil && memo[2] == "v2" && memo[4] == "v4" && memo.values.count == 3)
    }
}
