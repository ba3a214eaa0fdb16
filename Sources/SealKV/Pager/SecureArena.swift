#if canImport(Glibc)
import Glibc
#endif


/// Anonymous memory for decrypted pages: excluded from core dumps (`MADV_DONTDUMP`), locked
/// against swapping where `RLIMIT_MEMLOCK` allows (best effort, never an error), and zeroed before
/// it is unmapped.
///
/// The whole arena is locked, and so made resident, at once. Locking on fault instead
/// (`mlock2(MLOCK_ONFAULT)`) was measured: the faults then land in the first reads, and a cold
/// scan of the benchmark ran 30 % slower, while its peak RSS did not change (the writer borrows
/// the cache's slots rather than adding memory, see ``PageCache``).
final class SecureArena: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let byteCount: Int
    /// How many of `byteCount` bytes mlock accepted.
    let lockedBytes: Int

    /// Arenas this large are aligned to 2 MiB and offered transparent huge pages: a cache of many
    /// megabytes read at random otherwise spends much of each lookup on TLB misses.
    static let hugePageSize = 2 << 20

    init(byteCount: Int) {
        let size = max(FileFormat.pageSize, (byteCount + FileFormat.pageSize - 1) / FileFormat.pageSize * FileFormat.pageSize)
        let huge = size >= 2 * Self.hugePageSize
        let reserve = huge ? size + Self.hugePageSize : size
        let m = mmap(nil, reserve, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard m != MAP_FAILED, let m else { fatalError("mmap of \(size) bytes for the page cache failed: out of memory") }
        var p = m
        if huge {
            // Trim the reservation to a 2 MiB-aligned range of exactly `size` bytes.
            let address = UInt(bitPattern: m)
            let aligned = (address + UInt(Self.hugePageSize) - 1) & ~UInt(Self.hugePageSize - 1)
            let head = Int(aligned - address)
            if head > 0 { munmap(m, head) }
            let tail = reserve - head - size
            if tail > 0 { munmap(m + head + size, tail) }
            p = m + head
            _ = madvise(p, size, MADV_HUGEPAGE)
        }
        base = p
        self.byteCount = size
        _ = madvise(p, size, MADV_DONTDUMP)
        lockedBytes = mlock(p, size) == 0 ? size : 0
    }

    /// One byte per page, bit 0 set where the page is resident (`mincore`; all set if it fails).
    private func residencyMap() -> [UInt8] {
        let pages = byteCount / FileFormat.pageSize
        var map = [UInt8](repeating: 1, count: pages)
        if mincore(base, byteCount, &map) != 0 { map = [UInt8](repeating: 1, count: pages) }
        return map
    }

    deinit {
        // Zero only what is resident: an arena mlock refused is populated only where used, and
        // writing to an untouched page would first allocate it.
        let map = residencyMap()
        var page = 0
        while page < map.count {
            guard map[page] & 1 != 0 else { page += 1; continue }
            var end = page + 1
            while end < map.count && map[end] & 1 != 0 { end += 1 }
            secureZero(base + page * FileFormat.pageSize, count: (end - page) * FileFormat.pageSize)
            page = end
        }
        if lockedBytes > 0 { munlock(base, byteCount) }
        munmap(base, byteCount)
    }
}

/// Page-sized buffers for a write transaction's dirty pages and scratch space, carved from
/// ``SecureArena``s and zeroed when returned.
final class PageBufferPool: @unchecked Sendable {
    private struct State {
        var arenas: [SecureArena] = []
        var free: [UnsafeMutableRawPointer] = []
        var lockedBytes = 0
        var arenasMapped = 0
        #if DEBUG
        /// Buffers handed out and not yet returned: a buffer given back twice would later be handed
        /// to two users at once.
        var outstanding = Set<UInt>()
        #endif
    }
    private let state = Locked(State())
    /// Pages per arena.
    private let arenaPages: Int

    init(arenaPages: Int = 256) {
        self.arenaPages = arenaPages
    }

    /// A zeroed 4096-byte buffer.
    func take() -> UnsafeMutableRawPointer {
        state.withLock { s in
            let p = Self.takeLocked(&s, arenaPages: arenaPages)
            #if DEBUG
            s.outstanding.insert(UInt(bitPattern: p))
            #endif
            return p
        }
    }

    private static func takeLocked(_ s: inout State, arenaPages: Int) -> UnsafeMutableRawPointer {
        if let p = s.free.popLast() { return p }
        let arena = SecureArena(byteCount: arenaPages * FileFormat.pageSize)
        s.arenas.append(arena)
        s.arenasMapped += 1
        s.lockedBytes += arena.lockedBytes
        for i in stride(from: arenaPages - 1, to: 0, by: -1) {
            s.free.append(arena.base + i * FileFormat.pageSize)
        }
        return arena.base
    }

    /// Buffers the pool holds, in use or free (not counting borrowed ones).
    var bufferCount: Int { state.withLock { $0.arenas.count * arenaPages } }

    /// Arenas mapped since the pool was made (each a system call, locking and page faults).
    var arenasMapped: Int { state.withLock { $0.arenasMapped } }

    /// Free buffers ready to hand out.
    var freeCount: Int { state.withLock { $0.free.count } }

    /// Adds zeroed buffers that belong to someone else (cache slots lent to the pool) to the free
    /// list; ``removeFree(where:)`` gives them back.
    func add(_ borrowed: [UnsafeMutableRawPointer]) {
        state.withLock { $0.free.append(contentsOf: borrowed) }
    }

    /// Removes and returns the free buffers `belongs` picks out.
    func removeFree(where belongs: (UnsafeMutableRawPointer) -> Bool) -> [UnsafeMutableRawPointer] {
        state.withLock { s in
            var picked: [UnsafeMutableRawPointer] = []
            s.free.removeAll { p in
                guard belongs(p) else { return false }
                picked.append(p)
                return true
            }
            return picked
        }
    }

    /// Unmaps arenas none of whose buffers is in use while more than `keep` buffers are free, so
    /// the memory of a large transaction's dirty pages goes back to the system after its commit.
    func releaseIdle(keeping keep: Int) {
        state.withLock { s in
            guard s.free.count > keep + arenaPages else { return }
            let free = Set(s.free.map { UInt(bitPattern: $0) })
            var released = Set<UInt>()
            var freeLeft = s.free.count
            s.arenas.removeAll { arena in
                guard freeLeft - arenaPages >= keep else { return false }
                let base = UInt(bitPattern: arena.base)
                guard (0..<arenaPages).allSatisfy({ free.contains(base + UInt($0 * FileFormat.pageSize)) }) else { return false }
                released.insert(base)
                freeLeft -= arenaPages
                s.lockedBytes -= arena.lockedBytes
                return true
            }
            guard !released.isEmpty else { return }
            var gone = Set<UInt>()
            for base in released {
                for i in 0..<arenaPages { gone.insert(base + UInt(i * FileFormat.pageSize)) }
            }
            s.free.removeAll { gone.contains(UInt(bitPattern: $0)) }
        }
    }

    /// Zeroes the buffer and returns it to the pool.
    func give(_ p: UnsafeMutableRawPointer) {
        secureZero(p, count: FileFormat.pageSize)
        state.withLock { s in
            #if DEBUG
            precondition(s.outstanding.remove(UInt(bitPattern: p)) != nil, "a page buffer was given back twice")
            #endif
            s.free.append(p)
        }
    }

    var lockedBytes: Int { state.withLock { $0.lockedBytes } }
    var reservedBytes: Int { state.withLock { $0.arenas.count * arenaPages * FileFormat.pageSize } }
}
