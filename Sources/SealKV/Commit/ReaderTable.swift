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
    /// Live readers per snapshot, ascending by txnid. Readers almost always begin on the newest
    /// snapshot, so registering one usually bumps the last entry, and only a handful of snapshots
    /// are alive at once: cheaper, on every read, than hashing into a dictionary.
    private var snapshots: [(txnID: UInt64, readers: Int)] = []

    /// The oldest snapshot a live reader holds (what the lock file's slot of this handle publishes
    /// to other processes).
    var oldest: UInt64? { snapshots.first?.txnID }

    /// Records a reader; the returned slot number ends it.
    mutating func register(_ reader: ReaderInfo) -> Int {
        count += 1
        let at = position(of: reader.txnID)
        if at < snapshots.count && snapshots[at].txnID == reader.txnID {
            snapshots[at].readers += 1
        } else {
            snapshots.insert((reader.txnID, 1), at: at)
        }
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
        let at = position(of: slots[slot]!.txnID)
        if snapshots[at].readers == 1 {
            snapshots.remove(at: at)
        } else {
            snapshots[at].readers -= 1
        }
        slots[slot] = nil
        freeSlots.append(slot)
        count -= 1
    }

    /// Where `txnID` is, or belongs, in ``snapshots``: the last entry checked first.
    private func position(of txnID: UInt64) -> Int {
        if let last = snapshots.last {
            if last.txnID == txnID { return snapshots.count - 1 }
            if last.txnID < txnID { return snapshots.count }
        }
        var low = 0, high = snapshots.count
        while low < high {
            let mid = (low + high) / 2
            if snapshots[mid].txnID < txnID { low = mid + 1 } else { high = mid }
        }
        return low
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
