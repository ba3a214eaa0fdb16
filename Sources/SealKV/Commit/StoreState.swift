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
    /// The lock file other processes sharing the store coordinate through (nil for a store in
    /// memory, or on a read-only file system).
    let lockFile: LockFile?
    /// Whether this handle is the store's writer (it publishes commits; other handles publish
    /// their readers' snapshots).
    let isWriter: Bool
    /// The published commit a reader handle last moved on from (see `Database.beginRead`).
    var lastSeenCommit: UInt64 = 0
    /// Ended read transactions kept for reuse.
    var idleReaders = IdleReaders()

    init(current: CommitState, header: StoreHeader, slot: UInt64, lockFile: LockFile? = nil, isWriter: Bool = true) {
        self.current = current
        self.header = header
        lastDurable = current.txnID
        durableSlot = slot
        self.lockFile = lockFile
        self.isWriter = isWriter
        lastSeenCommit = lockFile?.committedTxnID ?? 0
    }

    /// The data keys the pages of `current` may be sealed under.
    var epochRule: KeyEpochRule { KeyEpochRule(current: header.keyEpoch, rekey: current.rekey) }

    /// The snapshots readers of other handles (in this process or others) hold, from the lock file.
    func otherReaders() -> [LockFile.Slot] { lockFile?.otherReaders() ?? [] }

    /// Pages freed by commits up to this txnid may be reused (or overwritten): no live snapshot,
    /// in this handle or in any other process, is older than it, and, without a sync at every
    /// commit, the commit after it is durable.
    func reuseBound(_ durability: Durability) -> UInt64 {
        var bound = current.txnID
        if let oldest = readers.oldest { bound = min(bound, oldest) }
        for r in otherReaders() { bound = min(bound, r.txnID) }
        let durable = durability == .noSync ? (lastDurable == 0 ? 0 : lastDurable - 1) : lastDurable
        return min(bound, durable)
    }

    /// Whether a live reader, here or in another process, holds a snapshot older than the newest
    /// commit (it may reach pages past the newest commit's end).
    var olderReaderAlive: Bool {
        readers.oldest.map { $0 < current.txnID } ?? false || otherReaders().contains { $0.txnID < current.txnID }
    }

    /// Whether no reader is alive anywhere.
    var noReaderAlive: Bool { readers.isEmpty && otherReaders().isEmpty }

    /// Tells the lock file which snapshot this handle's oldest reader holds (after readers come
    /// and go). Returns false when no slot is free for it.
    func publishOldestReader() -> Bool {
        guard let lockFile, !isWriter else { return true }
        return lockFile.publishOldest(readers.oldest, since: (readers.oldestStarted ?? ReaderInfo.clock()) / 1_000_000)
    }

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
    /// A transaction some callers' changes are in, left uncommitted for the callers waiting for the
    /// writer lock to join (see ``WriteGroup``).
    var openGroup: WriteGroup?
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
