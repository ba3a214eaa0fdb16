/// Change observation: `AsyncSequence`s of the changes commits make to a key, a prefix or a
/// namespace.
///
/// ```swift
/// let changes = try await db.observe(prefix: "user:")
/// var users = try await db.read { tx in Dictionary(uniqueKeysWithValues: try tx.prefix("user:").map { ($0.key, $0.value) }) }
/// for await batch in changes {
///     for change in batch.changes { users[change.key] = change.value }
/// }
/// ```
extension Database {
    /// Observes the value at `key` in `namespace`.
    public func observe<K: ByteString>(key: K, in namespace: String = "") throws(SealKVError) -> ChangeObservation {
        try observe(ChangeFilter(namespace: namespace, prefix: key.byteArray, exactKey: true))
    }

    /// Observes every key of `namespace` that starts with `prefix`.
    public func observe<K: ByteString>(prefix: K, in namespace: String = "") throws(SealKVError) -> ChangeObservation {
        try observe(ChangeFilter(namespace: namespace, prefix: prefix.byteArray, exactKey: false))
    }

    /// Observes every key of `namespace`, and its being dropped.
    public func observe(namespace: String) throws(SealKVError) -> ChangeObservation {
        try observe(ChangeFilter(namespace: namespace, prefix: [], exactKey: false))
    }

    /// ``observe(key:in:)-5xew4``, waiting for the writer off the cooperative pool.
    public func observe<K: ByteString>(key: K, in namespace: String = "") async throws -> ChangeObservation {
        let filter = ChangeFilter(namespace: namespace, prefix: key.byteArray, exactKey: true)
        return try await executor.run { try self.observe(filter) }
    }

    /// ``observe(prefix:in:)-7udjb``, waiting for the writer off the cooperative pool.
    public func observe<K: ByteString>(prefix: K, in namespace: String = "") async throws -> ChangeObservation {
        let filter = ChangeFilter(namespace: namespace, prefix: prefix.byteArray, exactKey: false)
        return try await executor.run { try self.observe(filter) }
    }

    /// ``observe(namespace:)-68got``, waiting for the writer off the cooperative pool.
    public func observe(namespace: String) async throws -> ChangeObservation {
        let filter = ChangeFilter(namespace: namespace, prefix: [], exactKey: false)
        return try await executor.run { try self.observe(filter) }
    }

    /// Registers the observer holding the writer lock, so that it starts exactly after the newest
    /// commit: a write in progress finishes first (a group left open commits), and every later
    /// transaction records for it. The wait is at most one write transaction.
    private func observe(_ filter: ChangeFilter) throws(SealKVError) -> ChangeObservation {
        try Namespace.validate(filter.namespace)
        if options.mode == .readOnly {
            throw SealKVError(.readOnly, "a read-only handle makes no commits, so there is nothing to observe; observe through the handle that writes.")
        }
        if callerIsWriting {
            throw SealKVError(.conflict, "observe was called inside a write transaction on the same thread; subscribe before the write.")
        }
        let subscription = try writer.withLock { (ws) throws(SealKVError) -> ChangeSubscription in
            finishOpenGroup(&ws)
            let start = try shared.withLock { (s) throws(SealKVError) -> UInt64 in
                guard !s.closed else { throw SealKVError(.closed, "the database was closed; open it again.") }
                return s.current.txnID
            }
            return observers.subscribe(filter, startTxnID: start)
        }
        return ChangeObservation(subscription: subscription)
    }
}
