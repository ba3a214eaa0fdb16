/// What a put or delete found at the key before changing it.
struct ReplacedEntry {
    /// The old entry's expiry (Unix milliseconds), if it had a time to live.
    var expiry: UInt64?
}

/// Changes one tree: it borrows the tree's descriptor and a ``WriteSpace`` (for copy-on-write and
/// new pages), and hands the changed descriptor back in ``tree``.
///
/// Every change starts with one descent that copies the path from the root (``writablePath(choosing:)``);
/// a node that overflows is split (``place(_:kind:at:path:appended:)``), one that falls below a
/// quarter full is merged with or evened out with a sibling (``rebalance(_:path:)``), and both take
/// their separator from ``split(_:at:kind:)``. In debug builds every node is checked against
/// ``NodeInvariants`` after it changes.
struct TreeMutator {
    let pages: WriteSpace
    /// The tree being changed; read it back after the change.
    var tree: TreeDescriptor
    let leafKind: PageKind

    init(_ tree: TreeDescriptor, leafKind: PageKind = .leaf, in pages: WriteSpace) {
        self.tree = tree
        self.leafKind = leafKind
        self.pages = pages
    }

    private var txnID: UInt64 { pages.txnID }

    /// One level of the path from the root to a leaf, with the child chosen there.
    struct PathStep {
        var page: UInt64
        var pointer: UnsafeMutableRawPointer
        var index: Int
    }

    /// The leaf a descent ends in, made writable, with the (writable) path above it.
    struct WritableLeaf {
        var page: UInt64
        var pointer: UnsafeMutableRawPointer
        var path: [PathStep]
        var node: NodePage { NodePage(pointer) }
    }

    // MARK: Put and delete

    /// Inserts or replaces `key` with an optional expiry (Unix milliseconds). Returns what was
    /// there before, or nil if the key is new.
    @discardableResult
    mutating func put(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, expiry: UInt64? = nil) throws(SealKVError) -> ReplacedEntry? {
        let inlineSize = FileFormat.leafCellHeader + key.count + (expiry == nil ? 0 : FileFormat.expirySize) + value.count + 2
        let cell = inlineSize <= FileFormat.maxCellWithSlot
            ? NodeBuilder.leafCell(key: key, value: value, expiry: expiry)
            : NodeBuilder.overflowCell(key: key, length: UInt64(value.count), first: OverflowChain.write(value, into: pages), expiry: expiry)

        if tree.root.isNone {
            let (page, p) = pages.allocate()
            build(p, kind: leafKind, cells: [cell][...])
            tree = TreeDescriptor(root: pages.link(toDirty: page), entries: 1, depth: 1)
            return nil
        }
        var leaf = try writablePath { $0.childIndex(for: key) }
        let (i, found) = leaf.node.search(key)
        var replaced: ReplacedEntry? = nil
        if found {
            replaced = ReplacedEntry(expiry: leaf.node.expiry(i))
            try removeEntry(i, of: leaf.node)
        } else {
            tree.entries += 1
        }
        if cell.withUnsafeBytes({ leaf.node.insertInPlace($0, at: i) }) {
            checkInvariants(leaf.pointer)
        } else {
            var cells = NodeBuilder.cells(of: leaf.node)
            cells.insert(cell, at: i)
            let appended = i == leaf.node.count && leaf.path.allSatisfy { NodePage($0.pointer).count - 1 == $0.index }
            place(cells, kind: leafKind, at: (leaf.page, leaf.pointer), path: &leaf.path, appended: appended)
        }
        return replaced
    }

    /// Removes `key`. Returns what was there, or nil (changing no page) if the key was absent.
    @discardableResult
    mutating func delete(_ key: UnsafeRawBufferPointer) throws(SealKVError) -> ReplacedEntry? {
        // Look first, so deleting an absent key changes no page.
        guard try TreeReader(tree, in: pages).containsStored(key) else { return nil }
        var leaf = try writablePath { $0.childIndex(for: key) }
        let (i, found) = leaf.node.search(key)
        guard found else { throw SealKVError.corrupted(page: leaf.page, "lost a key between lookup and delete") }
        let removed = ReplacedEntry(expiry: leaf.node.expiry(i))
        try removeEntry(i, of: leaf.node)
        tree.entries -= 1
        checkInvariants(leaf.pointer)
        try rebalance((leaf.page, leaf.pointer), path: &leaf.path)
        return removed
    }

    /// Removes leaf entry `i`, releasing its overflow chain.
    private func removeEntry(_ i: Int, of leaf: NodePage) throws(SealKVError) {
        if leaf.isOverflow(i) {
            let ref = leaf.overflowRef(i)
            try OverflowChain.free(first: ref.link, length: ref.length, in: pages)
        }
        leaf.remove(at: i)
    }

    // MARK: The one descent

    /// Copies (on write) every page from the root to the leaf that `choose` picks at each branch,
    /// pointing each parent at its child's copy. The tree must not be empty.
    mutating func writablePath(choosing choose: (NodePage) -> Int) throws(SealKVError) -> WritableLeaf {
        var path: [PathStep] = []
        path.reserveCapacity(Int(tree.depth))
        var (page, p) = try pages.touch(tree.root)
        tree.root = pages.link(toDirty: page)
        for _ in 1..<Int(tree.depth) {
            let node = NodePage(p)
            guard node.kind == .branch else { throw SealKVError.corrupted(page: page, "is not a branch, but the tree's depth says it must be") }
            let i = choose(node)
            let (childPage, childPointer) = try pages.touch(node.child(i))
            node.setChild(i, pages.link(toDirty: childPage))
            path.append(PathStep(page: page, pointer: p, index: i))
            (page, p) = (childPage, childPointer)
        }
        guard NodePage(p).isLeaf else { throw SealKVError.corrupted(page: page, "is not a leaf, but the tree's depth says it must be") }
        return WritableLeaf(page: page, pointer: p, path: path)
    }

    /// Copies-on-write the path to the last leaf, so later inserts of larger keys free no committed
    /// page (used while the free list itself is written).
    mutating func touchRightmostPath() throws(SealKVError) {
        guard !tree.root.isNone else { return }
        _ = try writablePath { $0.count - 1 }
    }

    // MARK: Splits

    /// Writes `cells` into the node `at`; when they do not fit, splits it in two and inserts the
    /// separator into the parent, splitting upward as needed. Returns true if a split happened.
    @discardableResult
    private mutating func place(_ cells: [[UInt8]], kind: PageKind, at node: (page: UInt64, pointer: UnsafeMutableRawPointer),
                                path: inout [PathStep], appended: Bool = false) -> Bool {
        if NodeBuilder.size(of: cells[...]) <= FileFormat.nodeUsable {
            build(node.pointer, kind: kind, cells: cells[...])
            return false
        }
        let m = Self.chooseSplit(cells, leaf: kind.isLeaf, appended: appended && kind.isLeaf)
        let (left, right, separator) = Self.split(cells, at: m, kind: kind)
        let (rightPage, rightPointer) = pages.allocate()
        build(node.pointer, kind: kind, cells: left)
        build(rightPointer, kind: kind, cells: right[...])
        let separatorCell = separator.withUnsafeBytes { NodeBuilder.branchCell(key: $0, child: pages.link(toDirty: rightPage)) }

        guard let parent = path.popLast() else {
            let (rootPage, rootPointer) = pages.allocate()
            let leftCell = NodeBuilder.branchCell(key: UnsafeRawBufferPointer(start: nil, count: 0), child: pages.link(toDirty: node.page))
            build(rootPointer, kind: .branch, cells: [leftCell, separatorCell][...])
            tree.root = pages.link(toDirty: rootPage)
            tree.depth += 1
            return true
        }
        insert(separatorCell, at: parent.index + 1, into: parent, path: &path)
        return true
    }

    /// Inserts a branch cell into the parent `step`, in place if it fits, else by rebuilding and
    /// splitting it. Returns true if the parent split.
    @discardableResult
    private mutating func insert(_ cell: [UInt8], at index: Int, into step: PathStep, path: inout [PathStep]) -> Bool {
        let parentNode = NodePage(step.pointer)
        if cell.withUnsafeBytes({ parentNode.insertInPlace($0, at: index) }) {
            checkInvariants(step.pointer)
            return false
        }
        var parentCells = NodeBuilder.cells(of: parentNode)
        parentCells.insert(cell, at: index)
        return place(parentCells, kind: .branch, at: (step.page, step.pointer), path: &path)
    }

    /// The one separator function: splits `cells` before index `m` into a left and a right node
    /// and the key that separates them in the parent. A leaf split pushes up the shortest prefix
    /// of the right node's first key that sorts after the left node's last (suffix truncation:
    /// shorter separators mean wider branches); a branch split pushes up the right node's first
    /// key, which then stands as −∞ in the right node.
    static func split(_ cells: [[UInt8]], at m: Int, kind: PageKind) -> (left: ArraySlice<[UInt8]>, right: [[UInt8]], separator: [UInt8]) {
        var right = Array(cells[m...])
        let separator: [UInt8]
        if kind.isLeaf {
            separator = shortestSeparator(after: NodeBuilder.key(ofCell: cells[m - 1], leaf: true),
                                          upTo: NodeBuilder.key(ofCell: right[0], leaf: true))
        } else {
            separator = NodeBuilder.key(ofCell: right[0], leaf: false)
            right[0] = NodeBuilder.branchCell(key: UnsafeRawBufferPointer(start: nil, count: 0), child: NodeBuilder.child(ofBranchCell: right[0]))
        }
        return (cells[..<m], right, separator)
    }

    /// Where to split an overfull list of cells: both halves must fit a page, a leaf half needs one
    /// entry and a branch half two children. Prefers the most even split by bytes, or, for an
    /// append at the end of the tree, keeping the left page full.
    static func chooseSplit(_ cells: [[UInt8]], leaf: Bool, appended: Bool) -> Int {
        let n = cells.count
        let minSide = leaf ? 1 : 2
        var prefix = [0]
        for c in cells { prefix.append(prefix.last! + c.count + 2) }
        let total = prefix[n]
        func fits(_ m: Int) -> Bool {
            m >= minSide && n - m >= minSide && prefix[m] <= FileFormat.nodeUsable && total - prefix[m] <= FileFormat.nodeUsable
        }
        if appended && fits(n - 1) { return n - 1 }
        var best = -1
        for m in minSide...max(minSide, n - minSide) where fits(m) {
            if best < 0 || abs(2 * prefix[m] - total) < abs(2 * prefix[best] - total) { best = m }
        }
        precondition(best > 0, "no valid split of \(n) cells (\(total) bytes)")
        return best
    }

    /// The shortest prefix of `upper` that sorts after `lower`.
    static func shortestSeparator(after lower: [UInt8], upTo upper: [UInt8]) -> [UInt8] {
        var n = 1
        while n < upper.count {
            let prefix = upper[..<n]
            if prefix.lexicographicallyPrecedes(lower) == false && !prefix.elementsEqual(lower) { return Array(prefix) }
            n += 1
        }
        return upper
    }

    // MARK: Merges

    /// Restores fill after a removal: merges an underfull node into a sibling, or evens the two
    /// out, and continues upward; collapses a root left with one child or no entries.
    private mutating func rebalance(_ node: (page: UInt64, pointer: UnsafeMutableRawPointer), path: inout [PathStep]) throws(SealKVError) {
        let current = NodePage(node.pointer)
        guard let parent = path.last else {
            if current.isLeaf && current.count == 0 {
                pages.release(node.page)
                tree.root = .none
                tree.depth = 0
            } else if !current.isLeaf && current.count == 1 {
                let only = current.child(0)
                pages.release(node.page)
                tree.root = only
                tree.depth -= 1
            }
            return
        }
        guard current.usedBytes < FileFormat.minFill else { return }
        let parentNode = NodePage(parent.pointer)
        guard parentNode.count >= 2 else { return }
        let siblingIndex = parent.index > 0 ? parent.index - 1 : parent.index + 1
        let sibling = try pages.touch(parentNode.child(siblingIndex))
        parentNode.setChild(siblingIndex, pages.link(toDirty: sibling.page))

        let leftIndex = min(parent.index, siblingIndex)
        let rightIndex = leftIndex + 1
        let left = leftIndex == parent.index ? node : sibling
        let right = leftIndex == parent.index ? sibling : node
        let kind = current.kind!
        var combined = NodeBuilder.cells(of: NodePage(left.pointer))
        var rightCells = NodeBuilder.cells(of: NodePage(right.pointer))
        if !kind.isLeaf {
            // The parent's separator comes down as the key of the right node's first child.
            rightCells[0] = NodeBuilder.branchCell(key: parentNode.key(rightIndex), child: NodePage(right.pointer).child(0))
        }
        combined.append(contentsOf: rightCells)
        path.removeLast()

        if NodeBuilder.size(of: combined[...]) <= FileFormat.nodeUsable {
            build(left.pointer, kind: kind, cells: combined[...])
            pages.release(right.page)
            parentNode.remove(at: rightIndex)
            checkInvariants(parent.pointer)
            try rebalance((parent.page, parent.pointer), path: &path)
            return
        }
        // Too much for one page: split the combined entries evenly and replace the separator.
        let m = Self.chooseSplit(combined, leaf: kind.isLeaf, appended: false)
        let (leftCells, newRight, separator) = Self.split(combined, at: m, kind: kind)
        build(left.pointer, kind: kind, cells: leftCells)
        build(right.pointer, kind: kind, cells: newRight[...])
        parentNode.remove(at: rightIndex)
        let separatorCell = separator.withUnsafeBytes { NodeBuilder.branchCell(key: $0, child: pages.link(toDirty: right.page)) }
        if insert(separatorCell, at: rightIndex, into: parent, path: &path) { return }
        try rebalance((parent.page, parent.pointer), path: &path)
    }

    // MARK: Whole-tree changes

    /// Copies every page numbered `limit` or higher (and the path above it) to a newly allocated
    /// page, so the end of the file can be cut. Reads only branch pages.
    mutating func relocatePages(atOrAbove limit: UInt64) throws(SealKVError) {
        guard !tree.root.isNone else { return }
        if let moved = try relocate(tree.root, level: Int(tree.depth), limit: limit) { tree.root = moved }
    }

    private func relocate(_ link: PageLink, level: Int, limit: UInt64) throws(SealKVError) -> PageLink? {
        if level <= 1 {
            guard link.page >= limit, link.txnID != txnID else { return nil }
            return pages.link(toDirty: try pages.touch(link).page)
        }
        let children = try childLinks(of: link)
        var moved: [(Int, PageLink)] = []
        for (i, child) in children.enumerated() {
            if let m = try relocate(child, level: level - 1, limit: limit) { moved.append((i, m)) }
        }
        guard !moved.isEmpty || (link.page >= limit && link.txnID != txnID) else { return nil }
        let (page, p) = try pages.touch(link)
        let node = NodePage(p)
        for (i, m) in moved { node.setChild(i, m) }
        return pages.link(toDirty: page)
    }

    /// Releases every page of the tree and of its overflow chains (dropping a namespace).
    func releaseAll() throws(SealKVError) {
        guard !tree.root.isNone else { return }
        var stack = [(tree.root, Int(tree.depth))]
        while let (link, level) = stack.popLast() {
            if level > 1 {
                stack.append(contentsOf: try childLinks(of: link).map { ($0, level - 1) })
            } else {
                let chains = try pages.withPage(link) { (p) throws(SealKVError) -> [(PageLink, UInt64)] in
                    let node = NodePage(p)
                    return (0..<node.count).filter { node.isOverflow($0) }.map { (node.overflowRef($0).link, node.overflowRef($0).length) }
                }
                for (first, length) in chains { try OverflowChain.free(first: first, length: length, in: pages) }
            }
            pages.release(link.page)
        }
    }

    /// The child links of the branch `link` names.
    func childLinks(of link: PageLink) throws(SealKVError) -> [PageLink] {
        try pages.withPage(link) { (p) throws(SealKVError) -> [PageLink] in
            let node = NodePage(p)
            guard node.kind == .branch else { throw SealKVError.corrupted(page: link.page, "is not a branch, but the tree's depth says it must be") }
            return (0..<node.count).map { node.child($0) }
        }
    }

    // MARK: Node changes

    /// Rebuilds the node at `p` from `cells`, then checks it in debug builds.
    private func build(_ p: UnsafeMutableRawPointer, kind: PageKind, cells: ArraySlice<[UInt8]>) {
        NodeBuilder.build(p, kind: kind, txnID: txnID, cells: cells)
        checkInvariants(p)
    }

    /// In debug builds, stops at once when a change leaves a node that breaks an invariant.
    @inline(__always)
    private func checkInvariants(_ p: UnsafeMutableRawPointer) {
        #if DEBUG
        if let problem = NodeInvariants.problem(in: NodePage(p)) {
            preconditionFailure("a tree change broke a node invariant: \(problem)")
        }
        #endif
    }
}
