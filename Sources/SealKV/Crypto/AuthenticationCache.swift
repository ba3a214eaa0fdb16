#if canImport(Glibc)
import Glibc
#endif

/// Remembers pages and meta slots that opened (authenticated and decrypted), so a process that
/// opens many images of the same store — the crash harness opens one per crash state, and most of
/// its states share most of their pages — decrypts each distinct sealed page once instead of once
/// per open.
///
/// Sound because opening is a pure function of its inputs: XChaCha20-Poly1305 decryption takes the
/// key (the page or meta key), the nonce (the stored random part and the page or slot number), the
/// associated data (the cleartext header, and for pages the file id) and the ciphertext with its
/// tag — all of them either the page's 4,096 bytes, its number, or the sealer (a `DataKeys` object,
/// whose keys never change, and a file id). A hit requires the same kind (page or meta), the same
/// number, the same `DataKeys` object, the same file id and a byte-for-byte comparison of all 4,096
/// sealed bytes with those that opened before; it then writes exactly what the decryption wrote
/// then (the plaintext in place). Only successful opens are kept: a page that fails is decrypted,
/// and fails, every time.
///
/// Holds decrypted pages (and meta slots, which carry a rekey's previous data key) the way the page
/// cache does: in a ``SecureArena`` — excluded from core dumps, locked against swapping where the
/// limit allows, zeroed when the cache is dropped — and overwritten in place when evicted. Bounded:
/// once full, the oldest entry makes room.
///
/// For storage that names each page's exact bytes (``PageStorage/contentIdentity(ofPage:)``: the
/// crash harness's states, built from the immutable page images of a recorded trace), it also
/// remembers what opening a page established (``VerifiedPage``) by page number and content
/// identity, so recovery's walk checks such a page against the link that names it without reading,
/// comparing or copying its 4,096 bytes (``Recovery``). Only the storage's promise that equal
/// identities mean equal bytes stands in for the comparison; the harness's full checks, which
/// decrypt every page afresh, cross-check it.
package final class AuthenticationCache: Sendable {
    /// One page that opened: its inputs (the sealed bytes are ciphertext, kept on the heap) and the
    /// arena slot holding what opening them left in the buffer.
    private final class Entry {
        let meta: Bool
        let number: UInt64
        let keys: DataKeys
        let fileID: [UInt8]
        let sealed: UnsafeMutableRawPointer
        let slot: Int

        init(meta: Bool, number: UInt64, sealer: PageSealer, sealed: UnsafeRawPointer, slot: Int) {
            self.meta = meta
            self.number = number
            keys = sealer.keys
            fileID = sealer.fileID
            self.sealed = .allocate(byteCount: FileFormat.pageSize, alignment: 16)
            self.sealed.copyMemory(from: sealed, byteCount: FileFormat.pageSize)
            self.slot = slot
        }

        deinit { sealed.deallocate() }

        /// Whether opening `page` as page (or meta slot) `number` with `sealer` has exactly this
        /// entry's inputs.
        func matches(_ page: UnsafeRawPointer, meta: Bool, number: UInt64, sealer: PageSealer) -> Bool {
            self.meta == meta && self.number == number && keys === sealer.keys && fileID == sealer.fileID
                && memcmp(sealed, page, FileFormat.pageSize) == 0
        }
    }

    private struct Key: Hashable {
        var meta: Bool
        var number: UInt64
        var tag: PageTag
    }

    private struct VerifiedKey: Hashable {
        var number: UInt64
        var identity: UInt64

        /// One word into the hasher instead of two (a lookup per page of every walk).
        func hash(into hasher: inout Hasher) { hasher.combine(number &* 0x9E37_79B9_7F4A_7C15 ^ identity) }
    }

    private struct State {
        var entries: [Key: Entry] = [:]
        /// The key whose plaintext each arena slot holds, in insertion order: a ring for eviction.
        var slots: [Key] = []
        var next = 0
        var hits = 0, misses = 0
        var verified: BoundedMemo<VerifiedKey, VerifiedPage>
        var verifiedHits = 0, verifiedMisses = 0
        var walks: BoundedMemo<VerifiedWalk.Inputs, VerifiedWalk>
        var walkHits = 0, walkResumes = 0, walkMisses = 0
    }

    private let state: Locked<State>
    /// One page per slot: the plaintext of the entry in that slot.
    private let plaintexts: SecureArena
    /// How many pages the cache holds at most (each costs two pages of memory).
    package let capacity: Int
    /// How many verified pages (``VerifiedPage``, a few hundred bytes each) it holds at most.
    package let verifiedCapacity: Int
    /// How many verified walks (``VerifiedWalk``, 44 bytes per page walked) it holds at most.
    package let walkCapacity: Int

    /// Whether it remembers verified pages and walks by their storage's names; without, it
    /// stands in for decryption only, and only after comparing all of a page's sealed bytes.
    package let remembersNames: Bool

    /// An empty cache of at most `capacity` pages, `verifiedCapacity` verified pages and
    /// `walkCapacity` verified walks; with `remembersNames` false, of pages only.
    package init(capacity: Int = 4_096, verifiedCapacity: Int = 65_536, walkCapacity: Int = 512, remembersNames: Bool = true) {
        precondition(capacity > 0 && verifiedCapacity > 0 && walkCapacity > 0)
        self.remembersNames = remembersNames
        self.capacity = capacity
        self.verifiedCapacity = verifiedCapacity
        self.walkCapacity = walkCapacity
        state = Locked(State(verified: BoundedMemo(capacity: verifiedCapacity), walks: BoundedMemo(capacity: walkCapacity)))
        plaintexts = SecureArena(byteCount: capacity * FileFormat.pageSize, lockingAll: false)
    }

    /// Opened pages served from the cache, and pages that had to be decrypted.
    package var counts: (hits: Int, misses: Int) { state.withLock { ($0.hits, $0.misses) } }

    /// Verified pages served without reading the page, and lookups that found none.
    package var verifiedCounts: (hits: Int, misses: Int) { state.withLock { ($0.verifiedHits, $0.verifiedMisses) } }

    /// Walks that passed whole from memory (``VerifiedWalk``), walks resumed part way, and walks
    /// that ran from the start.
    package var walkCounts: (whole: Int, resumed: Int, full: Int) { state.withLock { ($0.walkHits, $0.walkResumes, $0.walkMisses) } }

    /// The walk with `inputs` that passed before, if one is remembered, and how far an image of
    /// `pageCount` pages naming its pages by `identity` agrees with it
    /// (``VerifiedWalk/agreement(pageCount:identity:)``).
    func verifiedWalk(_ inputs: VerifiedWalk.Inputs, pageCount: UInt64,
                      identity: (UInt64) -> UInt64?) -> (walk: VerifiedWalk, agreement: VerifiedWalk.Agreement)? {
        guard remembersNames else { return nil }
        let known = state.withLock { $0.walks[inputs] }
        let agreement = known?.agreement(pageCount: pageCount, identity: identity)
        state.withLock { s in
            switch agreement {
            case .whole: s.walkHits += 1
            case .upTo(let j) where j > 0: s.walkResumes += 1
            default: s.walkMisses += 1
            }
        }
        return known.map { ($0, agreement!) }
    }

    /// The walks it remembers, in no order.
    var walks: [VerifiedWalk] { state.withLock { Array($0.walks.values) } }

    /// Remembers a walk that passed, every page of it named by its storage.
    func remember(_ walk: VerifiedWalk) {
        guard remembersNames else { return }
        state.withLock { $0.walks.insert(walk, for: walk.inputs) }
    }

    /// For each (page number, content identity), what opening that page established when its
    /// storage named its bytes so, if it opened before.
    func verifiedPages(_ pages: [(number: UInt64, identity: UInt64?)]) -> [VerifiedPage?] {
        guard remembersNames else { return Array(repeating: nil, count: pages.count) }
        return state.withLock { s in
            pages.map { page in
                guard let identity = page.identity else { return nil }
                let found = s.verified[VerifiedKey(number: page.number, identity: identity)]
                if found == nil { s.verifiedMisses += 1 } else { s.verifiedHits += 1 }
                return found
            }
        }
    }

    /// Remembers what opening page `number`, whose storage names its bytes `identity`, established.
    func remember(_ page: VerifiedPage, number: UInt64, identity: UInt64) {
        guard remembersNames else { return }
        state.withLock { $0.verified.insert(page, for: VerifiedKey(number: number, identity: identity)) }
    }

    /// Opens `page` in place as page `number`, exactly as `sealer.open(page:number:)` does, from the
    /// cache when the same sealed bytes opened before with the same sealer.
    func open(page: UnsafeMutableRawPointer, number: UInt64, sealer: PageSealer) -> Bool {
        open(page, meta: false, number: number, sealer: sealer) { sealer.open(page: $0, number: number) }
    }

    /// Opens a meta slot in place, exactly as `sealer.openMeta(page:slot:)` does, from the cache
    /// when the same sealed bytes opened before with the same sealer.
    func openMeta(page: UnsafeMutableRawPointer, slot: UInt64, sealer: PageSealer) -> Bool {
        open(page, meta: true, number: slot, sealer: sealer) { sealer.openMeta(page: $0, slot: slot) }
    }

    private func open(_ page: UnsafeMutableRawPointer, meta: Bool, number: UInt64, sealer: PageSealer,
                      decrypt: (UnsafeMutableRawPointer) -> Bool) -> Bool {
        let key = Key(meta: meta, number: number, tag: PageTag(from: page + FileFormat.tagOffset))
        let hit = state.withLock { s -> Bool in
            guard let e = s.entries[key], e.matches(page, meta: meta, number: number, sealer: sealer) else {
                s.misses += 1
                return false
            }
            s.hits += 1
            page.copyMemory(from: plaintexts.base + e.slot * FileFormat.pageSize, byteCount: FileFormat.pageSize)
            return true
        }
        if hit { return true }
        return withUnsafeTemporaryAllocation(byteCount: FileFormat.pageSize, alignment: 16) { sealed in
            sealed.baseAddress!.copyMemory(from: page, byteCount: FileFormat.pageSize)
            guard decrypt(page) else { return false }
            state.withLock { s in insert(key, meta: meta, number: number, sealer: sealer, sealed: sealed.baseAddress!, opened: page, into: &s) }
            return true
        }
    }

    /// Remembers an open in the slot of an entry with the same key, a free slot, or the oldest one.
    private func insert(_ key: Key, meta: Bool, number: UInt64, sealer: PageSealer, sealed: UnsafeRawPointer,
                        opened: UnsafeRawPointer, into s: inout State) {
        let slot: Int
        if let existing = s.entries[key] {
            slot = existing.slot
        } else if s.slots.count < capacity {
            slot = s.slots.count
            s.slots.append(key)
            plaintexts.lock(offset: slot * FileFormat.pageSize, count: FileFormat.pageSize)
        } else {
            slot = s.next
            s.entries[s.slots[slot]] = nil
            s.slots[slot] = key
            s.next = (s.next + 1) % capacity
        }
        plaintexts.base.advanced(by: slot * FileFormat.pageSize).copyMemory(from: opened, byteCount: FileFormat.pageSize)
        s.entries[key] = Entry(meta: meta, number: number, sealer: sealer, sealed: sealed, slot: slot)
    }
}
