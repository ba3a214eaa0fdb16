import Synchronization


/// The cache of decrypted, authenticated pages, shared by every transaction.
///
/// Entries are found by page number and accepted only if their tag equals the tag in the caller's
/// link, so a page number reused by a later commit never returns stale content. The cache is split
/// into shards (by page number), each with its own lock and CLOCK eviction, so concurrent readers
/// rarely contend. Slots live in one ``SecureArena`` and are zeroed when evicted.
final class PageCache: @unchecked Sendable {
    private struct Shard {
        var index: PageIndex
        /// The page in each slot (UInt64.max: empty), for the CLOCK hand.
        var slotPages: [UInt64]
        var hand = 0
        /// Lookups that hit and missed, counted under the shard's lock (a shared atomic counter
        /// would bounce one cache line between every reading core).
        var hits: UInt64 = 0
        var misses: UInt64 = 0
        init(slots: Int) {
            index = PageIndex(capacity: slots)
            slotPages = Array(repeating: .max, count: slots)
        }
        var count: Int { slotPages.reduce(0) { $0 + ($1 == .max ? 0 : 1) } }
    }

    private let arena: SecureArena
    private let shards: [Locked<Shard>]
    private let slotsPerShard: Int
    private let shardCount: Int

    /// Capacity in pages.
    let capacity: Int
    var lockedBytes: Int { arena.lockedBytes }
    var hits: UInt64 { shards.reduce(0) { $0 + $1.withLock { $0.hits } } }
    var misses: UInt64 { shards.reduce(0) { $0 + $1.withLock { $0.misses } } }

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
                // CLOCK: skip referenced slots once, clearing their bit.
                var victim = sh.hand
                while sh.slotPages[victim] != .max, let at = sh.index.position(of: sh.slotPages[victim]), sh.index[at].referenced {
                    sh.index[at].referenced = false
                    victim = (victim + 1) % slotsPerShard
                }
                sh.hand = (victim + 1) % slotsPerShard
                if sh.slotPages[victim] != .max { sh.index.remove(sh.slotPages[victim]) }
                sh.index.insert(PageIndex.Entry(page: page, tag: tag, slot: Int32(victim), referenced: false))
                sh.slotPages[victim] = page
                slot = victim
            }
            slotPointer(shard: s, slot: slot).copyMemory(from: source, byteCount: FileFormat.pageSize)
        }
    }

    /// Drops every entry and zeroes the slots.
    func removeAll() {
        for s in 0..<shardCount {
            shards[s].withLock { sh in
                for slot in 0..<slotsPerShard where sh.slotPages[slot] != .max {
                    secureZero(slotPointer(shard: s, slot: slot), count: FileFormat.pageSize)
                    sh.slotPages[slot] = .max
                }
                sh.index.removeAll()
                sh.hand = 0
            }
        }
    }

    /// Number of pages currently cached.
    var count: Int { shards.reduce(0) { $0 + $1.withLock { $0.count } } }
}
