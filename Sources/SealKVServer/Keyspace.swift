import SealKV

/// One SELECTed database inside a transaction, as the commands use it: reads that never create
/// its namespace, writes that report each key they change to WATCH's registry, and expiry times
/// as Unix milliseconds, the unit Redis's absolute times and SealKV's store share.
final class Keyspace {
    let tx: ReadTransaction
    /// The SealKV namespace ("" is database 0).
    let name: String
    /// The namespace, once it exists.
    private var existing: Namespace?
    private let watches: WatchRegistry?

    /// The view of `name` in `tx`; `watches` hears of every key a write changes.
    init(_ tx: ReadTransaction, _ name: String, watches: WatchRegistry? = nil) throws {
        self.tx = tx
        self.name = name
        self.watches = watches
        existing = try Self.existingNamespace(tx, name)
    }

    /// The namespace if it exists (the default one always does), without creating it.
    static func existingNamespace(_ tx: ReadTransaction, _ name: String) throws -> Namespace? {
        if name.isEmpty { return try tx.namespace("") }
        // A write transaction's `namespace(_:)` would create it.
        return try tx.hasNamespace(name) ? try tx.namespace(name) : nil
    }

    /// The transaction's time in Unix milliseconds: fixed for its whole life, as Redis fixes one
    /// time per command.
    var now: UInt64 { tx.now }

    // MARK: Reads

    func get(_ key: [UInt8]) throws -> [UInt8]? { try existing?.get(key) }

    func contains(_ key: [UInt8]) throws -> Bool { try existing?.contains(key) ?? false }

    /// When `key` expires (Unix ms); nil if it has no expiry or is absent.
    func expiration(_ key: [UInt8]) throws -> UInt64? { try existing?.expiration(of: key) }

    /// The value and expiry of `key`, or nil if absent.
    func entry(_ key: [UInt8]) throws -> (value: [UInt8], expiresAt: UInt64?)? {
        guard let value = try get(key) else { return nil }
        return (value, try expiration(key))
    }

    /// Keys stored, expired ones not yet swept included (as DBSIZE counts in Redis).
    func count() throws -> Int { try existing?.count(includingExpired: true) ?? 0 }

    /// Keys in order, starting after `after` (from the first when nil).
    func keys(after: [UInt8]?) throws -> AnySequence<[UInt8]> {
        guard let existing else { return AnySequence([]) }
        let entries = try existing.range(from: after, to: nil as [UInt8]?)
        return AnySequence(entries.lazy.map(\.key).filter { $0 != after })
    }

    // MARK: Writes

    private func writable() throws -> Namespace {
        if let existing { return existing }
        guard tx is WriteTransaction else { throw SealKVError(.readOnly, "a write command ran in a read transaction") }
        let created = try tx.namespace(name)
        existing = created
        return created
    }

    /// Whether `expiresAt` can be stored: SealKV keeps expiry times up to 2^50 ms (35,000 years)
    /// ahead. Times in the past are fine: they delete the key.
    func canStore(expiresAt: UInt64) -> Bool { expiresAt <= now || expiresAt - now < UInt64(1) << 50 }

    /// Stores `value` at `key`, expiring at `expiresAt` (nil: never). A time not after now
    /// deletes the key instead, as Redis does with an expiry in the past.
    func put(_ key: [UInt8], _ value: [UInt8], expiresAt: UInt64? = nil) throws {
        if let expiresAt, expiresAt <= now {
            _ = try delete(key)
            return
        }
        let n = try writable()
        if let expiresAt { try n.put(key, value, expiresAt: expiresAt) } else { try n.put(key, value) }
        watches?.touch(name, key)
    }

    /// Removes `key`; whether it was there.
    func delete(_ key: [UInt8]) throws -> Bool {
        guard let existing, try existing.delete(key) else { return false }
        watches?.touch(name, key)
        return true
    }

    /// Sets (nil: clears) when `key` expires, keeping its value; a time not after now deletes it.
    /// Whether the key was there.
    func setExpiration(_ key: [UInt8], _ expiresAt: UInt64?) throws -> Bool {
        guard let existing else { return false }
        if let expiresAt, expiresAt <= now { return try delete(key) }
        guard try existing.setExpiration(of: key, to: expiresAt) else { return false }
        watches?.touch(name, key)
        return true
    }

    /// Removes every key of this database.
    func flush() throws {
        guard let writer = tx as? WriteTransaction else { throw SealKVError(.readOnly, "FLUSHDB ran in a read transaction") }
        if name.isEmpty {
            // The default namespace cannot be dropped: delete its keys, a bounded batch at a time.
            let n = try writer.namespace("")
            while true {
                let batch = Array(try n.keys().prefix(1024))
                if batch.isEmpty { break }
                for key in batch { try n.delete(key) }
            }
        } else if existing != nil {
            try writer.dropNamespace(name)
        }
        watches?.touchAll(in: name)
    }
}
