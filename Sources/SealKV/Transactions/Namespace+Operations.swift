/// Codable values, atomic read-modify-write operations and iteration helpers. Implemented once
/// here; the default namespace's methods on transactions and the one-call methods on `Database`
/// forward to them.
extension Namespace {
    // MARK: Codable

    /// Stores `value` encoded with ``BinaryValueEncoder``.
    public func put<K: ByteString, V: Encodable>(_ key: K, encoding value: V) throws(SealKVError) {
        try put(key, try BinaryValueEncoder().encode(value))
    }

    /// Stores `value` encoded, expiring after `ttl`.
    public func put<K: ByteString, V: Encodable>(_ key: K, encoding value: V, ttl: Duration) throws(SealKVError) {
        try put(key, try BinaryValueEncoder().encode(value), ttl: ttl)
    }

    /// The value at `key` decoded as `T`, or nil if absent. A value of another type is a
    /// `decodingFailed` error.
    public func get<K: ByteString, T: Decodable>(_ key: K, as type: T.Type) throws(SealKVError) -> T? {
        guard let bytes = try get(key) else { return nil }
        return try BinaryValueDecoder().decode(T.self, from: bytes)
    }

    /// The value at `key` decoded as `T`; a `notFound` error if absent.
    public func require<K: ByteString, T: Decodable>(_ key: K, as type: T.Type) throws(SealKVError) -> T {
        guard let value = try get(key, as: T.self) else {
            throw SealKVError(.notFound, "no value is stored at the requested key in namespace '\(name)'.")
        }
        return value
    }

    /// Entries whose key starts with `prefix`, values decoded as `T`, in key order.
    public func entries<K: ByteString, T: Decodable>(prefix: K, as type: T.Type) throws(SealKVError) -> [(key: [UInt8], value: T)] {
        var out: [(key: [UInt8], value: T)] = []
        for (k, v) in try self.prefix(prefix) { out.append((k, try BinaryValueDecoder().decode(T.self, from: v))) }
        if let deferred = transaction.deferredError { throw deferred }
        return out
    }

    // MARK: Iteration helpers

    /// Every key, in order (values are not read).
    public func keys(reverse: Bool = false) throws(SealKVError) -> KeySequence {
        try transaction.ensureOpen()
        return KeySequence(entries: KeyValueSequence(transaction: transaction, tree: TreeID(namespace: name), lower: nil, upper: nil, reverse: reverse, keysOnly: true))
    }

    // MARK: Atomic operations

    /// Reads the value at `key`, passes it to `transform`, and stores what it returns (nil deletes).
    /// Returns the new value. Atomic: the transaction holds the writer lock throughout.
    @discardableResult
    public func update<K: ByteString>(_ key: K, _ transform: ([UInt8]?) throws -> [UInt8]?) throws -> [UInt8]? {
        let old = try get(key)
        let new = try transform(old)
        if let new { try put(key, new) } else if old != nil { try delete(key) }
        return new
    }

    /// The value at `key`; if absent, stores `makeDefault()` first and returns it.
    @discardableResult
    public func getOrInsert<K: ByteString, V: ByteString>(_ key: K, _ makeDefault: () throws -> V) throws -> [UInt8] {
        if let existing = try get(key) { return existing }
        let value = try makeDefault()
        try put(key, value)
        return value.withBytes { Array($0) }
    }

    /// Stores `new` (nil deletes) only if the current value equals `expected` (nil: absent).
    /// Returns whether it swapped.
    @discardableResult
    public func compareAndSwap<K: ByteString>(_ key: K, expected: [UInt8]?, new: [UInt8]?) throws(SealKVError) -> Bool {
        guard try get(key) == expected else { return false }
        if let new { try put(key, new) } else if expected != nil { try delete(key) }
        return true
    }

    /// Stores `new` only if the current value equals `expected`, for any byte strings (a `String`,
    /// `Data`, an array). Returns whether it swapped.
    @discardableResult
    public func compareAndSwap<K: ByteString, E: ByteString, N: ByteString>(_ key: K, expected: E, new: N) throws(SealKVError) -> Bool {
        // Typed as optionals so that this calls the byte-array form, not itself.
        let expectedBytes: [UInt8]? = expected.withBytes { Array($0) }
        let newBytes: [UInt8]? = new.withBytes { Array($0) }
        return try compareAndSwap(key, expected: expectedBytes, new: newBytes)
    }

    /// Reads the value at `key` decoded as `T` (nil if absent), passes it to `transform`, and stores
    /// what it returns, encoded (nil deletes). Returns the new value. Atomic within the transaction.
    @discardableResult
    public func update<K: ByteString, T: Codable>(_ key: K, as type: T.Type, _ transform: (T?) throws -> T?) throws -> T? {
        let new = try transform(try get(key, as: T.self))
        if let new { try put(key, encoding: new) } else if try contains(key) { try delete(key) }
        return new
    }
}

/// The keys of one namespace, in order, without reading values.
public struct KeySequence: Sequence {
    let entries: KeyValueSequence

    /// An iterator over the keys.
    public func makeIterator() -> Iterator { Iterator(inner: entries.makeIterator()) }

    /// Yields keys; ends early on a read error, which the transaction rethrows.
    public struct Iterator: IteratorProtocol {
        let inner: KeyValueSequence.Iterator
        /// The next key, or nil at the end (or after a read error, which the transaction rethrows).
        public mutating func next() -> [UInt8]? { inner.next()?.key }
    }
}

// MARK: - The default namespace

extension ReadTransaction {
    /// The value at `key` in the default namespace decoded as `T`, or nil.
    public func get<K: ByteString, T: Decodable>(_ key: K, as type: T.Type) throws(SealKVError) -> T? {
        try Namespace(transaction: self, name: "").get(key, as: type)
    }
    /// The value at `key` decoded as `T`; a `notFound` error if absent.
    public func require<K: ByteString, T: Decodable>(_ key: K, as type: T.Type) throws(SealKVError) -> T {
        try Namespace(transaction: self, name: "").require(key, as: type)
    }
    /// Entries with a key prefix, decoded as `T`.
    public func entries<K: ByteString, T: Decodable>(prefix: K, as type: T.Type) throws(SealKVError) -> [(key: [UInt8], value: T)] {
        try Namespace(transaction: self, name: "").entries(prefix: prefix, as: type)
    }
    /// Every key of the default namespace, in order.
    public func keys(reverse: Bool = false) throws(SealKVError) -> KeySequence {
        try Namespace(transaction: self, name: "").keys(reverse: reverse)
    }
}

extension WriteTransaction {
    /// Stores an `Encodable` value in the default namespace.
    public func put<K: ByteString, V: Encodable>(_ key: K, encoding value: V) throws(SealKVError) {
        try Namespace(transaction: self, name: "").put(key, encoding: value)
    }
    /// Stores an `Encodable` value that expires after `ttl`.
    public func put<K: ByteString, V: Encodable>(_ key: K, encoding value: V, ttl: Duration) throws(SealKVError) {
        try Namespace(transaction: self, name: "").put(key, encoding: value, ttl: ttl)
    }
    /// Read-modify-write of one key; nil from `transform` deletes. Returns the new value.
    @discardableResult
    public func update<K: ByteString>(_ key: K, _ transform: ([UInt8]?) throws -> [UInt8]?) throws -> [UInt8]? {
        try Namespace(transaction: self, name: "").update(key, transform)
    }
    /// The value at `key`, inserting `makeDefault()` first if absent.
    @discardableResult
    public func getOrInsert<K: ByteString, V: ByteString>(_ key: K, _ makeDefault: () throws -> V) throws -> [UInt8] {
        try Namespace(transaction: self, name: "").getOrInsert(key, makeDefault)
    }
    /// Stores `new` only if the current value equals `expected`; returns whether it swapped.
    @discardableResult
    public func compareAndSwap<K: ByteString>(_ key: K, expected: [UInt8]?, new: [UInt8]?) throws(SealKVError) -> Bool {
        try Namespace(transaction: self, name: "").compareAndSwap(key, expected: expected, new: new)
    }
    /// Stores `new` only if the current value equals `expected` (any byte strings).
    @discardableResult
    public func compareAndSwap<K: ByteString, E: ByteString, N: ByteString>(_ key: K, expected: E, new: N) throws(SealKVError) -> Bool {
        try Namespace(transaction: self, name: "").compareAndSwap(key, expected: expected, new: new)
    }
    /// Read-modify-write of one key's `Codable` value; nil from `transform` deletes.
    @discardableResult
    public func update<K: ByteString, T: Codable>(_ key: K, as type: T.Type, _ transform: (T?) throws -> T?) throws -> T? {
        try Namespace(transaction: self, name: "").update(key, as: type, transform)
    }
}
