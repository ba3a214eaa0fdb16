/// A handle on one named namespace inside a transaction. The same key in two namespaces never
/// collides. Writes through a handle from a read transaction fail with a read-only error.
public struct Namespace {
    @usableFromInline let transaction: ReadTransaction
    /// The namespace's name ("" is the default namespace).
    public let name: String

    /// Longest namespace name in bytes.
    public static let maxNameLength = 255

    static func validate(_ name: String) throws(SealKVError) {
        guard name.utf8.count <= maxNameLength, name.utf8.first != 0 else {
            throw SealKVError(.invalidArgument, "a namespace name must be at most \(maxNameLength) bytes and must not start with a NUL byte.")
        }
    }

    static func validateKey(_ key: UnsafeRawBufferPointer) throws(SealKVError) {
        guard key.count > 0 else { throw SealKVError(.emptyKey, "keys must be at least one byte long.") }
        guard key.count <= Limits.maxKeyLength else {
            throw SealKVError(.keyTooLarge, "a key of \(key.count) bytes is longer than the \(Limits.maxKeyLength)-byte limit; hash long keys or store them in the value.")
        }
    }

    static func validateValue(_ value: UnsafeRawBufferPointer) throws(SealKVError) {
        guard value.count <= Limits.maxValueLength else {
            throw SealKVError(.valueTooLarge, "a value of \(value.count) bytes is longer than the \(Limits.maxValueLength)-byte limit; split it across several keys.")
        }
    }

    @usableFromInline
    func writer() throws(SealKVError) -> WriteTransaction {
        guard let w = transaction.asWriter else {
            throw SealKVError(.readOnly, "cannot write inside a read transaction; use `Database.write`.")
        }
        return w
    }

    /// The value stored at `key`, or nil.
    @inlinable
    public func get<K: ByteString>(_ key: K) throws(SealKVError) -> [UInt8]? { try transaction.get(key, namespace: name) }
    /// The value at `key` as UTF-8, or nil.
    public func getString<K: ByteString>(_ key: K) throws(SealKVError) -> String? {
        try get(key).map { String(decoding: $0, as: UTF8.self) }
    }
    /// Whether `key` is present.
    @inlinable
    public func contains<K: ByteString>(_ key: K) throws(SealKVError) -> Bool { try transaction.contains(key, namespace: name) }
    /// Calls `body` with the value's bytes without allocating (see
    /// ``ReadTransaction/withValue(for:_:)``); nil if absent.
    @inlinable
    public func withValue<K: ByteString, R>(for key: K, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        try transaction.withValueBytes(key, namespace: name, body)
    }
    /// A cursor over this namespace.
    public func cursor() throws(SealKVError) -> Cursor {
        try transaction.ensureOpen()
        return Cursor(transaction: transaction, tree: TreeID(namespace: name))
    }
    /// Number of entries. Entries whose time to live has run out read as absent and are not
    /// counted, unless `includingExpired` (they stay stored until swept, as in Redis's DBSIZE).
    /// - Complexity: O(1) when no entry of the store has expired unswept; otherwise proportional
    ///   to the expired entries.
    public func count(includingExpired: Bool = false) throws(SealKVError) -> Int {
        try transaction.ensureOpen()
        let stored = Int(try transaction.tree(named: name)?.entries ?? 0)
        guard !includingExpired, stored > 0, !transaction.expiryTree.root.isNone else { return stored }
        return stored - (try expiredUnswept())
    }

    /// Entries of this namespace whose expiry has passed but that are still stored (the expiry
    /// index, read from its start up to the transaction's time).
    private func expiredUnswept() throws(SealKVError) -> Int {
        guard let tree = try transaction.tree(named: name) else { return 0 }
        let reader = TreeReader(tree, in: transaction.pages)
        let cursor = Cursor(transaction: transaction, tree: .expiry)
        var expired = 0
        var more = try cursor.first()
        while more, let indexKey = cursor.key, let expiry = ExpiryIndexKey.expiry(of: indexKey), expiry <= transaction.now {
            if let entry = ExpiryIndexKey(decoding: indexKey), entry.namespace == name,
               try entry.key.withBytes({ (k) throws(SealKVError) in try reader.storedExpiry(of: k) }) == expiry {
                expired += 1
            }
            more = try cursor.next()
        }
        return expired
    }

    /// Stores `value` at `key`, replacing any previous value.
    @inlinable
    public func put<K: ByteString, V: ByteString>(_ key: K, _ value: V) throws(SealKVError) {
        try writer().put(key, value, namespace: name)
    }
    /// Stores `value` at `key`; it reads as absent once `ttl` has passed.
    public func put<K: ByteString, V: ByteString>(_ key: K, _ value: V, ttl: Duration) throws(SealKVError) {
        let w = try writer()
        try w.put(key, value, namespace: name, expiry: try WriteTransaction.expiry(after: ttl, from: w.now))
    }
    /// Stores `value` at `key`, expiring at `expiresAt` (Unix time in milliseconds, as stored).
    /// - Throws: `invalidArgument` if that time is not after the transaction's time
    ///   (``Transaction/now``): delete the key instead.
    public func put<K: ByteString, V: ByteString>(_ key: K, _ value: V, expiresAt: UInt64) throws(SealKVError) {
        let w = try writer()
        try w.put(key, value, namespace: name, expiry: try WriteTransaction.validExpiry(expiresAt, now: w.now))
    }
    /// How long until `key` expires; nil if it has no time to live or is absent.
    public func timeToLive<K: ByteString>(_ key: K) throws(SealKVError) -> Duration? {
        try transaction.expiry(of: key, namespace: name).map { .milliseconds(Int64($0) - Int64(transaction.now)) }
    }
    /// When `key` expires, as stored: Unix time in milliseconds. Nil if it has no time to live or
    /// is absent.
    public func expiration<K: ByteString>(of key: K) throws(SealKVError) -> UInt64? {
        try transaction.expiry(of: key, namespace: name)
    }
    /// Sets (or, with nil, clears) the time at which `key` expires, keeping its value. Returns
    /// false, changing nothing, when the key is absent.
    /// - Throws: `invalidArgument` if `expiresAt` is not after the transaction's time.
    @discardableResult
    public func setExpiration<K: ByteString>(of key: K, to expiresAt: UInt64?) throws(SealKVError) -> Bool {
        try writer().setExpiration(of: key, namespace: name, to: expiresAt)
    }
    /// Removes `key`. Returns whether it was present.
    @discardableResult @inlinable
    public func delete<K: ByteString>(_ key: K) throws(SealKVError) -> Bool {
        try writer().delete(key, namespace: name)
    }
}
