#if canImport(Glibc)
import Glibc
#endif

extension Database {
    /// Runs `body` in a write transaction and commits its changes. If `body` throws (or a store
    /// error happened inside it, even one it caught), none of its changes is made and the first
    /// error is rethrown; if the commit fails, the error is rethrown and nothing is committed.
    ///
    /// Write transactions run one at a time, each seeing every one before it. When several threads
    /// write at once, those that wait for the writer while another's closure runs join that
    /// transaction, each after a savepoint, and share its commit: one fsync for all of them (group
    /// commit). Each returns only once the commit holding its changes is durable. Calling `write`
    /// inside a write closure on the same thread fails with a `conflict` error instead of
    /// deadlocking.
    public func write<R>(_ body: (WriteTransaction) throws -> R) throws -> R {
        try refuseWriting()
        waitingWriters.wrappingAdd(1, ordering: .relaxed)
        var waiting = true
        defer { if waiting { waitingWriters.wrappingSubtract(1, ordering: .relaxed) } }
        let me = Self.callingThread
        let (group, result) = try writer.withLock { (ws) throws -> (WriteGroup?, Result<R, any Error>) in
            waitingWriters.wrappingSubtract(1, ordering: .relaxed)
            waiting = false
            writerThread.store(me, ordering: .relaxed)
            defer { writerThread.store(0, ordering: .relaxed) }
            let group: WriteGroup
            if let open = ws.openGroup {
                ws.openGroup = nil
                group = open
            } else {
                group = WriteGroup(try startTransaction(&ws))
            }
            let result = runMember(body, in: group)
            let joinable = group.members < WriterState.groupMembersLimit && group.transaction.space.dirty.count < Pager.borrowThreshold
            if group.members > 0 && joinable && waitingWriters.load(ordering: .relaxed) > 0 {
                ws.openGroup = group   // a waiting writer joins it and commits it, or passes it on
                return (group, result)
            }
            if let error = commit(group, &ws), case .success = result { return (nil, .failure(error)) }
            return (nil, result)
        }
        if let group, case .success = result { try group.waitUntilCommitted() }
        return try result.get()
    }

    /// Runs one caller's closure in the group's transaction: after a savepoint when others' changes
    /// are already in it, so a failure undoes only this caller's.
    private func runMember<R>(_ body: (WriteTransaction) throws -> R, in group: WriteGroup) -> Result<R, any Error> {
        let tx = group.transaction
        let savepoint = group.members > 0 ? tx.savepoint() : nil
        do {
            let value = try body(tx)
            if let deferred = tx.deferredError { throw deferred }
            if savepoint != nil { tx.keepSavepoint() }
            group.members += 1
            return .success(value)
        } catch {
            // A first member's changes go with the transaction, which no one else is in.
            if let savepoint { tx.rollback(to: savepoint) }
            return .failure(error)
        }
    }

    /// Commits the group (nothing if no member's changes are in it) and wakes its members.
    /// Returns the commit's error.
    private func commit(_ group: WriteGroup, _ ws: inout WriterState) -> SealKVError? {
        defer { pager.returnBorrowedBuffers() }
        guard group.members > 0 else {
            group.finish(nil)
            return nil
        }
        sweepSomeExpiredEntries(group.transaction)
        do throws(SealKVError) {
            try Commit.run(group.transaction, writer: &ws, in: commits)
            if let log = group.transaction.changeLog { observers.publish(group.transaction.txnID, log) }
            pager.fitCacheToStore(freePages: UInt64(ws.freeList?.pageCount ?? 0))
            group.finish(nil)
            return nil
        } catch {
            group.finish(error)
            return error
        }
    }

    /// Deletes up to ``Options/expiredEntriesSweptPerCommit`` entries whose time has passed, in the
    /// transaction about to commit. A failure to sweep undoes only the sweep.
    private func sweepSomeExpiredEntries(_ tx: WriteTransaction) {
        guard options.expiredEntriesSweptPerCommit > 0, !tx.expiryTree.root.isNone else { return }
        let savepoint = tx.savepoint()
        do throws(SealKVError) {
            _ = try tx.sweepExpired(limit: options.expiredEntriesSweptPerCommit)
            if tx.deferredError != nil { tx.rollback(to: savepoint) } else { tx.keepSavepoint() }
        } catch {
            tx.rollback(to: savepoint)
        }
    }

    /// Commits a group left open for waiting writers, before the writer lock is used otherwise
    /// (a rekey, a sync, closing).
    func finishOpenGroup(_ ws: inout WriterState) {
        guard let group = ws.openGroup else { return }
        ws.openGroup = nil
        _ = commit(group, &ws)
    }

    /// The calling thread, as `writerThread` records the writer's.
    static var callingThread: UInt { UInt(bitPattern: Int(bitPattern: UInt(pthread_self()))) }

    /// Whether the calling thread is running a write transaction of this handle (waiting for the
    /// writer lock there would deadlock).
    var callerIsWriting: Bool { writerThread.load(ordering: .relaxed) == Self.callingThread }

    /// The errors `write` gives before it waits: a nested write on this thread, a read-only store.
    private func refuseWriting() throws(SealKVError) {
        if callerIsWriting {
            throw SealKVError(.conflict, "a write transaction is already running on this thread; do the work inside the outer transaction.")
        }
        if options.mode == .readOnly {
            throw SealKVError(.readOnly, "the store was opened read-only; reopen it without .readOnly to write.")
        }
    }

    /// A new write transaction on the newest commit, once the handle is known to take commits: the
    /// writer's free list loaded, old-key pages a rekey left scrubbed where they can be.
    private func startTransaction(_ ws: inout WriterState) throws(SealKVError) -> WriteTransaction {
        let (base, bound) = try prepareWriter(&ws)
        return makeWriteTransaction(&ws, base: base, bound: bound)
    }

    /// What a writer needs before it starts (the writer lock held): the committed state to start
    /// from and the reuse bound (pages freed by commits up to it may be reused).
    func prepareWriter(_ ws: inout WriterState) throws(SealKVError) -> (CommitState, UInt64) {
        let (base, bound) = try shared.withLock { (s) throws(SealKVError) -> (CommitState, UInt64) in
            if let refusal = s.refusal { throw refusal }
            return (s.current, s.reuseBound(options.durability))
        }
        if ws.freeList == nil {
            let loader = makeReadTransaction(base, epochs: KeyEpochRule(current: ws.header.keyEpoch, rekey: base.rekey))
            defer { loader.finish() }
            ws.freeList = try FreePageTree.load(from: loader, pageCount: base.pageCount)
        }
        // Best effort: a failure leaves the pages listed for the next write, and must not fail this one.
        if !ws.retiredKeyPages.isEmpty { _ = try? scrubRetiredKeyPages(&ws) }
        return (base, bound)
    }

    /// Runs `body` holding the writer lock (after committing any group left open), with the
    /// committed state it starts from and the reuse bound. For operations that make commits of
    /// their own (password change, rekey). Refuses nested use on one thread, closed or poisoned
    /// handles, and read-only stores.
    func withWriter<R>(_ body: (inout WriterState, CommitState, UInt64) throws -> R) throws -> R {
        try refuseWriting()
        let me = Self.callingThread
        return try writer.withLock { (ws) throws -> R in
            writerThread.store(me, ordering: .relaxed)
            defer { writerThread.store(0, ordering: .relaxed) }
            finishOpenGroup(&ws)
            let (base, bound) = try prepareWriter(&ws)
            // Borrowed cache slots go back once the transaction (and its buffers) is gone.
            defer { pager.returnBorrowedBuffers() }
            return try body(&ws, base, bound)
        }
    }
}
