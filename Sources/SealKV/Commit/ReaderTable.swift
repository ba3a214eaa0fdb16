#if canImport(Glibc)
import Glibc
#endif

/// A live read transaction: the snapshot it reads, and when it began.
struct ReaderInfo: Sendable {
    var txnID: UInt64
    /// Monotonic nanoseconds (a coarse clock: a few milliseconds of resolution is plenty for
    /// reporting how old a reader is, and reading it costs a fraction of a precise one).
    var started: UInt64

    /// The coarse monotonic clock `started` is read from, in nanoseconds.
    static func clock() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

/// The read transactions alive, each in a numbered slot. Every read registers and leaves under
/// the database's shared lock, so both are kept to an array store and a push or pop of a free
/// slot number (a dictionary would hash on both).
struct ReaderTable: Sendable {
    private var slots: [ReaderInfo?] = []
    private var freeSlots: [Int] = []
    /// How many readers are alive.
    private(set) var count = 0

    /// Records a reader; the returned slot number ends it.
    mutating func register(_ reader: ReaderInfo) -> Int {
        count += 1
        if let slot = freeSlots.popLast() {
            slots[slot] = reader
            return slot
        }
        slots.append(reader)
        return slots.count - 1
    }

    /// Ends the reader in `slot`.
    mutating func remove(_ slot: Int) {
        precondition(slots[slot] != nil, "reader slot \(slot) ended twice")
        slots[slot] = nil
        freeSlots.append(slot)
        count -= 1
    }

    var isEmpty: Bool { count == 0 }

    /// The live readers, in no particular order.
    var values: some Sequence<ReaderInfo> { slots.lazy.compactMap { $0 } }
}
