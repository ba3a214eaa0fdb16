extension WriteTransaction {
    /// Stores `value` at `key` in the default namespace, replacing any previous value.
    ///
    /// - Throws: `emptyKey`, `keyTooLarge`, `valueTooLarge`, or an I/O or corruption error (which
    ///   also makes the transaction roll back when its closure returns).
    public func put<K: ByteString, V: ByteString>(_ key: K, _ value: V) throws(SealKVError) {
        try put(key, value, namespace: "")
    }

    /// Removes `key` from the default namespace. Returns whether it was present.
    @discardableResult
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
            try freeTree(t)
            namedTrees[name] = nil
            changedNamespaces.remove(name)
            droppedNamespaces.insert(name)
            version &+= 1
        }
        return true
    }

    func put<K: ByteString, V: ByteString>(_ key: K, _ value: V, namespace: String) throws(SealKVError) {
        try ensureOpen()
        try key.withBytes { (k) throws(SealKVError) in
            try value.withBytes { (v) throws(SealKVError) in
                try Namespace.validateKey(k)
                try Namespace.validateValue(v)
                try mutating { () throws(SealKVError) in
                    if namespace.isEmpty {
                        try treePut(&mainTree, leafKind: .leaf, key: k, value: v)
                    } else {
                        var t = try tree(named: namespace) ?? .empty
                        try treePut(&t, leafKind: .leaf, key: k, value: v)
                        namedTrees[namespace] = t
                        changedNamespaces.insert(namespace)
                        droppedNamespaces.remove(namespace)
                    }
                }
            }
        }
    }

    func delete<K: ByteString>(_ key: K, namespace: String) throws(SealKVError) -> Bool {
        try ensureOpen()
        return try key.withBytes { (k) throws(SealKVError) -> Bool in
            try Namespace.validateKey(k)
            return try mutating { () throws(SealKVError) -> Bool in
                if namespace.isEmpty { return try treeDelete(&mainTree, key: k) }
                guard var t = try tree(named: namespace) else { return false }
                let removed = try treeDelete(&t, key: k)
                if removed {
                    namedTrees[namespace] = t
                    changedNamespaces.insert(namespace)
                }
                return removed
            }
        }
    }

    /// Runs a change; if it fails part-way the transaction can no longer commit, so the error is
    /// also kept and rethrown when the closure returns.
    func mutating<R>(_ change: () throws(SealKVError) -> R) throws(SealKVError) -> R {
        if let earlier = deferredError { throw earlier }
        do throws(SealKVError) {
            return try change()
        } catch {
            if deferredError == nil { deferredError = error }
            throw error
        }
    }
}
