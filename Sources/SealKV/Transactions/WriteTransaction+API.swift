extension WriteTransaction {
    /// Stores `value` at `key` in the default namespace, replacing any previous value.
    ///
    /// - Throws: `emptyKey`, `keyTooLarge`, `valueTooLarge`, or an I/O or corruption error (which
    ///   also makes the transaction roll back when its closure returns).
    @inlinable
    public func put<K: ByteString, V: ByteString>(_ key: K, _ value: V) throws(SealKVError) {
        try put(key, value, namespace: "")
    }

    /// Removes `key` from the default namespace. Returns whether it was present.
    @discardableResult @inlinable
    public func delete<K: ByteString>(_ key: K) throws(SealKVError) -> Bool {
        try delete(key, namespace: "")
    }

    /// Creates namespace `name` if it does not exist, and returns a handle on it.
    @discardableResult
    public func createNamespace(_ name: String) throws(SealKVError) -> Namespace {
        try ensureOpen()
        try Namespace.validate(name)
        if !name.isEmpty, try tree(named: name) == nil {
            namedTrees[name] = .empty
            changedNamespaces.insert(name)
            droppedNamespaces.remove(name)
        }
        return Namespace(transaction: self, name: name)
    }

    /// Deletes namespace `name` and everything in it. Returns whether it existed.
    @discardableResult
    public func dropNamespace(_ name: String) throws(SealKVError) -> Bool {
        try ensureOpen()
        try Namespace.validate(name)
        guard !name.isEmpty else {
            throw SealKVError(.invalidArgument, "the default namespace cannot be dropped; delete its keys instead.")
        }
        guard let t = try tree(named: name) else { return false }
        try mutating { () throws(SealKVError) in
            try TreeMutator(t, in: space).releaseAll()
            namedTrees[name] = nil
            changedNamespaces.remove(name)
            droppedNamespaces.insert(name)
            changeLog?.recordDrop(namespace: name)
        }
        return true
    }

    /// ``put(_:_:)`` in `namespace`, with an optional expiry time. Inlinable, like every generic
    /// entry point that reaches it, so a caller's concrete key and value types reach ``putBytes``
    /// without the runtime building generic metadata on each call.
    @inlinable
    func put<K: ByteString, V: ByteString>(_ key: K, _ value: V, namespace: String, expiry: UInt64? = nil) throws(SealKVError) {
        try key.withBytes { (k) throws(SealKVError) in
            try value.withBytes { (v) throws(SealKVError) in try putBytes(k, v, namespace: namespace, expiry: expiry) }
        }
    }

    /// Stores `value` at `key` in `namespace` (creating it), with an optional expiry time.
    @usableFromInline
    func putBytes(_ k: UnsafeRawBufferPointer, _ v: UnsafeRawBufferPointer, namespace: String, expiry: UInt64?) throws(SealKVError) {
        try ensureOpen()
        try Namespace.validateKey(k)
        try Namespace.validateValue(v)
        try mutating { () throws(SealKVError) in
            let replaced = try mutate(TreeID(namespace: namespace)) { (m) throws(SealKVError) in try m.put(k, v, expiry: expiry) }
            if let old = replaced?.expiry { try removeExpiryIndex(old, namespace: namespace, key: k) }
            if let expiry { try addExpiryIndex(expiry, namespace: namespace, key: k) }
            changeLog?.recordSet(namespace: namespace, key: k, value: v)
        }
    }

    /// ``delete(_:)`` in `namespace` (inlinable, as ``put(_:_:namespace:expiry:)``).
    @inlinable
    func delete<K: ByteString>(_ key: K, namespace: String) throws(SealKVError) -> Bool {
        try key.withBytes { (k) throws(SealKVError) -> Bool in try deleteBytes(k, namespace: namespace) }
    }

    /// Removes `key` from `namespace`; returns whether a live entry was there.
    @usableFromInline
    func deleteBytes(_ k: UnsafeRawBufferPointer, namespace: String) throws(SealKVError) -> Bool {
        try ensureOpen()
        try Namespace.validateKey(k)
        return try mutating { () throws(SealKVError) -> Bool in
            let tree = TreeID(namespace: namespace)
            guard try descriptor(of: tree) != nil else { return false }
            guard let removed = try mutate(tree, { (m) throws(SealKVError) in try m.delete(k) }) else { return false }
            changeLog?.recordSet(namespace: namespace, key: k, value: nil)
            if let old = removed.expiry {
                try removeExpiryIndex(old, namespace: namespace, key: k)
                // An entry that had already expired was not there as far as readers could tell.
                if old <= now { return false }
            }
            return true
        }
    }

    // MARK: Time to live

    private func addExpiryIndex(_ expiry: UInt64, namespace: String, key: UnsafeRawBufferPointer) throws(SealKVError) {
        let indexKey = ExpiryIndexKey.encode(expiry, namespace: namespace, key: key)
        try indexKey.withBytes { (ik) throws(SealKVError) in
            _ = try mutate(.expiry) { (m) throws(SealKVError) in try m.put(ik, UnsafeRawBufferPointer(start: nil, count: 0)) }
        }
    }

    private func removeExpiryIndex(_ expiry: UInt64, namespace: String, key: UnsafeRawBufferPointer) throws(SealKVError) {
        let indexKey = ExpiryIndexKey.encode(expiry, namespace: namespace, key: key)
        try indexKey.withBytes { (ik) throws(SealKVError) in _ = try mutate(.expiry) { (m) throws(SealKVError) in try m.delete(ik) } }
    }

    /// Stores `value` at `key` in the default namespace; it reads as absent once `ttl` has passed.
    public func put<K: ByteString, V: ByteString>(_ key: K, _ value: V, ttl: Duration) throws(SealKVError) {
        try put(key, value, namespace: "", expiry: try Self.expiry(after: ttl, from: now))
    }

    /// Stores `value` at `key` in the default namespace, expiring at `expiresAt` (Unix time in
    /// milliseconds, as stored).
    /// - Throws: `invalidArgument` if that time is not after ``Transaction/now``: delete the
    ///   key instead.
    public func put<K: ByteString, V: ByteString>(_ key: K, _ value: V, expiresAt: UInt64) throws(SealKVError) {
        try put(key, value, namespace: "", expiry: try Self.validExpiry(expiresAt, now: now))
    }

    /// Sets (or, with nil, clears) the time at which `key` in the default namespace expires,
    /// keeping its value. Returns false, changing nothing, when the key is absent.
    /// - Throws: `invalidArgument` if `expiresAt` is not after ``Transaction/now``.
    @discardableResult
    public func setExpiration<K: ByteString>(of key: K, to expiresAt: UInt64?) throws(SealKVError) -> Bool {
        try setExpiration(of: key, namespace: "", to: expiresAt)
    }

    func setExpiration<K: ByteString>(of key: K, namespace: String, to expiresAt: UInt64?) throws(SealKVError) -> Bool {
        let expiry = try expiresAt.map { (t) throws(SealKVError) in try Self.validExpiry(t, now: now) }
        return try key.withBytes { (k) throws(SealKVError) -> Bool in
            guard let value = try getBytes(k, namespace: namespace) else { return false }
            try value.withBytes { (v) throws(SealKVError) in try putBytes(k, v, namespace: namespace, expiry: expiry) }
            return true
        }
    }

    /// `expiresAt` if it is a usable expiry time: after `now`, and within the range a time to live
    /// may have.
    static func validExpiry(_ expiresAt: UInt64, now: UInt64) throws(SealKVError) -> UInt64 {
        guard expiresAt > now else {
            throw SealKVError(.invalidArgument, "the expiry time \(expiresAt) ms has already passed (the transaction's time is \(now) ms); delete the key instead.")
        }
        guard expiresAt - now < UInt64(1) << 50 else {
            throw SealKVError(.invalidArgument, "the expiry time \(expiresAt) ms is more than 35,000 years away; choose an earlier time.")
        }
        return expiresAt
    }

    static func expiry(after ttl: Duration, from now: UInt64) throws(SealKVError) -> UInt64 {
        let ms = ttl.components.seconds * 1000 + ttl.components.attoseconds / 1_000_000_000_000_000
        guard ms > 0, ms < Int64(1) << 50 else {
            throw SealKVError(.invalidArgument, "a time to live must be positive and under 35,000 years; use delete to remove an entry now.")
        }
        return now + UInt64(ms)
    }

    /// Deletes entries whose time to live has run out (up to `limit`) and returns how many. Cost is
    /// proportional to what expired, not to the store's size: an index orders entries by expiry.
    @discardableResult
    public func sweepExpired(limit: Int = .max) throws(SealKVError) -> Int {
        try ensureOpen()
        // Collect first, then change: the index is read in order up to the first live expiry.
        var due: [(indexKey: [UInt8], entry: ExpiryIndexKey)] = []
        let cursor = Cursor(transaction: self, tree: .expiry)
        var more = try cursor.first()
        while more, due.count < limit, let ik = cursor.key, let expiry = ExpiryIndexKey.expiry(of: ik) {
            if expiry > now { break }
            guard let entry = ExpiryIndexKey(decoding: ik) else {
                throw SealKVError(.corrupted, "the expiry index holds a malformed entry; run `sealkv check`.")
            }
            due.append((ik, entry))
            more = try cursor.next()
        }
        var deleted = 0
        for item in due {
            try mutating { () throws(SealKVError) in
                _ = try item.indexKey.withBytes { (ik) throws(SealKVError) in try mutate(.expiry) { (m) throws(SealKVError) in try m.delete(ik) } }
                // The index may be stale (entry overwritten without a TTL, or its namespace dropped):
                // delete the entry only if it still carries this expiry.
                let tree = TreeID(namespace: item.entry.namespace)
                guard let t = try descriptor(of: tree) else { return }
                let current = try item.entry.key.withBytes { (k) throws(SealKVError) -> UInt64? in try TreeReader(t, in: pages).storedExpiry(of: k) }
                guard current == item.entry.expiry else { return }
                _ = try item.entry.key.withBytes { (k) throws(SealKVError) in
                    let removed = try mutate(tree) { (m) throws(SealKVError) in try m.delete(k) }
                    if removed != nil { changeLog?.recordSet(namespace: item.entry.namespace, key: k, value: nil) }
                }
                deleted += 1
            }
        }
        return deleted
    }
}
