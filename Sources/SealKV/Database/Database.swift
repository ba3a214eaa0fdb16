#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// An open SealKV store: an ordered, transactional key-value store in which every page on disk is
/// encrypted and authenticated.
///
/// `Database` is `Sendable`: any number of threads may run read transactions at once, each on its
/// own snapshot; write transactions run one at a time and never wait for readers.
///
/// ```swift
/// let db = try Database.open(at: "store.sealkv", credential: .password("p@ssw0rd"))
/// try db.write { tx in try tx.put("user:1", "alice") }
/// let name = try db.read { tx in try tx.getString("user:1") }
/// ```
public final class Database: Sendable {
    /// The file's path, or nil for an in-memory store.
    public let path: String?
    /// The options the store was opened with.
    public let options: Options
    /// What opening found in the meta slots.
    public let recovery: RecoveryReport

    let pager: Pager
    package var storage: any PageStorage { pager.storage }
    /// The committed state readers start from, and how durable it is (shared with commits).
    let shared: Locked<CommittedState>
    /// The writer's own state; holding this lock is being the writer.
    let writer: Locked<WriterState>
    /// Told of each commit as it happens (the crash harness records its promises through this).
    package let commitObserver = Locked<CommitObserver?>(nil)
    /// What every commit of this handle works with.
    let commits: CommitContext
    /// What every transaction of this handle is configured with.
    let transactionConfiguration: TransactionConfiguration
    let writerThread = Atomic<UInt>(0)
    /// Threads waiting in `write` for the writer lock: while there are any, a finished writer leaves
    /// its transaction open for them to join, and they share one commit.
    let waitingWriters = Atomic<Int>(0)
    /// The store's own threads, on which `async` calls run their blocking work.
    let executor = BlockingExecutor(maximumThreads: 64)
    /// Who observes the commits of this handle.
    let observers = ObserverRegistry()

    init(path: String?, options: Options, storage: any PageStorage, opened: OpenedStore, lockFile: LockFile? = nil,
         authenticationCache: AuthenticationCache? = nil) {
        self.path = path
        self.options = options
        recovery = opened.recovery
        pager = Pager(storage: storage, sealer: opened.sealer, cacheSizing: CacheSizing(fixed: options.cacheSize),
                      authenticationCache: authenticationCache)
        if let previous = opened.previousSealer { pager.keys.add(previous) }
        shared = Locked(CommittedState(current: opened.state, header: opened.header, slot: opened.slot,
                                       lockFile: lockFile, isWriter: options.mode != .readOnly))
        writer = Locked(WriterState(header: opened.header, freeList: nil))
        commits = CommitContext(storage: storage, pager: pager, shared: shared, durability: options.durability,
                                bugs: options.deliberateBugs, observer: commitObserver)
        transactionConfiguration = TransactionConfiguration(clock: options.clock, scanReadAhead: options.scanReadAhead)
    }

    /// A read transaction on `state`.
    func makeReadTransaction(_ state: CommitState, epochs: KeyEpochRule) -> ReadTransaction {
        ReadTransaction(pages: PageSpace(pager: pager, writeTxnID: .max, epochs: epochs), base: state, configuration: transactionConfiguration)
    }

    /// A write transaction on `base` that may reuse pages freed by commits up to `bound`, kept
    /// off any cut tail an older reader still reaches.
    func makeWriteTransaction(_ ws: inout WriterState, base: CommitState, bound: UInt64) -> WriteTransaction {
        var heldTailEnd: UInt64? = nil
        if let held = ws.heldTail {
            // `bound` is at most the oldest reader's snapshot.
            if bound < held.txnID { heldTailEnd = held.end } else { ws.heldTail = nil }
        }
        let allocator = PageAllocator(basePageCount: base.pageCount,
                                      freeView: FreeListView(list: ws.freeList!, bound: bound, filePages: base.pageCount),
                                      heldTailEnd: heldTailEnd,
                                      reuseFreedPagesAtOnce: options.deliberateBugs.has(.reuseFreedPagesInSameCommit))
        // The writer's header is the one of the newest commit, which `base` is.
        let space = WriteSpace(pager: pager, txnID: base.txnID + 1, allocator: allocator,
                               epochs: KeyEpochRule(current: ws.header.keyEpoch, rekey: base.rekey))
        let tx = WriteTransaction(space: space, base: base, configuration: transactionConfiguration, sealer: pager.sealer)
        tx.changeLog = observers.changeLogForNewTransaction()
        return tx
    }

    deinit {
        close()
    }

    /// The txnid of the newest commit; remember it and pass it as `Options.minimumTxnID` on the next
    /// open to detect a file rolled back to an older copy.
    public var currentTxnID: UInt64 { shared.withLock { $0.current.txnID } }

    /// Closes the store. Transactions in progress on other threads finish first; later calls fail
    /// with a `closed` error. The cache is wiped.
    public func close() {
        let wasOpen = writer.withLock { ws in
            finishOpenGroup(&ws)
            // Old-key images a reader kept from a rekey go now if no reader is left (best effort:
            // a failure leaves them for the next writable open's rekey to find).
            if !ws.retiredKeyPages.isEmpty, shared.withLock({ !$0.closed && $0.poisoned == nil }) {
                _ = try? scrubRetiredKeyPages(&ws)
            }
            return shared.withLock { s in
                defer { s.closed = true }
                s.idleReaders.removeAll()
                if !s.closed {
                    if s.isWriter { s.lockFile?.markWriter(false) }
                    s.lockFile?.close()
                }
                return !s.closed
            }
        }
        guard wasOpen else { return }
        observers.finishAll()
        pager.cache.removeAll()
        storage.close()
    }

    // MARK: Transactions

    /// Runs `body` in a read transaction on the newest committed snapshot and returns its result.
    /// The transaction must not escape the closure.
    public func read<R>(_ body: (ReadTransaction) throws -> R) throws -> R {
        try read(keepingHeader: false, body)
    }

    /// ``read(_:)``; with `keepingHeader`, the transaction also gets the meta header of its snapshot
    /// in `baseHeader` (backups and compaction need it; plain reads skip the copy).
    func read<R>(keepingHeader: Bool, _ body: (ReadTransaction) throws -> R) throws -> R {
        let started = ReaderInfo.clock()
        var idle: ReadTransaction? = nil
        let (state, epochs, header, slot) = try shared.withLock { (s) throws(SealKVError) -> (CommitState, KeyEpochRule, StoreHeader?, Int) in
            guard !s.closed else { throw SealKVError(.closed, "the database was closed; open it again.") }
            let slot = try beginRead(&s, started: started)
            let epochs = s.epochRule
            idle = s.idleReaders.take(epochs: epochs)
            return (s.current, epochs, keepingHeader ? s.header : nil, slot)
        }
        var tx: ReadTransaction
        if let reused = idle.take() {
            reused.reopen(on: state)
            tx = reused
        } else {
            tx = makeReadTransaction(state, epochs: epochs)
        }
        tx.baseHeader = header
        defer {
            tx.finish()
            tx.pages.releaseBuffers()
            // Kept for the next reader only if nothing else refers to it (`body` may have let the
            // transaction, a cursor or a sequence escape; those must stay ended).
            let reusable = isKnownUniquelyReferenced(&tx)
            shared.withLock { s in
                s.readers.remove(slot)
                _ = s.publishOldestReader()
                if reusable && !s.closed { s.idleReaders.put(tx) }
            }
        }
        let result = try body(tx)
        if let deferred = tx.deferredError { throw deferred }
        return result
    }

    /// Registers a reader on the newest commit. A reader handle beside a writer in another process
    /// first moves on to the newest commit that writer published as durable, then tells the lock
    /// file its snapshot, and looks at the published commit once more: if the writer published
    /// another one meanwhile, it may have scanned the lock file before this snapshot was in it, so
    /// the reader moves on again (LMDB's reader handshake).
    private func beginRead(_ s: inout CommittedState, started: UInt64) throws(SealKVError) -> Int {
        guard !s.isWriter, let lockFile = s.lockFile else {
            return s.readers.register(ReaderInfo(txnID: s.current.txnID, started: started))
        }
        var triesWithoutProgress = 0
        while true {
            let seen = lockFile.committedTxnID
            let before = s.current.txnID
            // Follow what was published since this handle last looked (not what it saw at open:
            // a dead writer's last txnid may name a commit recovery refused), or, when a live
            // writer published past the snapshot, whatever it takes to be safe (below).
            if seen != s.lastSeenCommit || triesWithoutProgress > 0 {
                s.lastSeenCommit = seen
                if seen > before { try followWriter(&s, upTo: seen) }
            }
            let slot = s.readers.register(ReaderInfo(txnID: s.current.txnID, started: started))
            guard s.publishOldestReader() else {
                s.readers.remove(slot)
                throw SealKVError(.locked, "every slot of '\(lockFile.path)' is taken by live processes reading the store; close some of them.")
            }
            // The snapshot is safe only if no newer commit was published before the slot became
            // visible: a writer that took its reuse bound from a newer commit without seeing this
            // slot may reuse pages the snapshot reaches. So the check is against the snapshot
            // itself, not merely against what was seen before (a published txnid below it is a
            // writer that has not yet committed past it, or none).
            if lockFile.committedTxnID <= s.current.txnID || lockFile.liveWriterCommitted == nil { return slot }
            s.readers.remove(slot)
            triesWithoutProgress = s.current.txnID > before ? 0 : triesWithoutProgress + 1
            if triesWithoutProgress > 1000 {
                _ = s.publishOldestReader()
                throw SealKVError(.corrupted, "the writer published commit \(seen), but no meta slot of the file holds it intact, so this handle cannot read it safely; reopen the store, and run `sealkv check` if this persists.")
            }
        }
    }

    /// Moves a reader handle's committed state to the newest commit another process published as
    /// durable (up to `hint`), reading the meta slots and the file's size again.
    private func followWriter(_ s: inout CommittedState, upTo hint: UInt64) throws(SealKVError) {
        try storage.refreshSize()
        guard let newer = try Recovery.newerCommit(after: s.current.txnID, upTo: hint, storage: storage, sealer: pager.keys.sealer(for:)) else { return }
        s.current = newer.state
        s.header = newer.header
        s.lastDurable = newer.state.txnID
        s.durableSlot = newer.slot
        pager.fitCacheToStore()
    }

    /// Makes every commit durable (for `Durability.noSync`; a no-op cost otherwise).
    public func sync() throws(SealKVError) {
        try writer.withLock { (ws) throws(SealKVError) in
            finishOpenGroup(&ws)
            try shared.withLock { (s) throws(SealKVError) in
                guard !s.closed else { throw SealKVError(.closed, "the database was closed; open it again.") }
                if let p = s.poisoned { throw SealKVError(.poisoned, "an earlier write or sync failed (\(p.message)); reopen the store.") }
            }
            try Commit.syncAll(in: commits)
        }
    }
}
