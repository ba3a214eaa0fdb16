#if canImport(Glibc)
import Glibc
#endif
import Synchronization


/// Anonymous memory for decrypted pages: excluded from core dumps (`MADV_DONTDUMP`), locked
/// against swapping where `RLIMIT_MEMLOCK` allows (best effort, never an error), and zeroed before
/// it is unmapped.
///
/// The whole arena is locked, and so made resident, at once (unless it is created with
/// `lockingAll: false`, for a cache that grows into a reservation: then ``lock(offset:count:)``
/// locks each part as it comes into use). Locking on fault instead
/// (`mlock2(MLOCK_ONFAULT)`) was measured: the faults then land in the first reads, and a cold
/// scan of the benchmark ran 30 % slower, while its peak RSS did not change (the writer borrows
/// the cache's slots rather than adding memory, see ``PageCache``).
final class SecureArena: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let byteCount: Int
    /// How many of `byteCount` bytes mlock accepted.
    var lockedBytes: Int { locked.load(ordering: .relaxed) }
    private let locked = Atomic<Int>(0)

    /// Arenas this large are aligned to 2 MiB and offered transparent huge pages: a cache of many
    /// megabytes read at random otherwise spends much of each lookup on TLB misses.
    static let hugePageSize = 2 << 20

    init(byteCount: Int, lockingAll: Bool = true) {
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
        if lockingAll { lock(offset: 0, count: size) }
    }

    /// Locks `count` bytes at `offset` against swapping, best effort (never an error).
    func lock(offset: Int, count: Int) {
        guard count > 0, offset >= 0, offset + count <= byteCount else { return }
        if mlock(base + offset, count) == 0 { locked.add(count, ordering: .relaxed) }
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
