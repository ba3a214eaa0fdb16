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
    /// Live readers per snapshot, and the oldest snapshot any of them holds (what the lock file's
    /// slot of this handle publishes to other processes).
    private var perSnapshot: [UInt64: Int] = [:]
    private(set) var oldest: UInt64?

    /// Records a reader; the returned slot number ends it.
    mutating func register(_ reader: ReaderInfo) -> Int {
        count += 1
        perSnapshot[reader.txnID, default: 0] += 1
        if oldest.map({ reader.txnID < $0 }) ?? true { oldest = reader.txnID }
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
        let txn = slots[slot]!.txnID
        if perSnapshot[txn]! == 1 {
            perSnapshot[txn] = nil
            if txn == oldest { oldest = perSnapshot.keys.min() }
        } else {
            perSnapshot[txn]! -= 1
        }
        slots[slot] = nil
        freeSlots.append(slot)
        count -= 1
    }

    var isEmpty: Bool { count == 0 }

    /// When the oldest live reader began (coarse monotonic nanoseconds), for the lock file.
    var oldestStarted: UInt64? {
        guard let oldest else { return nil }
        return values.filter { $0.txnID == oldest }.map(\.started).min()
    }

    /// The live readers, in no particular order.
    var values: some Sequence<ReaderInfo> { slots.lazy.compactMap { $0 } }
}
