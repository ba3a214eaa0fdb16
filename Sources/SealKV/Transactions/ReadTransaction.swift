/// A read-only view of one committed snapshot, valid inside its `Database.read` closure.
///
/// It sees exactly the state committed when it began, for its whole life, whatever writers do
/// meanwhile. Methods without a namespace act on the default namespace "".
public class ReadTransaction: Transaction {
    /// The txnid of the snapshot this transaction reads.
    public var snapshotTxnID: UInt64 { base.txnID }

    // MARK: Default namespace

    /// The value stored at `key`, or nil.
    @inlinable
    public final func get<K: ByteString>(_ key: K) throws(SealKVError) -> [UInt8]? {
        try key.withBytes { (k) throws(SealKVError) -> [UInt8]? in try getBytes(k, namespace: "") }
    }

    /// The value stored at `key` decoded as UTF-8, or nil.
    public func getString<K: ByteString>(_ key: K) throws(SealKVError) -> String? {
        try get(key).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Whether `key` is present.
    @inlinable
    public final func contains<K: ByteString>(_ key: K) throws(SealKVError) -> Bool {
        try key.withBytes { (k) throws(SealKVError) -> Bool in try containsBytes(k, namespace: "") }
    }

    /// How long until `key` expires; nil if it has no time to live or is absent.
    public func timeToLive<K: ByteString>(_ key: K) throws(SealKVError) -> Duration? {
        try expiry(of: key, namespace: "").map { .milliseconds(Int64($0) - Int64(now)) }
    }

    /// When `key` expires, as stored: Unix time in milliseconds. Nil if it has no time to live or
    /// is absent.
    public func expiration<K: ByteString>(of key: K) throws(SealKVError) -> UInt64? {
        try expiry(of: key, namespace: "")
    }

    /// Calls `body` with the value's bytes without allocating: an inline value is copied into a
    /// buffer on the stack, wiped when `body` returns, and `body` runs on that copy outside any
    /// lock, so it may read the store again. Values in overflow pages are assembled into an array
    /// first. The buffer is valid only inside `body`. Returns nil if the key is absent.
    @inlinable
    public final func withValue<K: ByteString, R>(for key: K, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        try key.withBytes { (k) throws -> R? in try withValueBytes(k, namespace: "", body) }
    }

    /// Entries with `lower <= key < upper`, ascending (or descending with `reverse`). A nil bound is open.
    public func range<K: ByteString>(from lower: K?, to upper: K?, reverse: Bool = false) throws(SealKVError) -> KeyValueSequence {
        try range(from: lower, to: upper, reverse: reverse, namespace: "")
    }

    /// Every entry, in key order.
    public func all(reverse: Bool = false) throws(SealKVError) -> KeyValueSequence {
        try ensureOpen()
        return KeyValueSequence(transaction: self, tree: .main, lower: nil, upper: nil, reverse: reverse)
    }

    /// Entries whose key starts with `prefix`, in key order.
    public func prefix<K: ByteString>(_ prefix: K, reverse: Bool = false) throws(SealKVError) -> KeyValueSequence {
        try self.prefix(prefix, reverse: reverse, namespace: "")
    }

    /// A cursor over the default namespace.
    public func cursor() throws(SealKVError) -> Cursor {
        try ensureOpen()
        return Cursor(transaction: self, tree: .main)
    }

    /// Number of entries in the default namespace.
    public var count: Int { Int(mainTree.entries) }

    // MARK: Namespaces

    /// A handle on namespace `name`. In a read transaction the namespace must exist; in a write
    /// transaction it is created if missing.
    public func namespace(_ name: String) throws(SealKVError) -> Namespace {
        try ensureOpen()
        try Namespace.validate(name)
        if try tree(named: name) == nil {
            throw SealKVError(.namespaceNotFound, "namespace '\(name)' does not exist; create it in a write transaction first.")
        }
        return Namespace(transaction: self, name: name)
    }

    /// This transaction as a writer, or nil for a reader (a write transaction overrides it).
    var asWriter: WriteTransaction? { nil }

    /// The names of every named namespace, sorted (the default namespace "" is not listed).
    public func namespaces() throws(SealKVError) -> [String] {
        try ensureOpen()
        var names: [String] = []
        let cursor = Cursor(transaction: self, tree: .catalog)
        var more = try cursor.first()
        while more {
            if let k = cursor.key { names.append(String(decoding: k, as: UTF8.self)) }
            more = try cursor.next()
        }
        return names
    }

    // MARK: Namespace-parameterised core

    func locate<K: ByteString>(_ key: K, namespace: String) throws(SealKVError) -> ValueLocation? {
        try key.withBytes { (k) throws(SealKVError) -> ValueLocation? in try locateBytes(k, namespace: namespace) }
    }

    /// Whether `key` is present in `namespace`.
    @usableFromInline
    func containsBytes(_ key: UnsafeRawBufferPointer, namespace: String) throws(SealKVError) -> Bool {
        try locateBytes(key, namespace: namespace) != nil
    }

    /// The tree of `namespace` for a lookup of `key`, once the transaction is known to be open, the
    /// namespace to exist and the key to be valid.
    func tree(lookingUp key: UnsafeRawBufferPointer, namespace: String) throws(SealKVError) -> TreeDescriptor {
        try ensureOpen()
        guard let t = try tree(named: namespace) else {
            throw SealKVError(.namespaceNotFound, "namespace '\(namespace)' does not exist.")
        }
        try Namespace.validateKey(key)
        return t
    }

    /// Where the value of `key` lives in `namespace`, or nil when the key is absent.
    func locateBytes(_ key: UnsafeRawBufferPointer, namespace: String) throws(SealKVError) -> ValueLocation? {
        try TreeReader(try tree(lookingUp: key, namespace: namespace), in: pages).locate(key, now: { now })
    }

    /// The value of `key` in `namespace`, or nil.
    @usableFromInline
    func getBytes(_ key: UnsafeRawBufferPointer, namespace: String) throws(SealKVError) -> [UInt8]? {
        guard let location = try locateBytes(key, namespace: namespace) else { return nil }
        return try TreeReader.value(at: location, in: pages)
    }

    /// When `key` expires (Unix milliseconds), nil if it has no time to live or is absent.
    func expiry<K: ByteString>(of key: K, namespace: String) throws(SealKVError) -> UInt64? {
        try key.withBytes { (k) throws(SealKVError) -> UInt64? in
            let t = try tree(lookingUp: k, namespace: namespace)
            let found = try TreeReader(t, in: pages).descend(to: k) { (node, i, found) throws(SealKVError) -> UInt64? in
                found && !node.isExpired(i, now: now) ? node.expiry(i) : nil
            }
            return found ?? nil
        }
    }

    func get<K: ByteString>(_ key: K, namespace: String) throws(SealKVError) -> [UInt8]? {
        try key.withBytes { (k) throws(SealKVError) -> [UInt8]? in try getBytes(k, namespace: namespace) }
    }

    /// The longest inline value ``withValueBytes(_:namespace:_:)`` copies to the stack (the
    /// standard library's limit for a temporary allocation that is always on the stack); longer
    /// ones, rare below the ~1,330-byte inline limit, go through an array.
    static let stackValueBytes = 1024

    /// ``withValue(for:_:)`` on raw key bytes in `namespace`. An inline value is copied into a
    /// buffer on the stack (every call has its own, so a nested call cannot disturb the bytes an
    /// outer `body` holds), which is wiped when `body` returns.
    @usableFromInline
    func withValueBytes<R>(_ key: UnsafeRawBufferPointer, namespace: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        try withUnsafeTemporaryAllocation(byteCount: Self.stackValueBytes, alignment: 16) { (buffer) throws -> R? in
            let tree = try tree(lookingUp: key, namespace: namespace)
            switch try TreeReader(tree, in: pages).findValue(key, copyingInto: buffer, now: { now }) {
            case nil:
                return nil
            case .copied(let count)?:
                defer { secureZero(buffer.baseAddress!, count: count) }
                return try body(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            case .elsewhere(let location)?:
                return try TreeReader.value(at: location, in: pages).withUnsafeBytes(body)
            }
        }
    }

    func range<K: ByteString>(from lower: K?, to upper: K?, reverse: Bool, namespace: String) throws(SealKVError) -> KeyValueSequence {
        try ensureOpen()
        let lo = lower.map { $0.withBytes { Array($0) } }
        let hi = upper.map { $0.withBytes { Array($0) } }
        return KeyValueSequence(transaction: self, tree: TreeID(namespace: namespace), lower: lo, upper: hi, reverse: reverse)
    }

    func prefix<K: ByteString>(_ prefix: K, reverse: Bool, namespace: String) throws(SealKVError) -> KeyValueSequence {
        try ensureOpen()
        let lo = prefix.withBytes { Array($0) }
        return KeyValueSequence(transaction: self, tree: TreeID(namespace: namespace), lower: lo, upper: Self.successor(of: lo), reverse: reverse)
    }

    /// The smallest byte string greater than every string with prefix `p`, or nil if none exists.
    static func successor(of p: [UInt8]) -> [UInt8]? {
        var s = p
        while let last = s.last {
            if last < 0xFF {
                s[s.count - 1] = last + 1
                return s
            }
            s.removeLast()
        }
        return nil
    }
}

/// Entries of one namespace between two bounds, produced lazily by a cursor.
///
/// Iteration cannot throw in Swift; if reading a page fails mid-way the sequence ends early and the
/// error is rethrown when the transaction's closure returns (a write transaction then rolls back).
/// Like its transaction, a sequence is valid only inside the transaction's closure: iterating it
/// afterwards stops the program rather than yield nothing.
public struct KeyValueSequence: Sequence {
    let transaction: Transaction
    let tree: TreeID
    let lower: [UInt8]?
    let upper: [UInt8]?
    let reverse: Bool
    /// Yield empty values (for key-only iteration; overflow chains are not read).
    var keysOnly = false

    /// An iterator that walks the entries with a cursor.
    public func makeIterator() -> Iterator {
        Iterator(sequence: self)
    }

    /// Walks the entries with a ``Cursor``.
    public final class Iterator: IteratorProtocol {
        let sequence: KeyValueSequence
        let cursor: Cursor
        var started = false
        var done = false

        init(sequence: KeyValueSequence) {
            self.sequence = sequence
            cursor = Cursor(transaction: sequence.transaction, tree: sequence.tree)
        }

        /// The next entry, or nil at the end (or after a read error, which the transaction rethrows).
        public func next() -> (key: [UInt8], value: [UInt8])? {
            sequence.transaction.requireOpen("a sequence of entries")
            guard !done else { return nil }
            do throws(SealKVError) {
                let positioned: Bool
                if !started {
                    started = true
                    if sequence.reverse {
                        if let upper = sequence.upper {
                            positioned = try cursor.seek(to: upper) ? cursor.previous() : cursor.last()
                        } else {
                            positioned = try cursor.last()
                        }
                    } else {
                        if let lower = sequence.lower { positioned = try cursor.seek(to: lower) } else { positioned = try cursor.first() }
                    }
                } else {
                    positioned = sequence.reverse ? try cursor.previous() : try cursor.next()
                }
                guard positioned, let key = cursor.key else { return finish() }
                if !sequence.reverse, let upper = sequence.upper, compareBytes(key, upper) >= 0 { return finish() }
                if sequence.reverse, let lower = sequence.lower, compareBytes(key, lower) < 0 { return finish() }
                if sequence.keysOnly { return (key, []) }
                guard let value = try cursor.value() else { return finish() }
                return (key, value)
            } catch {
                if sequence.transaction.deferredError == nil { sequence.transaction.deferredError = error }
                return finish()
            }
        }

        private func finish() -> (key: [UInt8], value: [UInt8])? {
            done = true
            return nil
        }
    }
}

func compareBytes(_ a: [UInt8], _ b: [UInt8]) -> Int {
    a.withUnsafeBytes { x in b.withUnsafeBytes { y in compareBytes(x, y) } }
}
