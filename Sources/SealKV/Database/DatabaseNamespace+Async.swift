/// The one-call conveniences as `async` methods: each is its own transaction, run on a thread of
/// the store's own (see ``Database/write(_:)-(_)`` in its `async` form) while the caller suspends.
/// Keys and values are copied before the hop, so any ``ByteString`` will do; `Codable` values are
/// encoded and decoded on the caller's side. A task cancelled before the transaction commits makes
/// no change and gets `CancellationError`.
extension DatabaseNamespace {
    private func readingOffPool<R: Sendable>(_ body: @escaping @Sendable (Namespace) throws -> R) async throws -> R {
        let name = self.name
        return try await database.read { tx in try body(Namespace(transaction: tx, name: name)) }
    }

    private func writingOffPool<R: Sendable>(_ body: @escaping @Sendable (Namespace) throws -> R) async throws -> R {
        let name = self.name
        return try await database.write { tx in try body(try tx.namespace(name)) }
    }

    /// The value at `key`, or nil.
    public func get<K: ByteString>(_ key: K) async throws -> [UInt8]? {
        let key = key.byteArray
        return try await readingOffPool { try $0.get(key) }
    }
    /// The value at `key` as UTF-8, or nil.
    public func getString<K: ByteString>(_ key: K) async throws -> String? {
        try await get(key).map { String(decoding: $0, as: UTF8.self) }
    }
    /// The value decoded as `T`, or nil.
    public func get<K: ByteString, T: Decodable>(_ key: K, as type: T.Type) async throws -> T? {
        guard let bytes = try await get(key) else { return nil }
        return try BinaryValueDecoder().decode(T.self, from: bytes)
    }
    /// Stores `value` at `key`; returns once the commit is durable.
    public func put<K: ByteString, V: ByteString>(_ key: K, _ value: V) async throws {
        let key = key.byteArray, value = value.byteArray
        try await writingOffPool { try $0.put(key, value) }
    }
    /// Stores `value`, expiring after `ttl`.
    public func put<K: ByteString, V: ByteString>(_ key: K, _ value: V, ttl: Duration) async throws {
        let key = key.byteArray, value = value.byteArray
        try await writingOffPool { try $0.put(key, value, ttl: ttl) }
    }
    /// Stores an `Encodable` value.
    public func put<K: ByteString, V: Encodable>(_ key: K, encoding value: V) async throws {
        let key = key.byteArray, bytes = try BinaryValueEncoder().encode(value)
        try await writingOffPool { try $0.put(key, bytes) }
    }
    /// Removes `key`; returns whether it was present.
    @discardableResult
    public func delete<K: ByteString>(_ key: K) async throws -> Bool {
        let key = key.byteArray
        return try await writingOffPool { try $0.delete(key) }
    }
    /// Atomic read-modify-write; nil deletes. `transform` runs on the store's thread, inside the
    /// transaction. Returns the new value.
    @discardableResult
    public func update<K: ByteString>(_ key: K, _ transform: @escaping @Sendable ([UInt8]?) throws -> [UInt8]?) async throws -> [UInt8]? {
        let key = key.byteArray
        return try await writingOffPool { try $0.update(key, transform) }
    }
    /// Read-modify-write of one key's `Codable` value; nil from `transform` deletes.
    @discardableResult
    public func update<K: ByteString, T: Codable & Sendable>(_ key: K, as type: T.Type, _ transform: @escaping @Sendable (T?) throws -> T?) async throws -> T? {
        let key = key.byteArray
        return try await writingOffPool { try $0.update(key, as: type, transform) }
    }
    /// The value at `key`, inserting `makeDefault()` first if absent.
    @discardableResult
    public func getOrInsert<K: ByteString, V: ByteString>(_ key: K, _ makeDefault: @escaping @Sendable () throws -> V) async throws -> [UInt8] {
        let key = key.byteArray
        return try await writingOffPool { try $0.getOrInsert(key) { try makeDefault().byteArray } }
    }
    /// Stores `new` only if the current value equals `expected` (nil: absent; a nil `new`
    /// deletes); returns whether it swapped.
    @discardableResult
    public func compareAndSwap<K: ByteString>(_ key: K, expected: [UInt8]?, new: [UInt8]?) async throws -> Bool {
        let key = key.byteArray
        return try await writingOffPool { try $0.compareAndSwap(key, expected: expected, new: new) }
    }
    /// Sets (nil: clears) when `key` expires, keeping its value; false if the key is absent.
    @discardableResult
    public func setExpiration<K: ByteString>(of key: K, to expiresAt: UInt64?) async throws -> Bool {
        let key = key.byteArray
        return try await writingOffPool { try $0.setExpiration(of: key, to: expiresAt) }
    }
    /// Number of entries (expired ones not counted unless `includingExpired`).
    public func count(includingExpired: Bool = false) async throws -> Int {
        try await readingOffPool { try $0.count(includingExpired: includingExpired) }
    }
}

/// The same `async` conveniences for the default namespace.
extension Database {
    /// The value at `key` in the default namespace, or nil.
    public func get<K: ByteString>(_ key: K) async throws -> [UInt8]? { try await namespace("").get(key) }
    /// The value decoded as `T`, or nil.
    public func get<K: ByteString, T: Decodable>(_ key: K, as type: T.Type) async throws -> T? { try await namespace("").get(key, as: type) }
    /// Stores `value` at `key`; returns once the commit is durable.
    public func put<K: ByteString, V: ByteString>(_ key: K, _ value: V) async throws { try await namespace("").put(key, value) }
    /// Stores `value`, expiring after `ttl`.
    public func put<K: ByteString, V: ByteString>(_ key: K, _ value: V, ttl: Duration) async throws { try await namespace("").put(key, value, ttl: ttl) }
    /// Stores an `Encodable` value.
    public func put<K: ByteString, V: Encodable>(_ key: K, encoding value: V) async throws { try await namespace("").put(key, encoding: value) }
    /// Removes `key`; returns whether it was present.
    @discardableResult
    public func delete<K: ByteString>(_ key: K) async throws -> Bool { try await namespace("").delete(key) }
    /// Atomic read-modify-write of one key; `transform` runs on the store's thread.
    @discardableResult
    public func update<K: ByteString>(_ key: K, _ transform: @escaping @Sendable ([UInt8]?) throws -> [UInt8]?) async throws -> [UInt8]? {
        try await namespace("").update(key, transform)
    }
    /// Read-modify-write of one key's `Codable` value; nil from `transform` deletes.
    @discardableResult
    public func update<K: ByteString, T: Codable & Sendable>(_ key: K, as type: T.Type, _ transform: @escaping @Sendable (T?) throws -> T?) async throws -> T? {
        try await namespace("").update(key, as: type, transform)
    }
    /// The value at `key`, inserting `makeDefault()` first if absent.
    @discardableResult
    public func getOrInsert<K: ByteString, V: ByteString>(_ key: K, _ makeDefault: @escaping @Sendable () throws -> V) async throws -> [UInt8] {
        try await namespace("").getOrInsert(key, makeDefault)
    }
    /// Stores `new` only if the current value equals `expected`; returns whether it swapped.
    @discardableResult
    public func compareAndSwap<K: ByteString>(_ key: K, expected: [UInt8]?, new: [UInt8]?) async throws -> Bool {
        try await namespace("").compareAndSwap(key, expected: expected, new: new)
    }
    /// Deletes expired entries; returns how many.
    @discardableResult
    public func sweepExpired(limit: Int = .max) async throws -> Int { try await write { try $0.sweepExpired(limit: limit) } }
}
