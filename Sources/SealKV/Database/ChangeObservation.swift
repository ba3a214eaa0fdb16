import Synchronization

/// A key's value after a commit, as an observer sees it.
public struct ObservedChange: Sendable, Equatable {
    /// The key that changed.
    public let key: [UInt8]
    /// Its value after the commit; nil if the commit removed it.
    public let value: [UInt8]?
}

/// Committed changes to an observed range, delivered by a ``ChangeObservation``.
///
/// A batch holds every change committed since the previous batch, coalesced: each changed key
/// once, with its value after the newest commit folded in (``txnID``). Applying the batches in
/// order to the range as it was at ``ChangeObservation/startTxnID`` gives the range as it is at
/// each batch's `txnID`: no change is lost, only intermediate values of a key.
public struct CommittedChanges: Sendable {
    /// The newest commit whose changes are in this batch.
    public let txnID: UInt64
    /// Whether the namespace was dropped (everything in it removed) before the ``changes``.
    public let namespaceDropped: Bool
    /// The changed keys, each once, in key order.
    public let changes: [ObservedChange]
}

/// An `AsyncSequence` of the changes that commits made to one key, a prefix or a namespace; see
/// ``Database/observe(key:in:)``.
///
/// Only committed changes appear, in commit order, after the commit is durable (in `noSync` mode:
/// once it is committed). A consumer slower than the writers gets coalesced batches (see
/// ``CommittedChanges``); what waits for it is one entry per changed key. The sequence ends
/// when the store closes, when ``cancel()`` is called, or when the task iterating it is
/// cancelled. It reports the commits made through this `Database` handle: a handle in another
/// process sees none of them. Iterate it from one task at a time.
public struct ChangeObservation: AsyncSequence, Sendable {
    /// A batch of committed changes.
    public typealias Element = CommittedChanges
    /// The sequence never throws.
    public typealias Failure = Never

    let subscription: ChangeSubscription
    /// The commit the observation starts after: the first batch holds changes of later commits only.
    /// Read the range's current values after subscribing, then apply the batches.
    public var startTxnID: UInt64 { subscription.startTxnID }

    /// Stops the observation: iteration ends, and commits stop collecting changes for it.
    public func cancel() { subscription.finish() }

    /// The iterator.
    public func makeAsyncIterator() -> Iterator { Iterator(subscription: subscription) }

    /// Waits for the next batch of changes.
    public struct Iterator: AsyncIteratorProtocol {
        let subscription: ChangeSubscription

        /// The next batch, or nil once the observation has ended.
        public mutating func next() async -> CommittedChanges? {
            await subscription.next()
        }

        /// The next batch, or nil once the observation has ended (the form `for await` uses).
        public mutating func next(isolation actor: isolated (any Actor)?) async -> CommittedChanges? {
            await subscription.next()
        }
    }
}

/// One observer's pending changes, filled by commits and drained by its consumer.
final class ChangeSubscription: Sendable {
    let filter: ChangeFilter
    let startTxnID: UInt64
    let id: UInt64
    private let onFinish: @Sendable (UInt64) -> Void

    private struct State {
        var pending: [[UInt8]: [UInt8]?] = [:]
        var dropped = false
        var txnID: UInt64 = 0
        var finished = false
        var waiter: CheckedContinuation<CommittedChanges?, Never>?

        /// The pending changes as one batch, emptying them; nil if nothing is pending.
        mutating func takeBatch() -> CommittedChanges? {
            guard !pending.isEmpty || dropped else { return nil }
            let changes = pending.map { ObservedChange(key: $0.key, value: $0.value) }
                .sorted { compareBytes($0.key, $1.key) < 0 }
            let batch = CommittedChanges(txnID: txnID, namespaceDropped: dropped, changes: changes)
            pending = [:]
            dropped = false
            return batch
        }
    }
    private let state = Mutex(State())

    init(filter: ChangeFilter, startTxnID: UInt64, id: UInt64, onFinish: @escaping @Sendable (UInt64) -> Void) {
        self.filter = filter
        self.startTxnID = startTxnID
        self.id = id
        self.onFinish = onFinish
    }

    /// Folds commit `txnID`'s changes in, waking the consumer if it waits.
    func publish(_ txnID: UInt64, _ entries: [ChangeLog.Entry]) {
        let wake = state.withLock { (s) -> (CheckedContinuation<CommittedChanges?, Never>, CommittedChanges)? in
            guard !s.finished else { return nil }
            var touched = false
            for entry in entries {
                switch entry {
                case .set(let namespace, let key, let value):
                    let matches = key.withUnsafeBytes { filter.matches(namespace: namespace, key: $0) }
                    guard matches else { continue }
                    s.pending[key] = .some(value)
                    touched = true
                case .dropped(let namespace):
                    guard namespace == filter.namespace else { continue }
                    s.pending = [:]
                    s.dropped = true
                    touched = true
                }
            }
            guard touched else { return nil }
            s.txnID = txnID
            guard let waiter = s.waiter, let batch = s.takeBatch() else { return nil }
            s.waiter = nil
            return (waiter, batch)
        }
        if let (waiter, batch) = wake { waiter.resume(returning: batch) }
    }

    /// Ends the observation; a waiting consumer gets nil.
    func finish() {
        let waiter = state.withLock { (s) -> CheckedContinuation<CommittedChanges?, Never>? in
            guard !s.finished else { return nil }
            s.finished = true
            s.pending = [:]
            defer { s.waiter = nil }
            return s.waiter
        }
        onFinish(id)
        waiter?.resume(returning: nil)
    }

    func next() async -> CommittedChanges? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<CommittedChanges?, Never>) in
                let now = state.withLock { (s) -> CommittedChanges?? in
                    if let batch = s.takeBatch() { return .some(batch) }
                    if s.finished || Task.isCancelled { return .some(nil) }
                    // A second consumer waiting at once: the earlier one ends (one consumer at a time).
                    s.waiter?.resume(returning: nil)
                    s.waiter = c
                    return nil
                }
                if let now { c.resume(returning: now) }
            }
        } onCancel: {
            finish()
        }
    }
}

/// The observers of one `Database` handle.
final class ObserverRegistry: Sendable {
    private struct State {
        var subscriptions: [UInt64: ChangeSubscription] = [:]
        var nextID: UInt64 = 1
    }
    private let state = Mutex(State())

    /// The filters a new write transaction records changes for, or nil if nobody observes.
    func changeLogForNewTransaction() -> ChangeLog? {
        state.withLock { s in
            s.subscriptions.isEmpty ? nil : ChangeLog(filters: Array(Set(s.subscriptions.values.map(\.filter))))
        }
    }

    /// Registers an observer of `filter` starting after commit `startTxnID`. Call it holding the
    /// writer lock, with no transaction open, so that every later transaction records for it.
    func subscribe(_ filter: ChangeFilter, startTxnID: UInt64) -> ChangeSubscription {
        state.withLock { s in
            let id = s.nextID
            s.nextID += 1
            let subscription = ChangeSubscription(filter: filter, startTxnID: startTxnID, id: id) { [weak self] id in
                self?.remove(id)
            }
            s.subscriptions[id] = subscription
            return subscription
        }
    }

    private func remove(_ id: UInt64) {
        _ = state.withLock { $0.subscriptions.removeValue(forKey: id) }
    }

    /// Hands commit `txnID`'s recorded changes to every observer.
    func publish(_ txnID: UInt64, _ log: ChangeLog) {
        guard !log.entries.isEmpty else { return }
        for subscription in state.withLock({ Array($0.subscriptions.values) }) {
            subscription.publish(txnID, log.entries)
        }
    }

    /// Ends every observation (the store is closing).
    func finishAll() {
        for subscription in state.withLock({ Array($0.subscriptions.values) }) { subscription.finish() }
    }
}
