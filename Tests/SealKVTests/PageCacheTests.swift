@testable import SealKV
import Testing

@Suite("Page cache")
struct PageCacheTests {
    /// The cache directory against a dictionary: random inserts, removals and lookups, with page
    /// numbers drawn from a small range so probe chains collide, wrap around and shift back.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func pageIndexMatchesADictionary(seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        let capacity = 64
        var index = PageIndex(capacity: capacity)
        var model: [UInt64: Int] = [:]
        for step in 0..<20_000 {
            let page = rng.next() % 200
            let roll = rng.next() % 3
            if roll == 0, model[page] == nil, model.count < capacity {
                let slot = Int(rng.next() % 1000)
                index.insert(PageIndex.Entry(page: page, tag: .zero, slot: Int32(slot), referenced: false))
                model[page] = slot
            } else if roll == 1 {
                index.remove(page)
                model[page] = nil
            }
            let found = index.position(of: page).map { Int(index[$0].slot) }
            #expect(found == model[page], "step \(step): page \(page)")
            if found != model[page] { return }
        }
        for (page, slot) in model {
            #expect(index.position(of: page).map { Int(index[$0].slot) } == slot)
        }
    }

    /// A page is returned only under the tag it was cached with, and CLOCK eviction keeps the
    /// cache at its capacity without losing track of what it holds.
    @Test func cacheHonoursTagsAndCapacity() {
        let cache = PageCache(byteCount: 64 * FileFormat.pageSize)
        let page = UnsafeMutableRawPointer.allocate(byteCount: FileFormat.pageSize, alignment: 16)
        defer { page.deallocate() }
        for n in 0..<UInt64(1000) {
            page.storeBytes(of: n, as: UInt64.self)
            cache.insert(page: n + 2, tag: PageTag(low: n, high: ~n), from: page)
        }
        #expect(cache.count == cache.capacity)
        var hits = 0
        for n in 0..<UInt64(1000) {
            let link = PageLink(page: n + 2, txnID: 1, tag: PageTag(low: n, high: ~n))
            if let v = cache.withPage(link, { $0.load(as: UInt64.self) }) {
                #expect(v == n)
                hits += 1
            }
            let stale = PageLink(page: n + 2, txnID: 1, tag: PageTag(low: n + 1, high: ~n))
            #expect(cache.withPage(stale, { _ in true }) == nil)
        }
        #expect(hits == cache.capacity)
    }

    /// Slots lent as page buffers are never handed to a cached page while lent (their bytes stay
    /// what the borrower wrote through any number of inserts), each shard keeps slots for reads,
    /// and slots taken back are used again.
    @Test func lentSlotsAreNeverReusedWhileLent() {
        let cache = PageCache(byteCount: 256 * FileFormat.pageSize)
        let page = UnsafeMutableRawPointer.allocate(byteCount: FileFormat.pageSize, alignment: 16)
        defer { page.deallocate() }
        func fill(from first: UInt64, count: UInt64) {
            for n in first..<(first + count) {
                page.storeBytes(of: n, as: UInt64.self)
                cache.insert(page: n, tag: PageTag(low: n, high: n), from: page)
            }
        }
        fill(from: 2, count: 300)
        let lent = cache.lend(upTo: 10_000)
        #expect(lent.count < cache.capacity && lent.count >= cache.capacity * 3 / 4, "lent \(lent.count) of \(cache.capacity)")
        #expect(cache.lentCount == lent.count)
        #expect(Set(lent).count == lent.count, "a slot was lent twice")
        for (i, p) in lent.enumerated() {
            #expect(cache.owns(p))
            #expect(UnsafeRawBufferPointer(start: p, count: FileFormat.pageSize).allSatisfy { $0 == 0 }, "a lent slot was not zeroed")
            p.storeBytes(of: 0xB0B0_0000 + UInt64(i), as: UInt64.self)
        }
        // Reads keep working in what is left, and never land in a lent slot.
        fill(from: 1000, count: 5000)
        #expect(cache.count == cache.capacity - lent.count)
        let hit = cache.withPage(PageLink(page: 5999, txnID: 1, tag: PageTag(low: 5999, high: 5999))) { $0.load(as: UInt64.self) }
        #expect(hit == 5999)
        for (i, p) in lent.enumerated() {
            #expect(p.load(as: UInt64.self) == 0xB0B0_0000 + UInt64(i), "lent slot \(i) was overwritten")
        }
        for p in lent {
            secureZero(p, count: FileFormat.pageSize)
            cache.takeBack(p)
        }
        #expect(cache.lentCount == 0)
        fill(from: 20_000, count: 1000)
        #expect(cache.count == cache.capacity)
    }

    /// With default options the cache sizes itself from the store and grows with it; a fixed size
    /// stays fixed. Growth keeps what was cached.
    @Test func theDefaultCacheGrowsWithTheStore() throws {
        let small = CacheSizing(fixed: nil)
        #expect(small.target(storeBytes: 1 << 20) == CacheSizing.automaticMinimum)
        #expect(small.target(storeBytes: 400 << 20) == min(small.maximum, 500 << 20))
        #expect(small.maximum <= CacheSizing.automaticCeiling && small.maximum >= CacheSizing.automaticMinimum)
        #expect(CacheSizing(fixed: 4 << 20).target(storeBytes: 1 << 30) == 4 << 20)

        let cache = PageCache(byteCount: 64 * FileFormat.pageSize, maximumByteCount: 1024 * FileFormat.pageSize)
        let before = cache.capacity
        let page = [UInt8](repeating: 7, count: FileFormat.pageSize)
        page.withUnsafeBytes { cache.insert(page: 42, tag: .zero, from: $0.baseAddress!) }
        cache.grow(toBytes: 512 * FileFormat.pageSize)
        #expect(cache.capacity > before && cache.capacity <= 512)
        #expect(cache.contains(PageLink(page: 42, txnID: 0, tag: .zero)))
        for n in 0..<600 { page.withUnsafeBytes { cache.insert(page: UInt64(1000 + n), tag: .zero, from: $0.baseAddress!) } }
        #expect(cache.count <= cache.capacity)
        cache.grow(toBytes: 1 << 30)
        #expect(cache.capacity == cache.maximumCapacity)
        cache.grow(toBytes: 0)
        #expect(cache.capacity == cache.maximumCapacity, "a cache never shrinks")
    }

    /// A self-sizing cache follows the pages the store uses, not its file: rewriting every value in
    /// one transaction doubles the file (the old pages are freed only by the commit), and the cache
    /// used to grow, and lock, a quarter more than that whole file.
    @Test func theDefaultCacheIgnoresFreeSpace() throws {
        var options = TestSupport.options()
        options.cacheSize = nil
        let db = try Database.open(storage: MemoryStorage(), credential: .password("p"), options: options, create: true)
        let value = [UInt8](repeating: 0x5A, count: 8 << 10)
        let keys = (0..<4_200).map { "value-\($0)" }
        try db.write { tx in for k in keys { try tx.put(k, value) } }
        let minimum = CacheSizing.automaticMinimum / FileFormat.pageSize
        #expect(db.pager.cache.capacity <= minimum + 64, "about 34 MB in use fits the smallest automatic cache")
        let rewritten = [UInt8](repeating: 0xA5, count: 8 << 10)
        try db.write { tx in for k in keys { try tx.put(k, rewritten) } }
        let fileBytes = db.pager.storage.pageCount * UInt64(FileFormat.pageSize)
        try #require(fileBytes > UInt64(CacheSizing.automaticMinimum), "the rewrite should have doubled the file")
        try #require(db.pager.cache.maximumCapacity > minimum * 2, "this machine's cache ceiling is too low to tell")
        #expect(db.pager.cache.capacity <= minimum + 64,
                "a \(fileBytes >> 20) MiB file that is half free grew the cache to \(db.pager.cache.capacity * FileFormat.pageSize >> 20) MiB")
        #expect(try db.read { try $0.get("value-7") } == rewritten)
    }

    /// However far a cache has grown, the slots it uses are one prefix of its arena, so mlock splits
    /// the arena once and every 2 MiB range of the prefix can be a huge page. (With a region per
    /// shard, the slots of a cache grown from 16 to 32 MiB within a 256 MiB arena spanned almost
    /// all 256 MiB, and huge pages covered about 40 % of a grown cache.)
    @Test func grownCacheUsesOnePrefixOfItsArena() {
        let cache = PageCache(byteCount: 16 << 20, maximumByteCount: 256 << 20)
        cache.grow(toBytes: 32 << 20)
        let lent = cache.lend(upTo: cache.capacity)
        #expect(lent.count > cache.capacity / 2)
        let lowest = lent.min()!, highest = lent.max()!
        #expect(highest - lowest < cache.capacity * FileFormat.pageSize, "the lent slots span \((highest - lowest) >> 20) MiB of a \((cache.capacity * FileFormat.pageSize) >> 20) MiB cache")
        for p in lent {
            secureZero(p, count: FileFormat.pageSize)
            cache.takeBack(p)
        }
        #expect(cache.lentCount == 0)
    }

    @Test func aStoreWrittenWithDefaultOptionsGetsALargerCache() throws {
        var options = TestSupport.options()
        options.cacheSize = nil
        let db = try Database.open(storage: MemoryStorage(), credential: .password("p"), options: options, create: true)
        let initial = try db.stats().cacheCapacityPages
        #expect(initial * FileFormat.pageSize <= CacheSizing.automaticMinimum)
        try db.write { tx in for i in 0..<70_000 { try tx.put("key-\(i)", [UInt8](repeating: UInt8(i & 0xFF), count: 1000)) } }
        let stats = try db.stats()
        #expect(stats.fileBytes > UInt64(CacheSizing.automaticMinimum))
        #expect(stats.cacheCapacityPages > initial, "the cache did not grow with a \(stats.fileBytes)-byte store")
        #expect(UInt64(stats.cacheCapacityPages * FileFormat.pageSize) >= stats.fileBytes, "a store that fits in memory should fit in the default cache")
        try TestSupport.expectClean(db)
    }
}
