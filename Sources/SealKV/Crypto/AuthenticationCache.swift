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
/// Holds decrypted pages: they are wiped when evicted and when the cache is dropped. Bounded: once
/// full, the oldest entry makes room.
package final class AuthenticationCache: Sendable {
    /// One page that opened: its sealed bytes and what opening them left in the buffer.
    private final class Entry {
        let meta: Bool
        let number: UInt64
        let keys: DataKeys
        let fileID: [UInt8]
        let sealed: UnsafeMutableRawPointer
        let opened: UnsafeMutableRawPointer

        init(meta: Bool, number: UInt64, keys: DataKeys, fileID: [UInt8], sealed: UnsafeRawPointer, opened: UnsafeRawPointer) {
            self.meta = meta
            self.number = number
            self.keys = keys
            self.fileID = fileID
            self.sealed = .allocate(byteCount: FileFormat.pageSize, alignment: 16)
            self.sealed.copyMemory(from: sealed, byteCount: FileFormat.pageSize)
            self.opened = .allocate(byteCount: FileFormat.pageSize, alignment: 16)
            self.opened.copyMemory(from: opened, byteCount: FileFormat.pageSize)
        }

        deinit {
            secureZero(opened, count: FileFormat.pageSize)
            opened.deallocate()
            sealed.deallocate()
        }

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

    private struct State {
        var entries: [Key: Entry] = [:]
        /// Insertion order, for eviction: a ring of `capacity` keys.
        var order: [Key] = []
        var next = 0
        var hits = 0, misses = 0
    }

    private let state = Locked(State())
    /// How many pages the cache holds at most (each costs two pages of memory).
    package let capacity: Int

    /// An empty cache of at most `capacity` pages.
    package init(capacity: Int = 4_096) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    /// Opened pages served from the cache, and pages that had to be decrypted.
    package var counts: (hits: Int, misses: Int) { state.withLock { ($0.hits, $0.misses) } }

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
        let cached = state.withLock { s -> Entry? in
            guard let e = s.entries[key], e.matches(page, meta: meta, number: number, sealer: sealer) else {
                s.misses += 1
                return nil
            }
            s.hits += 1
            return e
        }
        if let cached {
            page.copyMemory(from: cached.opened, byteCount: FileFormat.pageSize)
            return true
        }
        return withUnsafeTemporaryAllocation(byteCount: FileFormat.pageSize, alignment: 16) { sealed in
            sealed.baseAddress!.copyMemory(from: page, byteCount: FileFormat.pageSize)
            guard decrypt(page) else { return false }
            let entry = Entry(meta: meta, number: number, keys: sealer.keys, fileID: sealer.fileID, sealed: sealed.baseAddress!, opened: page)
            state.withLock { s in insert(entry, for: key, into: &s) }
            return true
        }
    }

    private func insert(_ entry: Entry, for key: Key, into s: inout State) {
        if s.entries.updateValue(entry, forKey: key) != nil { return }
        if s.order.count < capacity {
            s.order.append(key)
            return
        }
        s.entries[s.order[s.next]] = nil
        s.order[s.next] = key
        s.next = (s.next + 1) % capacity
    }
}
