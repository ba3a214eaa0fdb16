/// A position in one namespace's ordered keys, valid inside its transaction.
///
/// Moves with ``first()``, ``last()``, ``seek(to:)``, ``next()`` and ``previous()``; each returns
/// whether the cursor now rests on an entry. The cursor keeps a private copy of the current leaf,
/// so stepping within a leaf touches no lock. In a write transaction the cursor notices changes made
/// since it last moved and re-finds its place by key.
public final class Cursor {
    private struct Frame {
        var link: PageLink
        var index: Int
        var count: Int
    }

    /// Internal names for the trees that are not namespaces (NUL cannot start a namespace name).
    static let freeTreeNamespace = "\u{0}free"
    static let catalogNamespace = "\u{0}catalog"
    static let expiryNamespace = "\u{0}expiry"

    let transaction: Transaction
    let namespace: String
    private var stack: [Frame] = []
    private let leaf: UnsafeMutableRawPointer
    private var leafIndex = 0
    private var positioned = false
    private var seenVersion: Int

    init(transaction: Transaction, namespace: String) {
        self.transaction = transaction
        self.namespace = namespace
        leaf = transaction.pager.buffers.take()
        seenVersion = transaction.version
    }

    deinit { transaction.pager.buffers.give(leaf) }

    private var node: NodePage { NodePage(leaf) }

    private func tree() throws(SealKVError) -> TreeDescriptor {
        try transaction.ensureOpen()
        guard let t = try transaction.tree(named: namespace) else {
            throw SealKVError(.namespaceNotFound, "namespace '\(namespace)' does not exist (it was dropped).")
        }
        return t
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
        return try transaction.value(at: currentLocation())
    }

    /// When the entry under the cursor expires, as stored (Unix time in milliseconds); nil if it has
    /// no time to live or the cursor rests on no entry.
    public var expiration: UInt64? {
        transaction.requireOpen("a cursor")
        return positioned ? node.expiry(leafIndex) : nil
    }
    var currentExpiry: UInt64? { expiration }

    func currentLocation() -> ValueLocation {
        let n = node
        if n.isOverflow(leafIndex) {
            let ref = n.overflowRef(leafIndex)
            return .overflow(length: ref.length, first: ref.link)
        }
        return .inline(Array(n.inlineValue(leafIndex)))
    }

    /// Calls `body` with the raw key and inline value bytes under the cursor without copying them;
    /// overflow values are assembled first. The buffers are valid only inside `body`.
    func withEntry<R>(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> R) throws -> R? {
        guard positioned else { return nil }
        let n = node
        if n.isOverflow(leafIndex) {
            let v = try transaction.value(at: currentLocation())
            return try v.withUnsafeBytes { try body(n.key(leafIndex), $0) }
        }
        return try body(n.key(leafIndex), n.inlineValue(leafIndex))
    }

    /// Moves to the first entry. Returns false if the namespace is empty.
    @discardableResult
    public func first() throws(SealKVError) -> Bool {
        try skipExpired(try descendEdge(tree(), leftmost: true), forward: true)
    }

    /// Moves to the last entry. Returns false if the namespace is empty.
    @discardableResult
    public func last() throws(SealKVError) -> Bool {
        try skipExpired(try descendEdge(tree(), leftmost: false), forward: false)
    }

    /// Moves to the first entry whose key is at least `key`. Returns false if there is none.
    @discardableResult
    public func seek<K: ByteString>(to key: K) throws(SealKVError) -> Bool {
        try skipExpired(try key.withBytes { (k) throws(SealKVError) -> Bool in try seek(raw: k) }, forward: true)
    }

    /// Moves to the next entry. Returns false (and rests on nothing) past the last one.
    @discardableResult
    public func next() throws(SealKVError) -> Bool {
        try skipExpired(try rawNext(), forward: true)
    }

    /// Moves to the previous entry. Returns false (and rests on nothing) before the first one.
    @discardableResult
    public func previous() throws(SealKVError) -> Bool {
        try skipExpired(try rawPrevious(), forward: false)
    }

    /// Entries whose time to live has run out are invisible: step over them.
    private func skipExpired(_ positioned: Bool, forward: Bool) throws(SealKVError) -> Bool {
        var on = positioned
        while on && node.isLeaf && node.kind == .leaf && node.isExpired(leafIndex, now: transaction.now) {
            on = forward ? try rawNext() : try rawPrevious()
        }
        return on
    }

    private func rawNext() throws(SealKVError) -> Bool {
        try transaction.ensureOpen()
        guard positioned else { return false }
        if transaction.version != seenVersion {
            let current = Array(node.key(leafIndex))
            let exact = try current.withBytes { (k) throws(SealKVError) -> Bool in
                guard try seek(raw: k) else { return false }
                return compareBytes(node.key(leafIndex), k) == 0
            }
            if !positioned || !exact { return positioned }
        }
        leafIndex += 1
        if leafIndex < node.count { return true }
        return try stepLeaf(forward: true)
    }

    private func rawPrevious() throws(SealKVError) -> Bool {
        try transaction.ensureOpen()
        guard positioned else { return false }
        if transaction.version != seenVersion {
            let current = Array(node.key(leafIndex))
            let found = try current.withBytes { (k) throws(SealKVError) -> Bool in try seek(raw: k) }
            if !found { return try last() }
        }
        leafIndex -= 1
        if leafIndex >= 0 { return true }
        return try stepLeaf(forward: false)
    }

    func seek(raw key: UnsafeRawBufferPointer) throws(SealKVError) -> Bool {
        let t = try tree()
        stack.removeAll(keepingCapacity: true)
        seenVersion = transaction.version
        positioned = false
        guard !t.root.isNone else { return false }
        var link = t.root
        for _ in 1..<max(1, Int(t.depth)) {
            let frame = try branchFrame(link) { n in n.childIndex(for: key) }
            stack.append(frame)
            link = try childLink(of: frame)
        }
        try loadLeaf(link)
        leafIndex = node.search(key).index
        positioned = true
        if leafIndex < node.count { return true }
        return try stepLeaf(forward: true)
    }

    private func refreshIfStale() throws(SealKVError) {
        guard transaction.version != seenVersion, positioned else { return }
        let current = Array(node.key(leafIndex))
        _ = try current.withBytes { (k) throws(SealKVError) -> Bool in try seek(raw: k) }
    }

    private func descendEdge(_ t: TreeDescriptor, leftmost: Bool) throws(SealKVError) -> Bool {
        stack.removeAll(keepingCapacity: true)
        seenVersion = transaction.version
        positioned = false
        guard !t.root.isNone else { return false }
        try descendEdge(from: t.root, levels: Int(t.depth) - 1, leftmost: leftmost)
        positioned = true
        if node.count == 0 { return try stepLeaf(forward: leftmost) }
        return true
    }

    private func descendEdge(from start: PageLink, levels: Int, leftmost: Bool) throws(SealKVError) {
        var link = start
        for _ in 0..<levels {
            let frame = try branchFrame(link) { n in leftmost ? 0 : n.count - 1 }
            stack.append(frame)
            link = try childLink(of: frame)
        }
        try loadLeaf(link)
        leafIndex = leftmost ? 0 : node.count - 1
    }

    private func stepLeaf(forward: Bool) throws(SealKVError) -> Bool {
        while let top = stack.last, forward ? top.index + 1 >= top.count : top.index == 0 {
            stack.removeLast()
        }
        guard !stack.isEmpty else {
            positioned = false
            return false
        }
        stack[stack.count - 1].index += forward ? 1 : -1
        let levelsBelow = try tree().depth - UInt32(stack.count) - 1
        if levelsBelow == 0 { try readAhead(from: stack[stack.count - 1], forward: forward) }
        let child = try childLink(of: stack[stack.count - 1])
        try descendEdge(from: child, levels: Int(levelsBelow), leftmost: forward)
        positioned = true
        if node.count == 0 { return try stepLeaf(forward: forward) }
        return true
    }

    /// When the leaf a scan steps to is not cached, reads it and the leaves after it (in the
    /// direction of travel, under the same parent) in one batch, as ``Options/scanReadAhead`` says.
    private func readAhead(from frame: Frame, forward: Bool) throws(SealKVError) {
        let pager = transaction.pager
        let limit = min(transaction.database.options.scanReadAhead, pager.cache.capacity / 4)
        guard limit > 1 else { return }
        let writer = transaction.writeTxnID
        // The page's body runs under a cache lock: only copy the links out there.
        let links = try transaction.withPage(frame.link) { (p) throws(SealKVError) -> [PageLink] in
            let n = NodePage(p)
            var out: [PageLink] = []
            var i = frame.index
            while out.count < limit, i >= 0, i < n.count {
                out.append(n.child(i))
                i += forward ? 1 : -1
            }
            return out
        }
        // Only when the leaf it steps to must come from storage; the writer's own pages never do.
        guard let next = links.first, next.txnID != writer, !pager.cache.contains(next) else { return }
        pager.prefetch(links.filter { $0.txnID != writer })
    }

    private func branchFrame(_ link: PageLink, choose: (NodePage) -> Int) throws(SealKVError) -> Frame {
        try transaction.withPage(link) { (p) throws(SealKVError) -> Frame in
            let n = NodePage(p)
            guard n.kind == .branch else {
                throw SealKVError.corrupted(page: link.page, "is not a branch, but the tree's depth says it must be")
            }
            return Frame(link: link, index: choose(n), count: n.count)
        }
    }

    private func childLink(of frame: Frame) throws(SealKVError) -> PageLink {
        try transaction.withPage(frame.link) { (p) throws(SealKVError) -> PageLink in
            let n = NodePage(p)
            guard frame.index >= 0, frame.index < n.count else {
                throw SealKVError.corrupted(page: frame.link.page, "changed shape while a cursor was on it")
            }
            return n.child(frame.index)
        }
    }

    private func loadLeaf(_ link: PageLink) throws(SealKVError) {
        let dest = leaf
        try transaction.withPage(link) { (p) throws(SealKVError) in
            guard NodePage(p).isLeaf else {
                throw SealKVError.corrupted(page: link.page, "is not a leaf, but the tree's depth says it must be")
            }
            dest.copyMemory(from: p, byteCount: FileFormat.pageSize)
        }
    }
}
