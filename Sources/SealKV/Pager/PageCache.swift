import Synchronization


/// The cache of decrypted, authenticated pages, shared by every transaction.
///
/// Entries are found by page number and accepted only if their tag equals the tag in the caller's
/// link, so a page number reused by a later commit never returns stale content. The cache is split
/// into shards (by page number), each with its own lock and CLOCK eviction, so concurrent readers
/// rarely contend. Slots live in one ``SecureArena`` and are zeroed when evicted.
///
/// The cache's memory is also the writer's: a write transaction's dirty pages borrow slots (see
/// ``lend(upTo:)``), so a large transaction shrinks the cache instead of adding its plaintext to
/// it, and the process holds about the configured cache size in plaintext either way.
final class PageCache: @unchecked Sendable {
    /// `slotPages` marks: a slot with no page, and a slot lent out as a page buffer.
    private static let emptySlot = UInt64.max
    private static let lentSlot = UInt64.max - 1

    private struct Shard {
        var index: PageIndex
        /// The page in each slot (``emptySlot``, ``lentSlot``), for the CLOCK hand.
        var slotPages: [UInt64]
        /// Slots lent out as page buffers.
        var lent = 0
        var hand = 0
        /// Lookups that hit and missed, counted under the shard's lock (a shared atomic counter
        /// would bounce one cache line between every reading core).
        var hits: UInt64 = 0
        var misses: UInt64 = 0
        /// Slots in use (the shard grows into its share of the arena as the cache grows).
        var active: Int { slotPages.count }
        init(slots: Int) {
            index = PageIndex(capacity: slots)
            slotPages = Array(repeating: .max, count: slots)
        }
        /// Slots the shard may lend: it keeps an eighth (at least two) for reads.
        var lendable: Int { max(0, active - max(2, active / 8)) }
        var count: Int { slotPages.reduce(0) { $0 + ($1 >= PageCache.lentSlot ? 0 : 1) } }
    }

    private let arena: SecureArena
    private let shards: [Locked<Shard>]
    /// Slots each shard may grow to (its share of the arena).
    private let slotsPerShard: Int
    private let shardCount: Int
    /// Slots each shard uses now; grows, never shrinks (``grow(toBytes:)``).
    private let activePerShard: Atomic<Int>
    private let growth = Mutex(())
    /// The shard the next ``lend(upTo:)`` starts from.
    private let nextLender = Atomic<Int>(0)
    /// Slots lent out now, over all shards (read without taking every shard's lock).
    private let lentTotal = Atomic<Int>(0)

    /// Capacity in pages now.
    var capacity: Int { activePerShard.load(ordering: .relaxed) * shardCount }
    /// The most pages the cache can grow to.
    let maximumCapacity: Int
    var lockedBytes: Int { arena.lockedBytes }
    var hits: UInt64 { shards.reduce(0) { $0 + $1.withLock { $0.hits } } }
    var misses: UInt64 { shards.reduce(0) { $0 + $1.withLock { $0.misses } } }

    /// A cache of about `byteCount` bytes (at least 16 pages).
    /// A cache of `byteCount` bytes that can grow to `maximumByteCount` (the arena reserves that
    /// much address space; memory is taken as slots come into use).
    init(byteCount: Int, maximumByteCount: Int? = nil) {
        let pages = max(16, byteCount / FileFormat.pageSize)
        let maxPages = max(pages, (maximumByteCount ?? byteCount) / FileFormat.pageSize)
        let shards = pages >= 64 * 16 ? 64 : max(1, pages / 16)
        shardCount = shards
        slotsPerShard = maxPages / shards
        maximumCapacity = slotsPerShard * shards
        let active = pages / shards
        activePerShard = Atomic(active)
        arena = SecureArena(byteCount: maximumCapacity * FileFormat.pageSize, lockingAll: false)
        self.shards = (0..<shards).map { _ in Locked(Shard(slots: active)) }
        lockSlots(from: 0, to: active)
    }

    /// Grows the cache to hold `byteCount` bytes (up to its maximum). Cached pages stay.
    func grow(toBytes byteCount: Int) {
        // Called after every commit: most find the cache large enough without taking a lock.
        guard byteCount / FileFormat.pageSize / shardCount > activePerShard.load(ordering: .relaxed) else { return }
        growth.withLock { _ in
            let old = activePerShard.load(ordering: .relaxed)
            let new = min(slotsPerShard, max(old, byteCount / FileFormat.pageSize / shardCount))
            guard new > old else { return }
            lockSlots(from: old, to: new)
            for s in shards {
                s.withLock { sh in
                    sh.slotPages.append(contentsOf: repeatElement(Self.emptySlot, count: new - sh.slotPages.count))
                    sh.index = sh.index.resized(capacity: new)
                }
            }
            activePerShard.store(new, ordering: .relaxed)
        }
    }

    /// Locks slots `from..<to` of every shard against swapping (best effort): one range, since the
    /// shards' slots are interleaved (``slotPointer(shard:slot:)``).
    private func lockSlots(from: Int, to: Int) {
        arena.lock(offset: from * shardCount * FileFormat.pageSize, count: (to - from) * shardCount * FileFormat.pageSize)
    }

    @inline(__always) private func shard(of page: UInt64) -> Int { Int(truncatingIfNeeded: page % UInt64(shardCount)) }
    /// Slot `slot` of every shard sits side by side, so the slots in use are always one prefix of
    /// the arena, however far the cache has grown. With a region per shard, each shard's used part
    /// was a few megabytes at the start of its own region; every grown one then ended inside a
    /// 2 MiB range that mlock had split, so it got no huge page: a cache grown from 64 MiB with a
    /// 1M-key store had about 100 MiB on huge pages, against all of a cache made that size at once.
    @inline(__always) private func slotPointer(shard: Int, slot: Int) -> UnsafeMutableRawPointer {
        arena.base + (slot * shardCount + shard) * FileFormat.pageSize
    }

    /// Runs `body` on the cached plaintext of `link`'s page under the shard's lock, or returns nil on
    /// a miss. `body` must be short and must not touch the cache.
    @inline(__always)
    func withPage<R, E: Error>(_ link: PageLink, _ body: (UnsafeRawPointer) throws(E) -> R) throws(E) -> R? {
        let s = shard(of: link.page)
        return try shards[s].withLock { (sh) throws(E) -> R? in
            guard let at = sh.index.position(of: link.page), sh.index[at].tag == link.tag else {
                sh.misses &+= 1
                return nil
            }
            sh.index[at].referenced = true
            sh.hits &+= 1
            return try body(UnsafeRawPointer(slotPointer(shard: s, slot: Int(sh.index[at].slot))))
        }
    }

    /// Whether `link`'s page is cached (with the tag the link expects).
    func contains(_ link: PageLink) -> Bool {
        shards[shard(of: link.page)].withLock { sh in
            guard let at = sh.index.position(of: link.page) else { return false }
            return sh.index[at].tag == link.tag
        }
    }

    /// Copies an authenticated plaintext page into the cache under (page, tag), evicting another.
    func insert(page: UInt64, tag: PageTag, from source: UnsafeRawPointer) {
        let s = shard(of: page)
        shards[s].withLock { sh in
            let slot: Int
            if let at = sh.index.position(of: page) {
                slot = Int(sh.index[at].slot)
                sh.index[at].tag = tag
                sh.index[at].referenced = false
            } else {
                let victim = Self.evictVictim(&sh, slots: sh.active)
                sh.index.insert(PageIndex.Entry(page: page, tag: tag, slot: Int32(victim), referenced: false))
                sh.slotPages[victim] = page
                slot = victim
            }
            slotPointer(shard: s, slot: slot).copyMemory(from: source, byteCount: FileFormat.pageSize)
        }
    }

    /// CLOCK: the next slot that is empty or whose page was not used since the hand last passed
    /// (clearing the bits it passes), skipping lent slots. Its page, if any, is dropped from the
    /// index; the slot's bytes are left to the caller. The shard never lends all its slots, so
    /// this ends.
    private static func evictVictim(_ sh: inout Shard, slots: Int) -> Int {
        var victim = sh.hand
        while true {
            let page = sh.slotPages[victim]
            if page == emptySlot { break }
            if page != lentSlot {
                guard let at = sh.index.position(of: page) else { break }
                if !sh.index[at].referenced { break }
                sh.index[at].referenced = false
            }
            victim = (victim + 1) % slots
        }
        sh.hand = (victim + 1) % slots
        if sh.slotPages[victim] != emptySlot { sh.index.remove(sh.slotPages[victim]) }
        sh.slotPages[victim] = emptySlot
        return victim
    }

    /// Lends up to `count` slots as zeroed page buffers, evicting what they held, from shards that
    /// still have slots to lend. Give each back with ``takeBack(_:)``.
    func lend(upTo count: Int) -> [UnsafeMutableRawPointer] {
        var out: [UnsafeMutableRawPointer] = []
        let first = nextLender.wrappingAdd(1, ordering: .relaxed).oldValue
        var exhausted = 0
        var s = first % shardCount
        while out.count < count && exhausted < shardCount {
            let got: UnsafeMutableRawPointer? = shards[s].withLock { sh in
                guard sh.lent < sh.lendable else { return nil }
                let slot = Self.evictVictim(&sh, slots: sh.active)
                sh.slotPages[slot] = Self.lentSlot
                sh.lent += 1
                let p = slotPointer(shard: s, slot: slot)
                secureZero(p, count: FileFormat.pageSize)
                return p
            }
            if let got { out.append(got); exhausted = 0 } else { exhausted += 1 }
            s = (s + 1) % shardCount
        }
        lentTotal.add(out.count, ordering: .relaxed)
        return out
    }

    /// Whether `buffer` is one of this cache's slots (lent by ``lend(upTo:)``).
    func owns(_ buffer: UnsafeMutableRawPointer) -> Bool {
        buffer >= arena.base && buffer < arena.base + maximumCapacity * FileFormat.pageSize
    }

    /// Takes back a lent slot (already zeroed by its borrower) as an empty slot.
    func takeBack(_ buffer: UnsafeMutableRawPointer) {
        let index = (buffer - arena.base) / FileFormat.pageSize
        let s = index % shardCount, slot = index / shardCount
        shards[s].withLock { sh in
            precondition(sh.slotPages[slot] == Self.lentSlot, "a page buffer was returned to a cache slot that was not lent")
            sh.slotPages[slot] = Self.emptySlot
            sh.lent -= 1
        }
        lentTotal.subtract(1, ordering: .relaxed)
    }

    /// Slots lent out now.
    var lentCount: Int { lentTotal.load(ordering: .relaxed) }

    /// Drops every entry and zeroes the slots (lent slots stay lent: their borrower zeroes them).
    func removeAll() {
        for s in 0..<shardCount {
            shards[s].withLock { sh in
                for slot in 0..<sh.active where sh.slotPages[slot] < Self.lentSlot {
                    secureZero(slotPointer(shard: s, slot: slot), count: FileFormat.pageSize)
                    sh.slotPages[slot] = Self.emptySlot
                }
                sh.index.removeAll()
                sh.hand = 0
            }
        }
    }

    /// Number of pages currently cached.
    var count: Int { shards.reduce(0) { $0 + $1.withLock { $0.count } } }
}
