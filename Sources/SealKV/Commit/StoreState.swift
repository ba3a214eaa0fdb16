/// What every transaction of a handle shares, under one short lock: the newest committed state
/// (where readers start), the live readers, how far commits are durable, and whether the handle
/// still accepts commits.
struct CommittedState: Sendable {
    var current: CommitState
    /// The cleartext meta header that goes with `current` (for backups).
    var header: StoreHeader
    var readers = ReaderTable()
    /// The newest commit known to be on stable storage, and the meta slot that holds it.
    var lastDurable: UInt64
    var durableSlot: UInt64
    /// Set by a failed write or sync; no commit is acknowledged after it.
    var poisoned: SealKVError?
    var closed = false

    init(current: CommitState, header: StoreHeader, slot: UInt64) {
        self.current = current
        self.header = header
        lastDurable = current.txnID
        durableSlot = slot
    }

    /// Pages freed by commits up to this txnid may be reused (or overwritten): no live snapshot
    /// is older than it, and, without a sync at every commit, the commit after it is durable.
    func reuseBound(_ durability: Durability) -> UInt64 {
        var bound = current.txnID
        for r in readers.values { bound = min(bound, r.txnID) }
        let durable = durability == .noSync ? (lastDurable == 0 ? 0 : lastDurable - 1) : lastDurable
        return min(bound, durable)
    }

    /// Whether a live reader holds a snapshot older than the newest commit (it may reach pages
    /// past the newest commit's end).
    var olderReaderAlive: Bool { readers.values.contains { $0.txnID < current.txnID } }

    /// The error for a handle that takes no more commits, if it does not.
    var refusal: SealKVError? {
        if closed { return SealKVError(.closed, "the database was closed; open it again.") }
        if let p = poisoned {
            return SealKVError(.poisoned, "an earlier write or sync failed (\(p.message)); no further commit is accepted. Reopen the store: it recovers every acknowledged commit.")
        }
        return nil
    }
}

/// What only the writer touches, under the writer lock: the header it writes, its copy of the free
/// list, and the pages it must keep or scrub for readers.
struct WriterState {
    var header: StoreHeader
    var freeList: FreeList?
    /// Set when the newest commits cut pages off the end that a live reader can still reach.
    var heldTail: HeldTail?
    /// Pages that may still hold images sealed under a data key a rekey retired, which a reader
    /// alive at the time kept from being overwritten: scrubbed at the next write (or close)
    /// that finds no snapshot reaching them.
    var retiredKeyPages: [UInt64] = []
}

/// A commit with no reader alive may cut the pages it frees at the end of the file instead of
/// listing them. A reader can still start while that commit is being written, on the snapshot
/// before it, which reaches those pages. While such a reader lives, the following commits must not
/// append over them: they start above `end` and list the pages below it as freed.
struct HeldTail {
    /// The commit that cut the pages; readers older than it can reach them.
    var txnID: UInt64
    /// The end of the file before the cut.
    var end: UInt64
}
