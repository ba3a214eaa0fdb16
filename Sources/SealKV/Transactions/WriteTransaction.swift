/// A read-write transaction: sees its own changes, commits them atomically when its closure
/// returns, and rolls them back if the closure throws.
public final class WriteTransaction: ReadTransaction {
    /// High-water mark: pages at and above it are not in the file yet.
    var pageCount: UInt64
    /// Pages of the committed state this transaction stopped using; reusable once no snapshot
    /// that can reach them is live.
    var freed: [UInt64] = []
    /// Pages allocated in this transaction and freed again; reusable at once.
    var reusable: [UInt64] = []
    /// Free pages of earlier commits this transaction may take.
    var freeView: FreeListView
    /// Where new pages come from. While the free list itself is written, taking from it would
    /// change what is being written: chunks are rewritten with pages released in this commit or
    /// reserved for it, and this commit's own chunks are appended with reserved pages only (every
    /// released page is listed in them).
    enum Allocation { case normal, rewritingFreeList, appendingFreeList }
    var allocation = Allocation.normal
    /// Reusable pages set aside for writing the free list (largest last popped first: kept sorted
    /// descending so `popLast` hands out the lowest).
    var reserved: [UInt64] = []
    /// Pages cut off the end of the file by this commit, and the high-water mark before the cut.
    /// A cut page number must not be handed out again in the same commit: some of them are still
    /// reachable from the previous commit, which recovery needs until this one is durable.
    var trimmed: [UInt64] = []
    var highWaterBeforeTrim: UInt64?
    /// Whether the cut took pages this commit freed itself (allowed only with no reader alive).
    var cutOwnFreedPages = false
    /// Pages past the base's end that an older reader's snapshot still reaches (an earlier commit
    /// cut them, see ``Database/HeldTail``): new pages are appended above them, and this commit
    /// lists them as freed.
    private(set) var heldPages: Range<UInt64> = 0..<0
    /// The free-page tree (changed only at commit).
    var freeTree: TreeDescriptor
    /// Named namespaces created, changed or dropped in this transaction.
    var changedNamespaces: Set<String> = []
    /// The sealer this commit seals with (a rekey installs a new one).
    var commitSealer: PageSealer

    init(database: Database, base: CommitState, freeView: FreeListView) {
        pageCount = base.pageCount
        freeTree = base.free
        self.freeView = freeView
        commitSealer = database.pager.sealer
        super.init(database: database, base: base, writeTxnID: base.txnID + 1)
    }

    var txnID: UInt64 { writeTxnID }

    /// Keeps appends at or above `end` (see ``heldPages``).
    func holdTail(upTo end: UInt64) {
        guard end > pageCount else { return }
        heldPages = pageCount..<end
        pageCount = end
    }

    /// When this commit cut pages it freed itself: the end of the file before the cut, capped at
    /// the base's end (pages above it were never in an older snapshot).
    var cutPagesOlderSnapshotsReach: UInt64? {
        guard cutOwnFreedPages, let before = highWaterBeforeTrim else { return nil }
        return min(before, base.pageCount)
    }

    // MARK: Pages

    /// A fresh dirty page: reused in this transaction, taken from the free list, or appended.
    func allocate() -> (page: UInt64, pointer: UnsafeMutableRawPointer) {
        let number: UInt64
        if allocation != .appendingFreeList, let p = reusable.popLast() {
            number = p
        } else if allocation == .normal, let p = freeView.take() {
            number = p
        } else if allocation != .normal, let p = reserved.popLast() {
            number = p
        } else {
            if let before = highWaterBeforeTrim {
                // The end is needed after all: undo the cut, and list the cut pages as freed.
                pageCount = max(pageCount, before)
                freed.append(contentsOf: trimmed)
                trimmed.removeAll()
                highWaterBeforeTrim = nil
                cutOwnFreedPages = false
            }
            number = pageCount
            pageCount += 1
        }
        let buffer = pager.buffers.take()
        dirty[number] = buffer
        return (number, buffer)
    }

    /// Stops using `page`: a page dirtied in this transaction is reusable at once, a committed page
    /// joins this commit's freed list.
    func release(_ page: UInt64) {
        if let buffer = dirty.removeValue(forKey: page) {
            pager.buffers.give(buffer)
            reusable.append(page)
        } else if database.options.deliberateBugs.has(.reuseFreedPagesInSameCommit) {
            reusable.append(page)
        } else {
            freed.append(page)
        }
    }

    /// Makes the page `link` names writable: dirty pages are returned as they are; committed pages
    /// are copied to a new page (copy-on-write) and the old one is freed.
    func touch(_ link: PageLink) throws(SealKVError) -> (page: UInt64, pointer: UnsafeMutableRawPointer) {
        if link.txnID == txnID {
            guard let p = dirty[link.page] else {
                throw SealKVError(.corrupted, "internal error: page \(link.page) is linked as dirty but is not", page: link.page)
            }
            return (link.page, p)
        }
        // Allocating inside the page's closure copies the page once, straight into its new buffer.
        // `withPage` fails only before the closure runs, so a failure leaves nothing allocated.
        // (The closure may run under a cache shard lock; allocation takes only the buffer pool's.)
        let (number, buffer) = try withPage(link) { (p) throws(SealKVError) -> (UInt64, UnsafeMutableRawPointer) in
            let (number, buffer) = allocate()
            buffer.copyMemory(from: p, byteCount: FileFormat.pageSize)
            return (number, buffer)
        }
        buffer.setU64(FileFormat.nodeTxnID, txnID)
        release(link.page)
        return (number, buffer)
    }

    func dirtyLink(_ page: UInt64) -> PageLink { PageLink(page: page, txnID: txnID, tag: .zero) }

    // MARK: Overflow chains

    /// Writes `value` into a new overflow chain and returns the link to its first page.
    func writeOverflow(_ value: UnsafeRawBufferPointer) -> PageLink {
        let capacity = FileFormat.overflowCapacity
        let count = (value.count + capacity - 1) / capacity
        let pages = (0..<count).map { _ in allocate() }
        for (i, (page, p)) in pages.enumerated() {
            _ = page
            let start = i * capacity
            let n = min(capacity, value.count - start)
            p.setU8(FileFormat.nodeKind, PageKind.overflow.rawValue)
            p.setU32(FileFormat.overflowLength, UInt32(n))
            p.setU64(FileFormat.nodeTxnID, txnID)
            let next = i + 1 < count ? dirtyLink(pages[i + 1].page) : .none
            next.store(to: p, at: FileFormat.overflowNext)
            (p + FileFormat.overflowData).copyMemory(from: value.baseAddress! + start, byteCount: n)
        }
        return dirtyLink(pages[0].page)
    }

    /// Frees every page of an overflow chain (reading committed pages to follow their links).
    func freeOverflow(first: PageLink) throws(SealKVError) {
        var link = first
        var steps = 0
        while !link.isNone {
            let current = link
            link = try withPage(current) { (p) throws(SealKVError) -> PageLink in
                guard p.u8(FileFormat.nodeKind) == PageKind.overflow.rawValue else {
                    throw SealKVError.corrupted(page: current.page, "is not an overflow page but is linked from an overflow chain")
                }
                return PageLink(from: p, at: FileFormat.overflowNext)
            }
            release(current.page)
            steps += 1
            if steps > Limits.maxValueLength / FileFormat.overflowCapacity + 1 {
                throw SealKVError.corrupted(page: first.page, "starts an overflow chain that never ends")
            }
        }
    }

    /// Frees every page of a tree (for dropping a namespace).
    func freeTree(_ tree: TreeDescriptor) throws(SealKVError) {
        guard !tree.root.isNone else { return }
        var stack = [tree.root]
        while let link = stack.popLast() {
            let children = try withPage(link) { (p) throws(SealKVError) -> [PageLink] in
                PageStructure.links(in: p).map { $0.link }
            }
            let isOverflowRoot = try withPage(link) { (p) throws(SealKVError) -> Bool in p.u8(FileFormat.nodeKind) == PageKind.overflow.rawValue }
            if isOverflowRoot {
                try freeOverflow(first: link)
                continue
            }
            release(link.page)
            stack.append(contentsOf: children)
        }
    }
}

/// What a put or delete found at the key before changing it.
struct ReplacedEntry {
    /// The old entry's expiry (Unix milliseconds), if it had a time to live.
    var expiry: UInt64?
}

/// One level of the path from a root to a leaf, with the child chosen there.
struct PathStep {
    var page: UInt64
    var pointer: UnsafeMutableRawPointer
    var index: Int
}

// MARK: - Tree changes

extension WriteTransaction {
    /// Inserts or replaces `key` in `tree`, with an optional expiry (Unix milliseconds). Returns
    /// what was there before, or nil if the key is new.
    @discardableResult
    func treePut(_ tree: inout TreeDescriptor, leafKind: PageKind, key: UnsafeRawBufferPointer,
                 value: UnsafeRawBufferPointer, expiry: UInt64? = nil) throws(SealKVError) -> ReplacedEntry? {
        version &+= 1
        let inlineSize = FileFormat.leafCellHeader + key.count + (expiry == nil ? 0 : FileFormat.expirySize) + value.count + 2
        let cell: [UInt8]
        if inlineSize <= FileFormat.maxCellWithSlot {
            cell = NodeBuilder.leafCell(key: key, value: value, expiry: expiry)
        } else {
            cell = NodeBuilder.overflowCell(key: key, length: UInt64(value.count), first: writeOverflow(value), expiry: expiry)
        }

        if tree.root.isNone {
            let (page, p) = allocate()
            NodeBuilder.build(p, kind: leafKind, txnID: txnID, cells: [cell][...])
            tree = TreeDescriptor(root: dirtyLink(page), entries: 1, depth: 1)
            return nil
        }

        var path: [PathStep] = []
        var (page, p) = try touch(tree.root)
        tree.root = dirtyLink(page)
        for _ in 1..<Int(tree.depth) {
            let node = NodePage(p)
            guard node.kind == .branch else { throw SealKVError.corrupted(page: page, "is not a branch, but the tree's depth says it must be") }
            let i = node.childIndex(for: key)
            let (childPage, childPointer) = try touch(node.child(i))
            node.setChild(i, dirtyLink(childPage))
            path.append(PathStep(page: page, pointer: p, index: i))
            (page, p) = (childPage, childPointer)
        }
        let leaf = NodePage(p)
        guard leaf.isLeaf else { throw SealKVError.corrupted(page: page, "is not a leaf, but the tree's depth says it must be") }
        let (i, found) = leaf.search(key)
        var replaced: ReplacedEntry? = nil
        if found {
            replaced = ReplacedEntry(expiry: leaf.expiry(i))
            if leaf.isOverflow(i) { try freeOverflow(first: leaf.overflowRef(i).link) }
            leaf.remove(at: i)
        } else {
            tree.entries += 1
        }
        let fits = cell.withUnsafeBytes { leaf.insertInPlace($0, at: i) }
        if !fits {
            var cells = NodeBuilder.cells(of: leaf)
            cells.insert(cell, at: i)
            let rightmost = i == leaf.count && path.allSatisfy { NodePage($0.pointer).count - 1 == $0.index }
            placeCells(cells, kind: leafKind, page: page, pointer: p, path: &path, tree: &tree, appended: rightmost)
        }
        return replaced
    }

    /// Writes `cells` into the node at `page`; when they do not fit, splits it in two and inserts
    /// the separator into the parent, splitting upward as needed. Returns true if a split happened.
    @discardableResult
    func placeCells(_ cells: [[UInt8]], kind: PageKind, page: UInt64, pointer: UnsafeMutableRawPointer,
                    path: inout [PathStep], tree: inout TreeDescriptor, appended: Bool = false) -> Bool {
        if NodeBuilder.size(of: cells[...]) <= FileFormat.nodeUsable {
            NodeBuilder.build(pointer, kind: kind, txnID: txnID, cells: cells[...])
            return false
        }
        let split = Self.chooseSplit(cells, leaf: kind.isLeaf, appended: appended && kind.isLeaf)
        let left = cells[..<split]
        var right = Array(cells[split...])
        let separator: [UInt8]
        if kind.isLeaf {
            separator = Self.shortestSeparator(after: NodeBuilder.key(ofCell: left.last!, leaf: true),
                                               upTo: NodeBuilder.key(ofCell: right[0], leaf: true))
        } else {
            separator = NodeBuilder.key(ofCell: right[0], leaf: false)
            let child = right[0].withUnsafeBytes { PageLink(from: $0.baseAddress!, at: 2) }
            right[0] = NodeBuilder.branchCell(key: UnsafeRawBufferPointer(start: nil, count: 0), child: child)
        }
        let (rightPage, rightPointer) = allocate()
        NodeBuilder.build(pointer, kind: kind, txnID: txnID, cells: left)
        NodeBuilder.build(rightPointer, kind: kind, txnID: txnID, cells: right[...])
        let separatorCell = separator.withUnsafeBytes { NodeBuilder.branchCell(key: $0, child: dirtyLink(rightPage)) }

        guard let parent = path.popLast() else {
            let (rootPage, rootPointer) = allocate()
            let leftCell = NodeBuilder.branchCell(key: UnsafeRawBufferPointer(start: nil, count: 0), child: dirtyLink(page))
            NodeBuilder.build(rootPointer, kind: .branch, txnID: txnID, cells: [leftCell, separatorCell][...])
            tree.root = dirtyLink(rootPage)
            tree.depth += 1
            return true
        }
        let parentNode = NodePage(parent.pointer)
        let at = parent.index + 1
        if separatorCell.withUnsafeBytes({ parentNode.insertInPlace($0, at: at) }) { return true }
        var parentCells = NodeBuilder.cells(of: parentNode)
        parentCells.insert(separatorCell, at: at)
        placeCells(parentCells, kind: .branch, page: parent.page, pointer: parent.pointer, path: &path, tree: &tree)
        return true
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

    /// The shortest prefix of `upper` that sorts after `lower` (suffix truncation: a shorter
    /// separator in a branch means more children per branch).
    static func shortestSeparator(after lower: [UInt8], upTo upper: [UInt8]) -> [UInt8] {
        var n = 1
        while n < upper.count {
            let prefix = upper[..<n]
            if prefix.lexicographicallyPrecedes(lower) == false && !prefix.elementsEqual(lower) { return Array(prefix) }
            n += 1
        }
        return upper
    }

    /// Removes `key` from `tree`. Returns what was there, or nil if the key was absent.
    @discardableResult
    func treeDelete(_ tree: inout TreeDescriptor, key: UnsafeRawBufferPointer) throws(SealKVError) -> ReplacedEntry? {
        // Look first, so deleting an absent key changes no page.
        let present = try descend(tree, to: key) { (_, _, found) throws(SealKVError) in found } ?? false
        guard present else { return nil }
        version &+= 1

        var path: [PathStep] = []
        var (page, p) = try touch(tree.root)
        tree.root = dirtyLink(page)
        for _ in 1..<Int(tree.depth) {
            let node = NodePage(p)
            let i = node.childIndex(for: key)
            let (childPage, childPointer) = try touch(node.child(i))
            node.setChild(i, dirtyLink(childPage))
            path.append(PathStep(page: page, pointer: p, index: i))
            (page, p) = (childPage, childPointer)
        }
        let leaf = NodePage(p)
        let (i, found) = leaf.search(key)
        guard found else { throw SealKVError.corrupted(page: page, "lost a key between lookup and delete") }
        let removed = ReplacedEntry(expiry: leaf.expiry(i))
        if leaf.isOverflow(i) { try freeOverflow(first: leaf.overflowRef(i).link) }
        leaf.remove(at: i)
        tree.entries -= 1
        try rebalance(page: page, pointer: p, path: &path, tree: &tree)
        return removed
    }

    /// Restores fill after a removal: merges an underfull node into a sibling, or evens the two out,
    /// and continues upward; collapses a root left with one child or no entries.
    func rebalance(page: UInt64, pointer: UnsafeMutableRawPointer, path: inout [PathStep],
                   tree: inout TreeDescriptor) throws(SealKVError) {
        let node = NodePage(pointer)
        guard let parent = path.last else {
            if node.isLeaf && node.count == 0 {
                release(page)
                tree.root = .none
                tree.depth = 0
            } else if !node.isLeaf && node.count == 1 {
                let only = node.child(0)
                release(page)
                tree.root = only
                tree.depth -= 1
            }
            return
        }
        guard node.usedBytes < FileFormat.minFill else { return }
        let parentNode = NodePage(parent.pointer)
        guard parentNode.count >= 2 else { return }
        let siblingIndex = parent.index > 0 ? parent.index - 1 : parent.index + 1
        let (siblingPage, siblingPointer) = try touch(parentNode.child(siblingIndex))
        parentNode.setChild(siblingIndex, dirtyLink(siblingPage))

        let leftIndex = min(parent.index, siblingIndex)
        let rightIndex = leftIndex + 1
        let (_, leftPointer) = leftIndex == parent.index ? (page, pointer) : (siblingPage, siblingPointer)
        let (rightPage, rightPointer) = leftIndex == parent.index ? (siblingPage, siblingPointer) : (page, pointer)
        let kind = node.kind!
        var combined = NodeBuilder.cells(of: NodePage(leftPointer))
        var rightCells = NodeBuilder.cells(of: NodePage(rightPointer))
        if !kind.isLeaf {
            // The parent's separator comes down as the key of the right node's first child.
            let child = NodePage(rightPointer).child(0)
            rightCells[0] = NodeBuilder.branchCell(key: parentNode.key(rightIndex), child: child)
        }
        combined.append(contentsOf: rightCells)

        if NodeBuilder.size(of: combined[...]) <= FileFormat.nodeUsable {
            NodeBuilder.build(leftPointer, kind: kind, txnID: txnID, cells: combined[...])
            release(rightPage)
            parentNode.remove(at: rightIndex)
            path.removeLast()
            try rebalance(page: parent.page, pointer: parent.pointer, path: &path, tree: &tree)
            return
        }

        // Too much for one page: split the combined entries evenly and replace the separator.
        let m = Self.chooseSplit(combined, leaf: kind.isLeaf, appended: false)
        var right = Array(combined[m...])
        let separator: [UInt8]
        if kind.isLeaf {
            separator = Self.shortestSeparator(after: NodeBuilder.key(ofCell: combined[m - 1], leaf: true),
                                               upTo: NodeBuilder.key(ofCell: right[0], leaf: true))
        } else {
            separator = NodeBuilder.key(ofCell: right[0], leaf: false)
            let child = right[0].withUnsafeBytes { PageLink(from: $0.baseAddress!, at: 2) }
            right[0] = NodeBuilder.branchCell(key: UnsafeRawBufferPointer(start: nil, count: 0), child: child)
        }
        NodeBuilder.build(leftPointer, kind: kind, txnID: txnID, cells: combined[..<m])
        NodeBuilder.build(rightPointer, kind: kind, txnID: txnID, cells: right[...])
        parentNode.remove(at: rightIndex)
        let separatorCell = separator.withUnsafeBytes { NodeBuilder.branchCell(key: $0, child: dirtyLink(rightPage)) }
        path.removeLast()
        if !separatorCell.withUnsafeBytes({ parentNode.insertInPlace($0, at: rightIndex) }) {
            var parentCells = NodeBuilder.cells(of: parentNode)
            parentCells.insert(separatorCell, at: rightIndex)
            if placeCells(parentCells, kind: .branch, page: parent.page, pointer: parent.pointer, path: &path, tree: &tree) {
                return
            }
        }
        try rebalance(page: parent.page, pointer: parent.pointer, path: &path, tree: &tree)
    }

    /// Copies every page of `tree` numbered `limit` or higher (and the path above it) to a newly
    /// allocated page, so the end of the file can be cut. Reads only branch pages.
    func relocatePages(of tree: inout TreeDescriptor, atOrAbove limit: UInt64) throws(SealKVError) {
        guard !tree.root.isNone else { return }
        if let moved = try relocate(tree.root, level: Int(tree.depth), limit: limit) { tree.root = moved }
    }

    private func relocate(_ link: PageLink, level: Int, limit: UInt64) throws(SealKVError) -> PageLink? {
        if level <= 1 {
            guard link.page >= limit, link.txnID != txnID else { return nil }
            return dirtyLink(try touch(link).page)
        }
        let children = try withPage(link) { (p) throws(SealKVError) -> [PageLink] in
            let node = NodePage(p)
            return (0..<node.count).map { node.child($0) }
        }
        var moved: [(Int, PageLink)] = []
        for (i, child) in children.enumerated() {
            if let m = try relocate(child, level: level - 1, limit: limit) { moved.append((i, m)) }
        }
        guard !moved.isEmpty || (link.page >= limit && link.txnID != txnID) else { return nil }
        let (page, p) = try touch(link)
        let node = NodePage(p)
        for (i, m) in moved { node.setChild(i, m) }
        return dirtyLink(page)
    }

    /// Copies-on-write the path to the last leaf of `tree`, so later inserts of larger keys free no
    /// committed page (used while the free list itself is written).
    func touchRightmostPath(_ tree: inout TreeDescriptor) throws(SealKVError) {
        guard !tree.root.isNone else { return }
        var (page, p) = try touch(tree.root)
        tree.root = dirtyLink(page)
        for _ in 1..<Int(tree.depth) {
            let node = NodePage(p)
            let i = node.count - 1
            let (childPage, childPointer) = try touch(node.child(i))
            node.setChild(i, dirtyLink(childPage))
            (page, p) = (childPage, childPointer)
        }
    }
}
