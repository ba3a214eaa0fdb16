/// Where a value lives once its key is found.
enum ValueLocation {
    case inline([UInt8])
    case overflow(length: UInt64, first: PageLink)
}

/// Where a read that copies inline values into the caller's buffer found a value.
enum FoundValue {
    /// Copied into the caller's buffer: this many bytes.
    case copied(count: Int)
    /// Not copied: an overflow chain (or an inline value too long for the buffer).
    case elsewhere(ValueLocation)
}

/// Reads one tree through a ``PageSpace``: it borrows the tree's descriptor and the pages, and
/// knows nothing of transactions.
struct TreeReader {
    let tree: TreeDescriptor
    let pages: PageSpace

    init(_ tree: TreeDescriptor, in pages: PageSpace) {
        self.tree = tree
        self.pages = pages
    }

    /// Descends to the leaf that holds or would hold `key` and runs `body` on it with the search
    /// result (under a cache lock when the leaf is cached: `body` must be short). Checks on the way
    /// that branches sit above leaves at exactly the descriptor's depth. Nil for an empty tree.
    func descend<R>(to key: UnsafeRawBufferPointer,
                    _ body: (NodePage, _ index: Int, _ found: Bool) throws(SealKVError) -> R) throws(SealKVError) -> R? {
        guard !tree.root.isNone else { return nil }
        guard tree.depth >= 1, tree.depth <= 64 else {
            throw SealKVError.corrupted(page: tree.root.page, "is the root of a tree with impossible depth \(tree.depth)")
        }
        var link = tree.root
        for _ in 1..<Int(tree.depth) {
            link = try pages.withPage(link) { (p) throws(SealKVError) -> PageLink in
                let node = NodePage(p)
                guard node.kind == .branch else {
                    throw SealKVError.corrupted(page: link.page, "is a \(node.isLeaf ? "leaf" : "non-node page") where a branch was expected")
                }
                return node.child(node.childIndex(for: key))
            }
        }
        let leafLink = link
        return try pages.withPage(leafLink) { (p) throws(SealKVError) -> R in
            let node = NodePage(p)
            guard node.isLeaf else {
                throw SealKVError.corrupted(page: leafLink.page, "is not a leaf, but the tree's depth says it must be")
            }
            let (i, found) = node.search(key)
            return try body(node, i, found)
        }
    }

    /// Finds `key`; an entry expired at `now` (Unix milliseconds, read only if needed) is absent.
    func locate(_ key: UnsafeRawBufferPointer, now: () -> UInt64) throws(SealKVError) -> ValueLocation? {
        let found = try descend(to: key) { (node, i, found) throws(SealKVError) -> ValueLocation? in
            guard found, !node.isExpired(i, now: now()) else { return nil }
            return Self.location(in: node, at: i)
        }
        return found ?? nil
    }

    /// Finds `key` and copies an inline value into `buffer` (under the cache lock, which the
    /// caller's use of the bytes must not run under); for a value in overflow pages, says where it is.
    func findValue(_ key: UnsafeRawBufferPointer, copyingInto buffer: UnsafeMutableRawBufferPointer,
                   now: () -> UInt64) throws(SealKVError) -> FoundValue? {
        let found = try descend(to: key) { (node, i, found) throws(SealKVError) -> FoundValue? in
            guard found, !node.isExpired(i, now: now()) else { return nil }
            if node.isOverflow(i) { return .elsewhere(Self.location(in: node, at: i)) }
            let value = node.inlineValue(i)
            guard value.count <= buffer.count else { return .elsewhere(.inline(Array(value))) }
            buffer.copyMemory(from: value)
            return .copied(count: value.count)
        }
        return found ?? nil
    }

    /// The stored expiry of `key` (Unix milliseconds), whether or not it has passed; nil if the key
    /// is absent or has no time to live.
    func storedExpiry(of key: UnsafeRawBufferPointer) throws(SealKVError) -> UInt64? {
        let found = try descend(to: key) { (node, i, found) throws(SealKVError) -> UInt64? in found ? node.expiry(i) : nil }
        return found ?? nil
    }

    /// Whether `key` has an entry, expired or not.
    func containsStored(_ key: UnsafeRawBufferPointer) throws(SealKVError) -> Bool {
        try descend(to: key) { (_, _, found) throws(SealKVError) in found } ?? false
    }

    /// Where the value of leaf entry `i` lives.
    static func location(in node: NodePage, at i: Int) -> ValueLocation {
        if node.isOverflow(i) {
            let ref = node.overflowRef(i)
            return .overflow(length: ref.length, first: ref.link)
        }
        return .inline(Array(node.inlineValue(i)))
    }

    /// The value at `location`, assembling overflow chains.
    static func value(at location: ValueLocation, in pages: PageSpace) throws(SealKVError) -> [UInt8] {
        switch location {
        case .inline(let bytes): return bytes
        case .overflow(let length, let first): return try OverflowChain.read(first: first, length: length, from: pages)
        }
    }
}
