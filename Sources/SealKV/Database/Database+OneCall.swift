extension Database {
    /// One-call access to namespace `name`; each call is its own transaction.
    public func namespace(_ name: String) -> DatabaseNamespace { DatabaseNamespace(database: self, name: name) }
    @usableFromInline
    var defaultNamespace: DatabaseNamespace { namespace("") }

    /// The value at `key` in the default namespace (its own read transaction).
    @inlinable
    public func get<K: ByteString>(_ key: K) throws -> [UInt8]? { try defaultNamespace.get(key) }
    /// The value decoded as `T`, or nil.
    public func get<K: ByteString, T: Decodable>(_ key: K, as type: T.Type) throws -> T? { try defaultNamespace.get(key, as: type) }
    /// The value decoded as `T`; `notFound` if absent.
    public func require<K: ByteString, T: Decodable>(_ key: K, as type: T.Type) throws -> T { try defaultNamespace.require(key, as: type) }
    /// Stores `value` at `key` (its own write transaction).
    @inlinable
    public func put<K: ByteString, V: ByteString>(_ key: K, _ value: V) throws { try defaultNamespace.put(key, value) }
    /// Stores `value`, expiring after `ttl`.
    public func put<K: ByteString, V: ByteString>(_ key: K, _ value: V, ttl: Duration) throws { try defaultNamespace.put(key, value, ttl: ttl) }
    /// Stores an `Encodable` value.
    public func put<K: ByteString, V: Encodable>(_ key: K, encoding value: V) throws { try defaultNamespace.put(key, encoding: value) }
    /// Removes `key`; returns whether it was present.
    @discardableResult @inlinable
    public func delete<K: ByteString>(_ key: K) throws -> Bool { try defaultNamespace.delete(key) }
    /// Atomic read-modify-write of one key.
    @discardableResult
    public func update<K: ByteString>(_ key: K, _ transform: ([UInt8]?) throws -> [UInt8]?) throws -> [UInt8]? {
        try defaultNamespace.update(key, transform)
    }
    /// The value at `key`, inserting `makeDefault()` first if absent.
    @discardableResult
    public func getOrInsert<K: ByteString, V: ByteString>(_ key: K, _ makeDefault: () throws -> V) throws -> [UInt8] {
        try defaultNamespace.getOrInsert(key, makeDefault)
    }
    /// Stores `new` only if the current value equals `expected`; returns whether it swapped.
    @discardableResult
    public func compareAndSwap<K: ByteString>(_ key: K, expected: [UInt8]?, new: [UInt8]?) throws -> Bool {
        try defaultNamespace.compareAndSwap(key, expected: expected, new: new)
    }
    /// Deletes expired entries (its own write transaction); returns how many.
    @discardableResult
    public func sweepExpired(limit: Int = .max) throws -> Int { try write { try $0.sweepExpired(limit: limit) } }
}
