/// Everything a handle's commits work with, fixed for the life of the handle.
struct CommitContext: Sendable {
    let storage: any PageStorage
    let pager: Pager
    /// The state readers start from; a commit publishes into it.
    let shared: Locked<CommittedState>
    let durability: Durability
    let bugs: DeliberateBugs
    /// Told of each commit as it happens (the crash harness records its promises through this).
    let observer: Locked<CommitObserver?>
}

/// The commit protocol, step by step: **plan** the free list and the file's length, **seal** every
/// changed page bottom-up (writing full batches meanwhile), **write** the rest and the meta slot,
/// **sync**, **publish** the new state to readers, and **cut** a free tail off the file.
///
/// The default durability needs one fsync: recovery authenticates every page the newest commit
/// wrote and falls back to the other meta slot if any fails (``Recovery``). A failed write or sync
/// poisons the handle: no later commit is acknowledged until the store is reopened, because a
/// retried fsync can report success for data the kernel already dropped.
struct Commit {
    let tx: WriteTransaction
    let context: CommitContext
    /// The header the meta slot is written with (a password change or rekey gives a new one).
    let header: StoreHeader

    private var storage: any PageStorage { context.storage }
    private var pager: Pager { context.pager }

    /// Commits with at least this many pages cache them between their last write and the sync
    /// (a 1,000-update commit at 1M keys writes about 1,450 pages; caching them takes ~2 ms, which
    /// the device then spends writing). Smaller commits sync first: the extra system call that
    /// starts writeback would cost them more than they overlap.
    static let overlapPublishingFrom = 256

    /// Commits `tx` (nothing, if it changed nothing and `header` is nil). On a failure nothing of
    /// the commit is published, and a failed write or sync poisons the handle.
    static func run(_ tx: WriteTransaction, header: StoreHeader? = nil, writer ws: inout WriterState, in context: CommitContext) throws(SealKVError) {
        if tx.isUnchanged && header == nil { return }
        try Commit(tx: tx, context: context, header: header ?? ws.header).run(writer: &ws, newHeader: header != nil)
    }

    private func run(writer ws: inout WriterState, newHeader: Bool) throws(SealKVError) {
        let plan = try self.plan()
        pager.borrowBuffersFromCache(dirtyPages: tx.space.dirty.count)
        let metaBuffer = pager.buffers.take()
        defer { pager.buffers.give(metaBuffer) }
        let (durable, durableSlot) = context.shared.withLock { ($0.lastDurable, $0.durableSlot) }
        // Never the slot holding the newest durable commit, which recovery may need: with a sync
        // at every commit the slots alternate; without, commits share one slot until `sync()`.
        let slot = durableSlot ^ 1
        let observer = context.observer.withLock { $0 }
        observer?.willWrite(tx.txnID)

        let state: CommitState
        let plaintext: [(page: UInt64, tag: PageTag, buffer: UnsafeMutableRawPointer)]
        let cached: Bool
        do throws(SealKVError) {
            try growFile(to: plan.pageCount)
            let sealed = try seal(pageCount: plan.pageCount, durable: durable)
            defer { for w in sealed.remaining { pager.buffers.give(UnsafeMutableRawPointer(mutating: w.bytes)) } }
            state = sealed.state
            plaintext = sealed.plaintext
            let previous = state.rekey.flatMap { pager.keys.sealer(for: $0.previousEpoch)?.keys }
            tx.commitSealer.buildMeta(into: metaBuffer, header: header, state: state, slot: slot, previous: previous)
            let written = try write(sealed, meta: PageWrite(page: slot, bytes: UnsafeRawPointer(metaBuffer)))
            cached = written.cached
            if !written.synced { try sync() }
        } catch {
            context.shared.withLock { $0.poisoned = error }
            ws.freeList = nil
            throw error
        }
        ws.freeList?.apply(rewritten: plan.freeListChanges.rewritten, added: plan.freeListChanges.added)
        if !cached { cachePlaintext(plaintext) }
        if newHeader { ws.header = header }
        let olderReaderAlive = publish(state, header: ws.header, slot: slot)
        if !tx.space.allocator.heldPages.isEmpty { ws.heldTail = nil }
        if olderReaderAlive, let end = tx.space.allocator.cutPagesOlderSnapshotsReach, end > state.pageCount {
            ws.heldTail = HeldTail(txnID: state.txnID, end: end)
        }
        observer?.didPublish(state.txnID)
        // Without sync the commit that lowered the high-water mark is not durable yet, and the
        // durable one may still need those pages: `sync()` cuts the file instead. No reader may
        // hold a snapshot older than this commit while the file is cut.
        if context.durability != .noSync && !olderReaderAlive { Self.cutSlack(to: state.pageCount, storage: storage) }
        tx.space.releaseDirtyPages()
        pager.buffers.releaseIdle(keeping: Pager.idleBuffersKept)
    }

    // MARK: 1. Plan

    /// The file's new length and the free list's changes (``CommitPlan``). The commit may cut the
    /// pages it freed itself only with a sync at every commit and no reader alive as it begins.
    private func plan() throws(SealKVError) -> CommitPlan {
        let ownTail = context.durability != .noSync && context.shared.withLock { $0.noReaderAlive }
        return try CommitPlan.make(for: tx, ownTail: ownTail)
    }

    /// Grows the file in chunks when the commit needs more pages, and makes the new size durable
    /// before any page of the commit is written: a meta can then never claim more pages than the
    /// file holds after a crash, so a short file always means truncation, never a torn commit.
    private func growFile(to pageCount: UInt64) throws(SealKVError) {
        if pageCount > storage.pageCount {
            let current = storage.pageCount
            try storage.resize(toPages: max(pageCount, current + max(16, current / 8)))
            try storage.sync()
        }
        if context.bugs.has(.truncateBeforeDurable) && pageCount < storage.pageCount {
            try storage.resize(toPages: pageCount)
        }
    }

    // MARK: 2. Seal

    /// Seals every changed page (``CommitSealing``). Full batches are written by a thread of their
    /// own meanwhile (no sync: the meta is not written yet, so no committed state reaches them);
    /// the last, partial batch is returned for ``write(_:meta:)``. Starting writeback early pays
    /// for pages scattered over the file, not for a commit that rewrites most of it.
    private func seal(pageCount: UInt64, durable: UInt64) throws(SealKVError) -> SealedCommit {
        let scattered = UInt64(tx.space.dirty.count) * 4 < pageCount
        let writer = BackgroundPageWriter(storage: storage, buffers: pager.buffers, startingWriteback: scattered)
        var sealed: SealedCommit
        do throws(SealKVError) {
            sealed = try CommitSealing.seal(tx, pageCount: pageCount, writing: writer.submit)
        } catch {
            try? writer.finish()
            throw error
        }
        do throws(SealKVError) {
            try writer.finish()
        } catch {
            for w in sealed.remaining { pager.buffers.give(UnsafeMutableRawPointer(mutating: w.bytes)) }
            throw error
        }
        sealed.state.durableTxnID = durable
        return sealed
    }

    // MARK: 3. Write

    /// Writes the sealed pages not written yet and the meta slot, as the durability mode says.
    /// A small one-sync commit hands its writes and its sync to the storage in one call (the
    /// io_uring write engine submits them together). A large one-sync commit instead caches its
    /// plaintext between the writes and the sync, while the device finishes writing: the cache is
    /// keyed by tag, so pages of a commit that then fails to sync are never read (no link names
    /// them). Returns whether the plaintext was cached and whether the commit is synced already.
    private func write(_ sealed: SealedCommit, meta: PageWrite) throws(SealKVError) -> (cached: Bool, synced: Bool) {
        var writes = sealed.remaining
        switch context.durability {
        case .oneSync:
            writes.append(meta)
            guard sealed.plaintext.count >= Self.overlapPublishingFrom else {
                let syncing = !context.bugs.has(.skipCommitSync)
                try storage.writePages(writes, sync: syncing)
                return (false, syncing)
            }
            try storage.writePages(writes, sync: false)
            storage.startWriteback(writes)
            cachePlaintext(sealed.plaintext)
            return (true, false)
        case .twoPhase:
            try storage.writePages(writes, sync: true)
            try storage.writePages([meta], sync: true)
            return (false, true)
        case .noSync:
            writes.append(meta)
            try storage.writePages(writes, sync: false)
            return (false, false)
        }
    }

    // MARK: 4. Sync

    /// Makes the commit durable (not in no-sync mode: ``Database/sync()`` does that later).
    private func sync() throws(SealKVError) {
        switch context.durability {
        case .oneSync: if !context.bugs.has(.skipCommitSync) { try storage.sync() }
        case .twoPhase: try storage.sync()
        case .noSync: break
        }
    }

    // MARK: 5. Publish

    /// Makes `state` the one new readers start from. Returns whether a reader holding an older
    /// snapshot is alive (it may reach pages past the new end of the file).
    private func publish(_ state: CommitState, header: StoreHeader, slot: UInt64) -> Bool {
        context.shared.withLock { s in
            s.current = state
            s.header = header
            if context.durability != .noSync {
                s.lastDurable = state.txnID
                s.durableSlot = slot
                s.lockFile?.publishCommitted(state.txnID)
            }
            return s.olderReaderAlive
        }
    }

    /// Caches a commit's newest pages, up to half the cache and no more than it has room for beside
    /// the commit's own pages: their buffers are still held, and a large commit that also filled
    /// the cache would hold its plaintext twice.
    private func cachePlaintext(_ plaintext: [(page: UInt64, tag: PageTag, buffer: UnsafeMutableRawPointer)]) {
        let capacity = pager.cache.capacity
        let cacheBudget = min(capacity / 2, max(0, capacity - plaintext.count))
        for entry in plaintext.suffix(cacheBudget) {
            pager.cache.insert(page: entry.page, tag: entry.tag, from: entry.buffer)
        }
    }

    // MARK: 6. Cut

    /// Cuts the file down to `pages` when it is much longer (a commit freed its tail). Only when the
    /// commit that set that high-water mark is durable and no reader can reach the pages past it.
    static func cutSlack(to pages: UInt64, storage: any PageStorage) {
        let slack = storage.pageCount > pages ? storage.pageCount - pages : 0
        guard slack > max(16, pages / 8) else { return }
        do throws(SealKVError) {
            try storage.resize(toPages: pages)
        } catch {
            // The commit stands; the file is merely longer than needed until a later cut.
        }
    }

    /// Makes every commit durable (no-sync mode's `sync()`); the caller holds the writer lock. Cuts
    /// the file's slack afterwards when no reader is older than the newest commit.
    static func syncAll(in context: CommitContext) throws(SealKVError) {
        let (current, newestSlot) = context.shared.withLock { s in
            // The newest commit sits in the slot after the durable one, unless nothing was
            // committed since the last sync.
            (s.current.txnID, s.current.txnID == s.lastDurable ? s.durableSlot : s.durableSlot ^ 1)
        }
        do throws(SealKVError) {
            try context.storage.sync()
        } catch {
            context.shared.withLock { $0.poisoned = error }
            throw error
        }
        let (mayShrink, pages) = context.shared.withLock { s in
            s.lastDurable = current
            s.durableSlot = newestSlot
            s.lockFile?.publishCommitted(current)
            return (!s.olderReaderAlive, s.current.pageCount)
        }
        if mayShrink { cutSlack(to: pages, storage: context.storage) }
    }
}
