/// A position among one tree's entries: the path of branches from the root, and a private copy
/// of the current leaf, so stepping within a leaf touches no lock. Navigation only: the public
/// ``Cursor`` adds what a transaction means (expired entries, changes made meanwhile).
///
/// Each move takes the tree's current descriptor, since a writer may change the tree between moves.
final class TreeCursor {
    private struct Frame {
        var link: PageLink
        var index: Int
        var count: Int
    }

    let pages: PageSpace
    /// Leaves read ahead in one batch when a scan steps to one that is not cached (0 or 1: none).
    let readAhead: Int
    private var stack: [Frame] = []
    private let leaf: UnsafeMutableRawPointer
    /// The entry of the current leaf the cursor rests on.
    private(set) var leafIndex = 0
    /// Whether the cursor rests on an entry.
    private(set) var positioned = false

    init(pages: PageSpace, readAhead: Int) {
        self.pages = pages
        self.readAhead = readAhead
        leaf = pages.pager.buffers.take()
    }

    deinit { pages.pager.buffers.give(leaf) }

    /// The current leaf (valid while ``positioned``).
    var node: NodePage { NodePage(leaf) }

    /// Moves to the first (`leftmost`) or last entry. Returns false if the tree is empty.
    func edge(of tree: TreeDescriptor, leftmost: Bool) throws(SealKVError) -> Bool {
        stack.removeAll(keepingCapacity: true)
        positioned = false
        guard !tree.root.isNone else { return false }
        try descendEdge(from: tree.root, levels: Int(tree.depth) - 1, leftmost: leftmost)
        positioned = true
        if node.count == 0 { return try stepLeaf(tree, forward: leftmost) }
        return true
    }

    /// Moves to the first entry whose key is at least `key`. Returns false if there is none.
    func seek(_ tree: TreeDescriptor, to key: UnsafeRawBufferPointer) throws(SealKVError) -> Bool {
        stack.removeAll(keepingCapacity: true)
        positioned = false
        guard !tree.root.isNone else { return false }
        var link = tree.root
        for _ in 1..<max(1, Int(tree.depth)) {
            let frame = try branchFrame(link) { n in n.childIndex(for: key) }
            stack.append(frame)
            link = try childLink(of: frame)
        }
        try loadLeaf(link)
        leafIndex = node.search(key).index
        positioned = true
        if leafIndex < node.count { return true }
        return try stepLeaf(tree, forward: true)
    }

    /// Moves one entry forward (or back). Returns false, resting on nothing, past the end.
    func step(_ tree: TreeDescriptor, forward: Bool) throws(SealKVError) -> Bool {
        guard positioned else { return false }
        leafIndex += forward ? 1 : -1
        if leafIndex >= 0 && leafIndex < node.count { return true }
        return try stepLeaf(tree, forward: forward)
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

    private func stepLeaf(_ tree: TreeDescriptor, forward: Bool) throws(SealKVError) -> Bool {
        while let top = stack.last, forward ? top.index + 1 >= top.count : top.index == 0 {
            stack.removeLast()
        }
        guard !stack.isEmpty else {
            positioned = false
            return false
        }
        stack[stack.count - 1].index += forward ? 1 : -1
        let levelsBelow = tree.depth - UInt32(stack.count) - 1
        if levelsBelow == 0 { try readAhead(from: stack[stack.count - 1], forward: forward) }
        let child = try childLink(of: stack[stack.count - 1])
        try descendEdge(from: child, levels: Int(levelsBelow), leftmost: forward)
        positioned = true
        if node.count == 0 { return try stepLeaf(tree, forward: forward) }
        return true
    }

    /// When the leaf a scan steps to is not cached, reads it and the leaves after it (in the
    /// direction of travel, under the same parent) in one batch.
    private func readAhead(from frame: Frame, forward: Bool) throws(SealKVError) {
        let pager = pages.pager
        let limit = min(readAhead, pager.cache.capacity / 4)
        guard limit > 1 else { return }
        let writer = pages.writeTxnID
        // The page's body runs under a cache lock: only copy the links out there.
        let links = try pages.withPage(frame.link) { (p) throws(SealKVError) -> [PageLink] in
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
        pager.prefetch(links.filter { $0.txnID != writer }, epochs: pages.epochs)
    }

    private func branchFrame(_ link: PageLink, choose: (NodePage) -> Int) throws(SealKVError) -> Frame {
        try pages.withPage(link) { (p) throws(SealKVError) -> Frame in
            let n = NodePage(p)
            guard n.kind == .branch else {
                throw SealKVError.corrupted(page: link.page, "is not a branch, but the tree's depth says it must be")
            }
            return Frame(link: link, index: choose(n), count: n.count)
        }
    }

    private func childLink(of frame: Frame) throws(SealKVError) -> PageLink {
        try pages.withPage(frame.link) { (p) throws(SealKVError) -> PageLink in
            let n = NodePage(p)
            guard frame.index >= 0, frame.index < n.count else {
                throw SealKVError.corrupted(page: frame.link.page, "changed shape while a cursor was on it")
            }
            return n.child(frame.index)
        }
    }

    private func loadLeaf(_ link: PageLink) throws(SealKVError) {
        let dest = leaf
        try pages.withPage(link) { (p) throws(SealKVError) in
            guard NodePage(p).isLeaf else {
                throw SealKVError.corrupted(page: link.page, "is not a leaf, but the tree's depth says it must be")
            }
            dest.copyMemory(from: p, byteCount: FileFormat.pageSize)
        }
    }
}
