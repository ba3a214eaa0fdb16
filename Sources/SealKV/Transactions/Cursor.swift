/// A position in one namespace's ordered keys, valid inside its transaction.
///
/// Moves with ``first()``, ``last()``, ``seek(to:)``, ``next()`` and ``previous()``; each returns
/// whether the cursor now rests on an entry. Entries whose time to live has run out are skipped.
/// The cursor keeps a private copy of the current leaf, so stepping within a leaf touches no lock.
/// In a write transaction the cursor notices changes made since it last moved and re-finds its
/// place by key.
public final class Cursor {
    let transaction: Transaction
    let tree: TreeID
    private let position: TreeCursor
    private var seenVersion: Int

    init(transaction: Transaction, tree: TreeID) {
        self.transaction = transaction
        self.tree = tree
        position = TreeCursor(pages: transaction.pages, readAhead: transaction.configuration.scanReadAhead)
        seenVersion = transaction.version
    }

    private var node: NodePage { position.node }
    private var positioned: Bool { position.positioned }
    private var leafIndex: Int { position.leafIndex }

    /// The tree's descriptor now (an empty tree for a namespace that does not exist, or was dropped).
    private func descriptor() throws(SealKVError) -> TreeDescriptor {
        try transaction.ensureOpen()
        return try transaction.descriptor(of: tree) ?? .empty
    }

    /// The key under the cursor, or nil when it rests on no entry.
    public var key: [UInt8]? {
        transaction.requireOpen("a cursor")
        guard positioned else { return nil }
        return Array(node.key(leafIndex))
    }

    /// The value under the cursor (reading an overflow chain if needed), or nil when it rests on no entry.
    public func value() throws(SealKVError) -> [UInt8]? {
        guard positioned else { return nil }
        try transaction.ensureOpen()
        try refreshIfStale()
        guard positioned else { return nil }
        return try TreeReader.value(at: TreeReader.location(in: node, at: leafIndex), in: transaction.pages)
    }

    /// When the entry under the cursor expires, as stored (Unix time in milliseconds); nil if it has
    /// no time to live or the cursor rests on no entry.
    public var expiration: UInt64? {
        transaction.requireOpen("a cursor")
        return positioned ? node.expiry(leafIndex) : nil
    }

    /// Calls `body` with the key and the value under the cursor, in place: no array is made for
    /// either, so a loop over a range or a whole namespace allocates nothing per entry. A value kept
    /// in an overflow chain is assembled into a temporary buffer first. Returns nil, without calling
    /// `body`, when the cursor rests on no entry.
    ///
    /// The buffers are valid only inside `body`; copy what must outlive it, and do not move this
    /// cursor inside `body` (its buffer then holds another leaf). Writing in the same transaction
    /// inside `body` is allowed; the buffers still show the entry as it was.
    ///
    /// ```swift
    /// var bytes = 0
    /// try db.read { tx in
    ///     let cursor = try tx.cursor()
    ///     var more = try cursor.first()
    ///     while more {
    ///         try cursor.withEntry { key, value in bytes += key.count + value.count }
    ///         more = try cursor.next()
    ///     }
    /// }
    /// ```
    public func withEntry<R>(_ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> R) throws -> R? {
        guard positioned else { return nil }
        try transaction.ensureOpen()
        try refreshIfStale()
        guard positioned else { return nil }
        let n = node
        if n.isOverflow(leafIndex) {
            let v = try TreeReader.value(at: TreeReader.location(in: n, at: leafIndex), in: transaction.pages)
            return try v.withUnsafeBytes { try body(n.key(leafIndex), $0) }
        }
        return try body(n.key(leafIndex), n.inlineValue(leafIndex))
    }

    /// Moves to the first entry. Returns false if the namespace is empty.
    @discardableResult
    public func first() throws(SealKVError) -> Bool {
        let t = try descriptor()
        seenVersion = transaction.version
        return try skipExpired(try position.edge(of: t, leftmost: true), forward: true)
    }

    /// Moves to the last entry. Returns false if the namespace is empty.
    @discardableResult
    public func last() throws(SealKVError) -> Bool {
        let t = try descriptor()
        seenVersion = transaction.version
        return try skipExpired(try position.edge(of: t, leftmost: false), forward: false)
    }

    /// Moves to the first entry whose key is at least `key`. Returns false if there is none.
    @discardableResult
    public func seek<K: ByteString>(to key: K) throws(SealKVError) -> Bool {
        try skipExpired(try key.withBytes { (k) throws(SealKVError) -> Bool in try seek(raw: k) }, forward: true)
    }

    /// Moves to the next entry. Returns false (and rests on nothing) past the last one.
    @discardableResult
    public func next() throws(SealKVError) -> Bool {
        try skipExpired(try rawStep(forward: true), forward: true)
    }

    /// Moves to the previous entry. Returns false (and rests on nothing) before the first one.
    @discardableResult
    public func previous() throws(SealKVError) -> Bool {
        try skipExpired(try rawStep(forward: false), forward: false)
    }

    func seek(raw key: UnsafeRawBufferPointer) throws(SealKVError) -> Bool {
        let t = try descriptor()
        seenVersion = transaction.version
        return try position.seek(t, to: key)
    }

    /// Entries whose time to live has run out are invisible: step over them (namespaces only; the
    /// internal trees' entries never expire).
    private func skipExpired(_ positioned: Bool, forward: Bool) throws(SealKVError) -> Bool {
        var on = positioned
        while on && node.kind == .leaf && node.isExpired(leafIndex, now: transaction.now) {
            on = try rawStep(forward: forward)
        }
        return on
    }

    /// One step, after re-finding the current key if the transaction changed the tree since the
    /// cursor last moved.
    private func rawStep(forward: Bool) throws(SealKVError) -> Bool {
        try transaction.ensureOpen()
        guard positioned else { return false }
        if transaction.version != seenVersion {
            let current = Array(node.key(leafIndex))
            let exact = try current.withBytes { (k) throws(SealKVError) -> Bool in
                guard try seek(raw: k) else { return false }
                return compareBytes(node.key(leafIndex), k) == 0
            }
            if forward {
                if !positioned || !exact { return positioned }
            } else if !positioned {
                return try last()
            }
        }
        return try position.step(try descriptor(), forward: forward)
    }

    private func refreshIfStale() throws(SealKVError) {
        guard transaction.version != seenVersion, positioned else { return }
        let current = Array(node.key(leafIndex))
        _ = try current.withBytes { (k) throws(SealKVError) -> Bool in try seek(raw: k) }
    }
}
