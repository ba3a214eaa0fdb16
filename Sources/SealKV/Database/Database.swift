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

    struct SharedState: Sendable {
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
    }

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
    /// before it, which reaches those pages. While such a reader lives, the following commits
    /// must not append over them: they start above `end` and list the pages below it as freed.
    struct HeldTail {
        /// The commit that cut the pages; readers older than it can reach them.
        var txnID: UInt64
        /// The end of the file before the cut.
        var end: UInt64
    }

    /// A write transaction on `base` that may reuse pages freed by commits up to `bound`, kept
    /// off any cut tail an older reader still reaches.
    func makeWriteTransaction(_ ws: inout WriterState, base: CommitState, bound: UInt64) -> WriteTransaction {
        let tx = WriteTransaction(database: self, base: base, freeView: FreeListView(list: ws.freeList!, bound: bound, filePages: base.pageCount))
        if let held = ws.heldTail {
            // `bound` is at most the oldest reader's snapshot.
            if bound < held.txnID { tx.holdTail(upTo: held.end) } else { ws.heldTail = nil }
        }
        return tx
    }

    let shared: Locked<SharedState>
    let writer: Locked<WriterState>
    /// Told of each commit as it happens (the crash harness records its promises through this).
    package let commitObserver = Locked<CommitObserver?>(nil)
    private let writerThread = Atomic<UInt>(0)

    init(path: String?, options: Options, storage: any PageStorage, opened: OpenedStore) {
        self.path = path
        self.options = options
        recovery = opened.recovery
        pager = Pager(storage: storage, sealer: opened.sealer, cacheBytes: options.cacheSize)
        shared = Locked(SharedState(current: opened.state, header: opened.header, lastDurable: opened.state.txnID, durableSlot: opened.slot))
        writer = Locked(WriterState(header: opened.header, freeList: nil))
    }

    deinit {
        close()
    }

    // MARK: Opening

    /// Opens (by default creating) the store at `path`.
    ///
    /// - Throws: ``SealKVError`` with code `wrongCredential`, `notASealKVFile`, `unsupportedFormat`,
    ///   `truncated`, `corrupted`, `fileNotFound`, `fileExists`, `permissionDenied` or `locked`. A
    ///   failed open never writes to an existing file.
    public static func open(at path: String, credential: Credential, options: Options = Options()) throws(SealKVError) -> Database {
        try options.validate()
        var exists = access(path, F_OK) == 0
        switch options.mode {
        case .createNew:
            if exists { throw SealKVError(.fileExists, "'\(path)' already exists; choose another path or open it with .openExisting.") }
            try createFile(at: path, credential: credential, options: options)
            exists = true
        case .createIfMissing:
            if !exists {
                do throws(SealKVError) {
                    try createFile(at: path, credential: credential, options: options)
                } catch where error.code == .fileExists {
                    // Another process created it first: open theirs.
                }
            }
        case .openExisting, .readOnly:
            if !exists { throw SealKVError(.fileNotFound, "there is no store at '\(path)'; check the path, or create one with .createIfMissing.") }
        }
        let readOnly = options.mode == .readOnly
        let storage = try FileStorage(path: path, readOnly: readOnly, engine: options.ioEngine)
        do throws(SealKVError) {
            try storage.lock()
            if storage.pageCount < 2 {
                let head = storage.head(8)
                if head.isEmpty {
                    throw SealKVError(.notASealKVFile, "'\(path)' is empty, so it is not a SealKV store. Remove it, or choose another path to create a store.")
                }
                if head.elementsEqual(FileFormat.magic) {
                    throw SealKVError(.truncated, "'\(path)' starts like a SealKV store but is shorter than its two meta pages: it was truncated. Restore it from a backup.")
                }
                throw SealKVError(.notASealKVFile, "'\(path)' is not a SealKV store (too short, no SealKV header). Check the path.")
            }
            if (options.metaSlot != nil || !options.verifyNewestCommit) && !readOnly {
                throw SealKVError(.invalidArgument, "opening a chosen meta slot or skipping recovery is for inspection: use it with .readOnly.")
            }
            let opened = try StoreOpener.open(storage: storage, credential: credential, verifyNewest: options.verifyNewestCommit, slot: options.metaSlot)
            try checkFreshness(opened, options)
            if opened.recovery.fellBack { options.recoveryNotice?(opened.recovery) }
            if !readOnly { try StoreOpener.prepareForWriting(opened, storage: storage) }
            return Database(path: path, options: options, storage: storage, opened: opened)
        } catch {
            storage.close()
            throw error
        }
    }

    private static func createFile(at path: String, credential: Credential, options: Options) throws(SealKVError) {
        let (bytes, _) = try StoreOpener.newStore(credential: credential, strength: options.kdf)
        try StoreOpener.createFile(at: path, contents: bytes)
    }

    /// A store that lives in memory only and never touches the disk; its pages are sealed like a
    /// file's under a random key that dies with the handle.
    public static func inMemory(options: Options = Options()) throws(SealKVError) -> Database {
        let key = SecureBytes.random(count: FileFormat.keySize)
        let credential = try key.withUnsafeBytes { (k) throws(SealKVError) in try Credential.key(k) }
        return try open(storage: MemoryStorage(), credential: credential, options: options, create: true)
    }

    /// Opens a store on any storage backend (memory, recording, fault-injecting). With `create`, an
    /// empty backend is initialised first.
    package static func open(storage: any PageStorage, credential: Credential, options: Options, create: Bool = false) throws(SealKVError) -> Database {
        try options.validate()
        if create && storage.pageCount == 0 {
            let (bytes, _) = try StoreOpener.newStore(credential: credential, strength: options.kdf)
            try bytes.withBytes { (b) throws(SealKVError) in
                try storage.writePages([PageWrite(page: 0, bytes: b.baseAddress!),
                                        PageWrite(page: 1, bytes: b.baseAddress! + FileFormat.pageSize)], sync: true)
            }
        }
        let opened = try StoreOpener.open(storage: storage, credential: credential,
                                          verifyNewest: !options.deliberateBugs.has(.skipRecoveryCheck))
        try checkFreshness(opened, options)
        if opened.recovery.fellBack { options.recoveryNotice?(opened.recovery) }
        if options.mode != .readOnly { try StoreOpener.prepareForWriting(opened, storage: storage) }
        return Database(path: nil, options: options, storage: storage, opened: opened)
    }

    private static func checkFreshness(_ opened: OpenedStore, _ options: Options) throws(SealKVError) {
        guard opened.state.txnID >= options.minimumTxnID else {
            throw SealKVError(.rolledBack, "the store's newest commit is \(opened.state.txnID), older than the \(options.minimumTxnID) you last saw: the file was rolled back to an older copy (or a newer commit was lost). Restore the newest copy.")
        }
    }

    /// The txnid of the newest commit; remember it and pass it as `Options.minimumTxnID` on the next
    /// open to detect a file rolled back to an older copy.
    public var currentTxnID: UInt64 { shared.withLock { $0.current.txnID } }

    /// Closes the store. Transactions in progress on other threads finish first; later calls fail
    /// with a `closed` error. The cache is wiped.
    public func close() {
        let wasOpen = writer.withLock { ws in
            // Old-key images a reader kept from a rekey go now if no reader is left (best effort:
            // a failure leaves them for the next writable open's rekey to find).
            if !ws.retiredKeyPages.isEmpty, shared.withLock({ !$0.closed && $0.poisoned == nil }) {
                _ = try? scrubRetiredKeyPages(&ws)
            }
            return shared.withLock { s in
                defer { s.closed = true }
                return !s.closed
            }
        }
        guard wasOpen else { return }
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
        let (state, header, slot) = try shared.withLock { (s) throws(SealKVError) -> (CommitState, StoreHeader?, Int) in
            guard !s.closed else { throw SealKVError(.closed, "the database was closed; open it again.") }
            let slot = s.readers.register(ReaderInfo(txnID: s.current.txnID, started: started))
            return (s.current, keepingHeader ? s.header : nil, slot)
        }
        defer { shared.withLock { $0.readers.remove(slot) } }
        let tx = ReadTransaction(database: self, base: state, writeTxnID: .max)
        tx.baseHeader = header
        defer { tx.finish() }
        let result = try body(tx)
        if let deferred = tx.deferredError { throw deferred }
        return result
    }

    /// Runs `body` in the write transaction and commits its changes when it returns. If `body` (or
    /// the commit) throws, nothing is changed and the first error is rethrown. Write transactions
    /// run one at a time; calling `write` inside a write closure on the same thread fails with a
    /// `conflict` error instead of deadlocking.
    public func write<R>(_ body: (WriteTransaction) throws -> R) throws -> R {
        try withWriter { ws, base, bound in
            let tx = makeWriteTransaction(&ws, base: base, bound: bound)
            defer { tx.finish() }
            let result = try body(tx)
            if let deferred = tx.deferredError { throw deferred }
            try commit(tx, writerState: &ws)
            return result
        }
    }

    /// Runs `body` holding the writer lock, with the committed state it starts from and the
    /// reclaim bound (pages freed by commits up to it may be reused). Refuses nested use on one
    /// thread, closed or poisoned handles, and read-only stores.
    func withWriter<R>(_ body: (inout WriterState, CommitState, UInt64) throws -> R) throws -> R {
        let me = UInt(bitPattern: Int(bitPattern: UInt(pthread_self())))
        if writerThread.load(ordering: .relaxed) == me {
            throw SealKVError(.conflict, "a write transaction is already running on this thread; do the work inside the outer transaction.")
        }
        if options.mode == .readOnly {
            throw SealKVError(.readOnly, "the store was opened read-only; reopen it without .readOnly to write.")
        }
        return try writer.withLock { (ws) throws -> R in
            writerThread.store(me, ordering: .relaxed)
            defer { writerThread.store(0, ordering: .relaxed) }
            let (base, bound) = try shared.withLock { (s) throws(SealKVError) -> (CommitState, UInt64) in
                guard !s.closed else { throw SealKVError(.closed, "the database was closed; open it again.") }
                if let p = s.poisoned {
                    throw SealKVError(.poisoned, "an earlier write or sync failed (\(p.message)); no further commit is accepted. Reopen the store: it recovers every acknowledged commit.")
                }
                return (s.current, reuseBound(s))
            }
            if ws.freeList == nil {
                let loader = ReadTransaction(database: self, base: base, writeTxnID: .max)
                defer { loader.finish() }
                ws.freeList = try FreeList.load(from: loader, tree: base.free, pageCount: base.pageCount)
            }
            // Best effort: a failure leaves the pages listed for the next write, and must not fail this one.
            if !ws.retiredKeyPages.isEmpty { _ = try? scrubRetiredKeyPages(&ws) }
            // Borrowed cache slots go back once the transaction (and its buffers) is gone.
            defer { pager.returnBorrowedBuffers() }
            return try body(&ws, base, bound)
        }
    }

    /// Pages freed by commits up to this txnid may be reused (or overwritten): no live snapshot
    /// is older than it, and, without a sync at every commit, the commit after it is durable.
    func reuseBound(_ s: SharedState) -> UInt64 {
        var bound = s.current.txnID
        for r in s.readers.values { bound = min(bound, r.txnID) }
        let durable = options.durability == .noSync ? (s.lastDurable == 0 ? 0 : s.lastDurable - 1) : s.lastDurable
        return min(bound, durable)
    }

    /// Makes every commit durable (for `Durability.noSync`; a no-op cost otherwise).
    public func sync() throws(SealKVError) {
        try writer.withLock { (_) throws(SealKVError) in
            try shared.withLock { (s) throws(SealKVError) in
                guard !s.closed else { throw SealKVError(.closed, "the database was closed; open it again.") }
                if let p = s.poisoned { throw SealKVError(.poisoned, "an earlier write or sync failed (\(p.message)); reopen the store.") }
            }
            try sync(holdingWriter: ())
        }
    }

    // MARK: Commit

    func commit(_ tx: WriteTransaction, writerState ws: inout WriterState, header: StoreHeader? = nil) throws(SealKVError) {
        let isEmpty = tx.dirty.isEmpty && tx.freed.isEmpty && tx.reusable.isEmpty && tx.freeView.rewrittenChunks.isEmpty
            && tx.changedNamespaces.isEmpty && tx.droppedNamespaces.isEmpty
        if isEmpty && header == nil { return }
        let plan = try tx.prepareCommit()
        pager.borrowBuffersFromCache(dirtyPages: tx.dirty.count)
        let metaBuffer = pager.buffers.take()
        defer { pager.buffers.give(metaBuffer) }
        let (durable, durableSlot) = shared.withLock { ($0.lastDurable, $0.durableSlot) }
        // Never the slot holding the newest durable commit, which recovery may need.
        let slot = durableSlot ^ 1

        let observer = commitObserver.withLock { $0 }
        observer?.willWrite(tx.txnID)
        let state: CommitState
        let plaintext: [(page: UInt64, tag: PageTag, buffer: UnsafeMutableRawPointer)]
        var cached = false
        do throws(SealKVError) {
            if plan.pageCount > storage.pageCount {
                // Grow in chunks, and make the new size durable before any page of the commit is
                // written: a meta can then never claim more pages than the file holds after a crash,
                // so a short file always means truncation, never a torn commit.
                let current = storage.pageCount
                let target = max(plan.pageCount, current + max(16, current / 8))
                try storage.resize(toPages: target)
                try storage.sync()
            }
            if options.deliberateBugs.has(.truncateBeforeDurable) && plan.pageCount < storage.pageCount {
                try storage.resize(toPages: plan.pageCount)
            }
            // Full batches are written by a thread of its own while sealing goes on (no sync: the
            // meta is not written yet, so no committed state can reach them); the rest go out with
            // the meta below, once every earlier batch is written. Starting writeback early pays
            // for pages scattered over the file, not for a commit that rewrites most of it.
            let scattered = UInt64(tx.dirty.count) * 4 < plan.pageCount
            let writer = BackgroundPageWriter(storage: storage, buffers: pager.buffers, startingWriteback: scattered)
            let sealed: SealedCommit
            do throws(SealKVError) {
                sealed = try tx.sealCommit(writing: writer.submit)
            } catch {
                try? writer.finish()
                throw error
            }
            defer { for w in sealed.remaining { pager.buffers.give(UnsafeMutableRawPointer(mutating: w.bytes)) } }
            try writer.finish()
            var sealedState = sealed.state
            sealedState.durableTxnID = durable
            state = sealedState
            plaintext = sealed.plaintext
            tx.commitSealer.buildMeta(into: metaBuffer, header: header ?? ws.header, state: state, slot: slot)
            var writes = sealed.remaining
            let meta = PageWrite(page: slot, bytes: UnsafeRawPointer(metaBuffer))
            switch options.durability {
            case .oneSync:
                writes.append(meta)
                try storage.writePages(writes, sync: false)
                if plaintext.count >= Self.overlapPublishingFrom {
                    // A large commit caches its pages while the device writes the last of them:
                    // the cache is keyed by tag, so pages of a commit that then fails to sync are
                    // never read (no link names them) and are evicted like any other.
                    storage.startWriteback(writes)
                    cachePlaintext(plaintext)
                    cached = true
                }
                if !options.deliberateBugs.has(.skipCommitSync) { try storage.sync() }
            case .twoPhase:
                try storage.writePages(writes, sync: true)
                try storage.writePages([meta], sync: true)
            case .noSync:
                writes.append(meta)
                try storage.writePages(writes, sync: false)
            }
        } catch {
            shared.withLock { $0.poisoned = error }
            ws.freeList = nil
            throw error
        }

        // Durable (or, without sync, issued): publish.
        ws.freeList?.apply(rewritten: plan.freeListChanges.rewritten, added: plan.freeListChanges.added)
        if !cached { cachePlaintext(plaintext) }
        if let header { ws.header = header }
        let olderReaderAlive = shared.withLock { s in
            s.current = state
            s.header = ws.header
            if options.durability != .noSync {
                s.lastDurable = state.txnID
                s.durableSlot = slot
            }
            // A reader holding a snapshot older than this commit may reach pages past the new end.
            return s.readers.values.contains { $0.txnID < state.txnID }
        }
        if !tx.heldPages.isEmpty { ws.heldTail = nil }
        if olderReaderAlive, let end = tx.cutPagesOlderSnapshotsReach, end > state.pageCount {
            ws.heldTail = HeldTail(txnID: state.txnID, end: end)
        }
        observer?.didPublish(state.txnID)
        // Without sync the commit that lowered the high-water mark is not durable yet, and the
        // durable one may still need those pages: `sync()` cuts the file instead. No reader may
        // hold a snapshot older than this commit while the file is cut.
        if options.durability != .noSync && !olderReaderAlive { cutSlack(to: state.pageCount) }
        tx.releaseDirtyPages()
        pager.buffers.releaseIdle(keeping: Pager.idleBuffersKept)
    }
}

extension Database {
    /// Commits with at least this many pages cache them between their last write and the sync
    /// (a 1,000-update commit at 1M keys writes about 1,450 pages; caching them takes ~2 ms, which
    /// the device then spends writing). Smaller commits sync first: the extra system call that
    /// starts writeback would cost them more than they overlap.
    static let overlapPublishingFrom = 256

    /// Caches a commit's newest pages, up to half the cache and no more than it has room for beside
    /// the commit's own pages: their buffers are still held, and a large commit that also filled
    /// the cache would hold its plaintext twice.
    func cachePlaintext(_ plaintext: [(page: UInt64, tag: PageTag, buffer: UnsafeMutableRawPointer)]) {
        let capacity = pager.cache.capacity
        let cacheBudget = min(capacity / 2, max(0, capacity - plaintext.count))
        for entry in plaintext.suffix(cacheBudget) {
            pager.cache.insert(page: entry.page, tag: entry.tag, from: entry.buffer)
        }
    }

    /// Makes every commit durable; the caller holds the writer lock (or is the writer).
    func sync(holdingWriter: Void) throws(SealKVError) {
        let (current, newestSlot) = shared.withLock { s in
            // The newest commit sits in the slot after the durable one, unless nothing was
            // committed since the last sync.
            (s.current.txnID, s.current.txnID == s.lastDurable ? s.durableSlot : s.durableSlot ^ 1)
        }
        do throws(SealKVError) {
            try storage.sync()
        } catch {
            shared.withLock { $0.poisoned = error }
            throw error
        }
        let (mayShrink, pages) = shared.withLock { s in
            s.lastDurable = current
            s.durableSlot = newestSlot
            return (s.readers.values.allSatisfy { $0.txnID >= s.current.txnID }, s.current.pageCount)
        }
        if mayShrink { cutSlack(to: pages) }
    }

    /// Cuts the file down to `pages` when it is much longer (a commit freed its tail). Only when the
    /// commit that set that high-water mark is durable and no reader can reach the pages past it.
    func cutSlack(to pages: UInt64) {
        let slack = storage.pageCount > pages ? storage.pageCount - pages : 0
        guard slack > max(16, pages / 8) else { return }
        do throws(SealKVError) {
            try storage.resize(toPages: pages)
        } catch {
            // The commit stands; the file is merely longer than needed until a later cut.
        }
    }
}
