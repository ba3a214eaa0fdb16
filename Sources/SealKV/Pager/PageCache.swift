import Synchronization


/// The cache of decrypted, authenticated pages, shared by every transaction.
///
/// Entries are found by page number and accepted only if their tag equals the tag in the caller's
/// link, so a page number reused by a later commit never returns stale content. The cache is split
/// into shards (by page number), each with its own lock and CLOCK eviction, so concurrent readers
/// rarely contend. Slots live in one ``SecureArena`` and are zeroed when evicted.
final class PageCache: @unchecked Sendable {
    private struct Shard {
        var index: [UInt64: Int32] = [:]
        var pages: [UInt64]          // page in each slot (UInt64.max = empty)
        var tags: [PageTag]
        var referenced: [Bool]
        var hand = 0
        init(slots: Int) {
            pages = Array(repeating: .max, count: slots)
            tags = Array(repeating: .zero, count: slots)
            referenced = Array(repeating: false, count: slots)
        }
    }

    private let arena: SecureArena
    private let shards: [Locked<Shard>]
    private let slotsPerShard: Int
    private let shardCount: Int
    private let hitCount = Atomic<UInt64>(0)
    private let missCount = Atomic<UInt64>(0)

    /// Capacity in pages.
    let capacity: Int
    var lockedBytes: Int { arena.lockedBytes }
    var hits: UInt64 { hitCount.load(ordering: .relaxed) }
    var misses: UInt64 { missCount.load(ordering: .relaxed) }

    /// A cache of about `byteCount` bytes (at least 16 pages).
    init(byteCount: Int) {
        let pages = max(16, byteCount / FileFormat.pageSize)
        let shards = pages >= 64 * 16 ? 64 : max(1, pages / 16)
        let slots = pages / shards
        shardCount = shards
        slotsPerShard = slots
        capacity = slotsPerShard * shardCount
        arena = SecureArena(byteCount: capacity * FileFormat.pageSize)
        self.shards = (0..<shards).map { _ in Locked(Shard(slots: slots)) }
    }

    @inline(__always) private func shard(of page: UInt64) -> Int { Int(truncatingIfNeeded: page % UInt64(shardCount)) }
    @inline(__always) private func slotPointer(shard: Int, slot: Int) -> UnsafeMutableRawPointer {
        arena.base + (shard * slotsPerShard + slot) * FileFormat.pageSize
    }

    /// Runs `body` on the cached plaintext of `link`'s page under the shard's lock, or returns nil on
    /// a miss. `body` must be short and must not touch the cache.
    @inline(__always)
    func withPage<R, E: Error>(_ link: PageLink, _ body: (UnsafeRawPointer) throws(E) -> R) throws(E) -> R? {
        let s = shard(of: link.page)
        return try shards[s].withLock { (sh) throws(E) -> R? in
            guard let slot = sh.index[link.page], sh.tags[Int(slot)] == link.tag else {
                missCount.add(1, ordering: .relaxed)
                return nil
            }
            sh.referenced[Int(slot)] = true
            hitCount.add(1, ordering: .relaxed)
            return try body(UnsafeRawPointer(slotPointer(shard: s, slot: Int(slot))))
        }
    }

    /// Copies an authenticated plaintext page into the cache under (page, tag), evicting another.
    func insert(page: UInt64, tag: PageTag, from source: UnsafeRawPointer) {
        let s = shard(of: page)
        shards[s].withLock { sh in
            let slot: Int
            if let existing = sh.index[page] {
                slot = Int(existing)
            } else {
                // CLOCK: skip referenced slots once, clearing their bit.
                var victim = sh.hand
                while sh.referenced[victim] {
                    sh.referenced[victim] = false
                    victim = (victim + 1) % slotsPerShard
                }
                sh.hand = (victim + 1) % slotsPerShard
                if sh.pages[victim] != .max { sh.index[sh.pages[victim]] = nil }
                sh.index[page] = Int32(victim)
                sh.pages[victim] = page
                slot = victim
            }
            sh.tags[slot] = tag
            sh.referenced[slot] = false
            slotPointer(shard: s, slot: slot).copyMemory(from: source, byteCount: FileFormat.pageSize)
        }
    }

    /// Drops every entry and zeroes the slots.
    func removeAll() {
        for s in 0..<shardCount {
            shards[s].withLock { sh in
                for slot in 0..<slotsPerShard where sh.pages[slot] != .max {
                    secureZero(slotPointer(shard: s, slot: slot), count: FileFormat.pageSize)
                    sh.pages[slot] = .max
                    sh.tags[slot] = .zero
                    sh.referenced[slot] = false
                }
                sh.index.removeAll()
                sh.hand = 0
            }
        }
    }

    /// Number of pages currently cached.
    var count: Int { shards.reduce(0) { $0 + $1.withLock { $0.index.count } } }
}
