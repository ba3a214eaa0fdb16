#if canImport(Glibc)
import Glibc
#endif

/// Page-sized buffers for a write transaction's dirty pages and scratch space, carved from
/// ``SecureArena``s and zeroed when returned.
///
/// The first arena is small and each new one doubles what the pool holds, up to `arenaPages` an
/// arena: a handle that needs a few buffers (a read-only open, a check, a small commit) maps and
/// locks 64 KiB, not a whole 1 MiB arena.
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
    /// Pages of the largest arena.
    private let arenaPages: Int
    /// Pages of the first arena.
    static let firstArenaPages = 16

    init(arenaPages: Int = 256) {
        self.arenaPages = arenaPages
    }

    private static func pages(of arena: SecureArena) -> Int { arena.byteCount / FileFormat.pageSize }

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
        let held = s.arenas.reduce(0) { $0 + pages(of: $1) }
        let count = min(arenaPages, max(firstArenaPages, held))
        let arena = SecureArena(byteCount: count * FileFormat.pageSize)
        s.arenas.append(arena)
        s.arenasMapped += 1
        s.lockedBytes += arena.lockedBytes
        for i in stride(from: count - 1, to: 0, by: -1) {
            s.free.append(arena.base + i * FileFormat.pageSize)
        }
        return arena.base
    }

    /// Buffers the pool holds, in use or free (not counting borrowed ones).
    var bufferCount: Int { state.withLock { $0.arenas.reduce(0) { $0 + Self.pages(of: $1) } } }

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
            var released: [(base: UInt, pages: Int)] = []
            var freeLeft = s.free.count
            s.arenas.removeAll { arena in
                let pages = Self.pages(of: arena)
                guard freeLeft - pages >= keep else { return false }
                let base = UInt(bitPattern: arena.base)
                guard (0..<pages).allSatisfy({ free.contains(base + UInt($0 * FileFormat.pageSize)) }) else { return false }
                released.append((base, pages))
                freeLeft -= pages
                s.lockedBytes -= arena.lockedBytes
                return true
            }
            guard !released.isEmpty else { return }
            var gone = Set<UInt>()
            for (base, pages) in released {
                for i in 0..<pages { gone.insert(base + UInt(i * FileFormat.pageSize)) }
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
    var reservedBytes: Int { bufferCount * FileFormat.pageSize }
}
