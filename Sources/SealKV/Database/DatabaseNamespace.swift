/// One-call access to a namespace: each method is a transaction of its own. For several
/// operations that must happen together, use `Database.write` instead.
public struct DatabaseNamespace: Sendable {
    /// The database.
    public let database: Database
    /// The namespace ("" is the default namespace).
    public let name: String

    @usableFromInline
    func reading<R>(_ body: (Namespace) throws -> R) throws -> R {
        try database.read { tx in try body(Namespace(transaction: tx, name: name)) }
    }

    @usableFromInline
    func writing<R>(_ body: (Namespace) throws -> R) throws -> R {
        try database.write { tx in try body(try tx.namespace(name)) }
    }

    /// The value at `key`, or nil (also when the namespace does not exist yet).
    @inlinable
    public func get<K: ByteString>(_ key: K) throws -> [UInt8]? {
        try reading { try $0.get(key) }
    }
    /// The value at `key` as UTF-8, or nil.
    public func getString<K: ByteString>(_ key: K) throws -> String? { try get(key).map { String(decoding: $0, as: UTF8.self) } }
    /// The value decoded as `T`, or nil.
    public func get<K: ByteString, T: Decodable>(_ key: K, as type: T.Type) throws -> T? {
        guard let bytes = try get(key) else { return nil }
        return try BinaryValueDecoder().decode(T.self, from: bytes)
    }
    /// The value decoded as `T`; `notFound` if absent.
    public func require<K: ByteString, T: Decodable>(_ key: K, as type: T.Type) throws -> T {
        guard let v = try get(key, as: T.self) else {
            throw SealKVError(.notFound, "no value is stored at the requested key in namespace '\(name)'.")
        }
        return v
    }
    /// Stores `value` at `key`.
    @inlinable
    public func put<K: ByteString, V: ByteString>(_ key: K, _ value: V) throws { try writing { try $0.put(key, value) } }
    /// Stores `value`, expiring after `ttl`.
    public func put<K: ByteString, V: ByteString>(_ key: K, _ value: V, ttl: Duration) throws { try writing { try $0.put(key, value, ttl: ttl) } }
    /// Stores `value`, expiring at `expiresAt` (Unix time in milliseconds).
    public func put<K: ByteString, V: ByteString>(_ key: K, _ value: V, expiresAt: UInt64) throws {
        try writing { try $0.put(key, value, expiresAt: expiresAt) }
    }
    /// When `key` expires (Unix time in milliseconds); nil if it has no time to live or is absent.
    public func expiration<K: ByteString>(of key: K) throws -> UInt64? {
        try reading { try $0.expiration(of: key) }
    }
    /// Sets (nil: clears) when `key` expires, keeping its value; false if the key is absent.
    @discardableResult
    public func setExpiration<K: ByteString>(of key: K, to expiresAt: UInt64?) throws -> Bool {
        try writing { try $0.setExpiration(of: key, to: expiresAt) }
    }
    /// Stores an `Encodable` value.
    public func put<K: ByteString, V: Encodable>(_ key: K, encoding value: V) throws { try writing { try $0.put(key, encoding: value) } }
    /// Removes `key`; returns whether it was present.
    @discardableResult @inlinable
    public func delete<K: ByteString>(_ key: K) throws -> Bool { try writing { try $0.delete(key) } }
    /// Atomic read-modify-write; nil deletes. Returns the new value.
    @discardableResult
    public func update<K: ByteString>(_ key: K, _ transform: ([UInt8]?) throws -> [UInt8]?) throws -> [UInt8]? {
        try writing { try $0.update(key, transform) }
    }
    /// The value at `key`, inserting `makeDefault()` first if absent.
    @discardableResult
    public func getOrInsert<K: ByteString, V: ByteString>(_ key: K, _ makeDefault: () throws -> V) throws -> [UInt8] {
        try writing { try $0.getOrInsert(key, makeDefault) }
    }
    /// Stores `new` only if the current value equals `expected`; returns whether it swapped.
    @discardableResult
    public func compareAndSwap<K: ByteString>(_ key: K, expected: [UInt8]?, new: [UInt8]?) throws -> Bool {
        try writing { try $0.compareAndSwap(key, expected: expected, new: new) }
    }
    /// Number of entries (expired ones not counted unless `includingExpired`).
    public func count(includingExpired: Bool = false) throws -> Int {
        try reading { try $0.count(includingExpired: includingExpired) }
    }
    /// Every key, in order.
    public func keys() throws -> [[UInt8]] {
        try reading { Array(try $0.keys()) }
    }
}
