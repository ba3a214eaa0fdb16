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
        try get(key, namespace: "")
    }

    /// The value stored at `key` decoded as UTF-8, or nil.
    public func getString<K: ByteString>(_ key: K) throws(SealKVError) -> String? {
        try get(key).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Whether `key` is present.
    @inlinable
    public final func contains<K: ByteString>(_ key: K) throws(SealKVError) -> Bool {
        try contains(key, namespace: "")
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
        try withValueBytes(key, namespace: "", body)
    }

    /// A cursor over the default namespace.
    public func cursor() throws(SealKVError) -> Cursor {
        try ensureOpen()
        return Cursor(transaction: self, tree: .main)
    }

    /// Number of live entries in the default namespace (see ``Namespace/count(includingExpired:)``).
    public func count(includingExpired: Bool = false) throws(SealKVError) -> Int {
        try Namespace(transaction: self, name: "").count(includingExpired: includingExpired)
    }

    // MARK: Namespaces

    /// A handle on namespace `name`. In a read transaction a namespace that does not exist reads as
    /// empty (``hasNamespace(_:)`` tells); in a write transaction it is created if missing.
    public func namespace(_ name: String) throws(SealKVError) -> Namespace {
        try ensureOpen()
        try Namespace.validate(name)
        return Namespace(transaction: self, name: name)
    }

    /// Whether namespace `name` exists ("" always does). Does not create it, even in a write
    /// transaction.
    public func hasNamespace(_ name: String) throws(SealKVError) -> Bool {
        try ensureOpen()
        try Namespace.validate(name)
        return try tree(named: name) != nil
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

    /// Whether `key` is present in `namespace`.
    @usableFromInline
    func containsBytes(_ key: UnsafeRawBufferPointer, namespace: String) throws(SealKVError) -> Bool {
        try locateBytes(key, namespace: namespace) != nil
    }

    /// The tree of `namespace` for a lookup of `key`, once the transaction is known to be open
    /// and the key to be valid; an empty tree for a namespace that does not exist (it reads as
    /// empty, as it does through ``Database/namespace(_:)``).
    func tree(lookingUp key: UnsafeRawBufferPointer, namespace: String) throws(SealKVError) -> TreeDescriptor {
        try ensureOpen()
        try Namespace.validateKey(key)
        return try tree(named: namespace) ?? .empty
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

    /// ``get(_:)`` in `namespace`. This and the other generic entry points below are `final` and
    /// inlinable: a generic method of this class (which has a subclass) is otherwise called through
    /// its table, never specialised, and asks the runtime for generic metadata on every call.
    @inlinable
    final func get<K: ByteString>(_ key: K, namespace: String) throws(SealKVError) -> [UInt8]? {
        try key.withBytes { (k) throws(SealKVError) -> [UInt8]? in try getBytes(k, namespace: namespace) }
    }

    /// ``contains(_:)`` in `namespace`.
    @inlinable
    final func contains<K: ByteString>(_ key: K, namespace: String) throws(SealKVError) -> Bool {
        try key.withBytes { (k) throws(SealKVError) -> Bool in try containsBytes(k, namespace: namespace) }
    }

    /// The longest inline value ``visitValue(_:namespace:_:)`` copies to the stack (the
    /// standard library's limit for a temporary allocation that is always on the stack); longer
    /// ones, rare below the ~1,330-byte inline limit, go through an array.
    static let stackValueBytes = 1024

    /// ``withValue(for:_:)`` in `namespace`. Inlined into the caller, so `R` is a concrete type
    /// there and only ``visitValue(_:namespace:_:)``, which is not generic, is called: compiled
    /// generically, the temporary allocation's `Result<R?, Error>` and `R?` had their type
    /// metadata looked up at run time on every call, about 900 of a hot get's 5,233 instructions.
    @inlinable
    final func withValueBytes<K: ByteString, R>(_ key: K, namespace: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        var result: R?
        try key.withBytes { (k) throws -> Void in try visitValue(k, namespace: namespace) { result = try body($0) } }
        return result
    }

    /// Finds `key` in `namespace` and calls `body` with its value's bytes, if present. An inline
    /// value is copied into a buffer on the stack (every call has its own, so a nested call cannot
    /// disturb the bytes an outer `body` holds), which is wiped when `body` returns.
    @usableFromInline
    final func visitValue(_ key: UnsafeRawBufferPointer, namespace: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try withUnsafeTemporaryAllocation(byteCount: Self.stackValueBytes, alignment: 16) { (buffer) throws -> Void in
            let tree = try tree(lookingUp: key, namespace: namespace)
            switch try TreeReader(tree, in: pages).findValue(key, copyingInto: buffer, now: { now }) {
            case nil:
                return
            case .copied(let count)?:
                defer { secureZero(buffer.baseAddress!, count: count) }
                try body(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            case .elsewhere(let location)?:
                try TreeReader.value(at: location, in: pages).withUnsafeBytes(body)
            }
        }
    }

    /// Entries of `namespace` between `lower` and `upper` (nil: open), the upper bound itself
    /// included when `inclusive`.
    func entries(_ namespace: String, lower: [UInt8]?, upper: [UInt8]?, inclusive: Bool, reverse: Bool, limit: Int?) throws(SealKVError) -> KeyValueSequence {
        try ensureOpen()
        if let limit, limit < 0 {
            throw SealKVError(.invalidArgument, "a range's limit must not be negative (got \(limit)); leave it out for every entry.")
        }
        return KeyValueSequence(transaction: self, tree: TreeID(namespace: namespace), lower: lower, upper: upper, upperInclusive: inclusive,
                                reverse: reverse, limit: limit)
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

func compareBytes(_ a: [UInt8], _ b: [UInt8]) -> Int {
    a.withUnsafeBytes { x in b.withUnsafeBytes { y in compareBytes(x, y) } }
}
