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

/// Read algorithms on one tree, shared by read and write transactions.
extension Transaction {
    /// Descends to the leaf that holds or would hold `key` and runs `body` on it with the search
    /// result. Checks on the way that branches sit above leaves at exactly the descriptor's depth.
    func descend<R>(_ tree: TreeDescriptor, to key: UnsafeRawBufferPointer,
                    _ body: (NodePage, _ index: Int, _ found: Bool) throws(SealKVError) -> R) throws(SealKVError) -> R? {
        guard !tree.root.isNone else { return nil }
        guard tree.depth >= 1, tree.depth <= 64 else {
            throw SealKVError.corrupted(page: tree.root.page, "is the root of a tree with impossible depth \(tree.depth)")
        }
        var link = tree.root
        for _ in 1..<Int(tree.depth) {
            link = try withPage(link) { (p) throws(SealKVError) -> PageLink in
                let node = NodePage(p)
                guard node.kind == .branch else {
                    throw SealKVError.corrupted(page: link.page, "is a \(node.isLeaf ? "leaf" : "non-node page") where a branch was expected")
                }
                return node.child(node.childIndex(for: key))
            }
        }
        let leafLink = link
        return try withPage(leafLink) { (p) throws(SealKVError) -> R in
            let node = NodePage(p)
            guard node.isLeaf else {
                throw SealKVError.corrupted(page: leafLink.page, "is not a leaf, but the tree's depth says it must be")
            }
            let (i, found) = node.search(key)
            return try body(node, i, found)
        }
    }

    /// Finds `key` in `tree`.
    func locate(_ tree: TreeDescriptor, key: UnsafeRawBufferPointer) throws(SealKVError) -> ValueLocation? {
        let found = try descend(tree, to: key) { (node, i, found) throws(SealKVError) -> ValueLocation? in
            guard found, !node.isExpired(i, now: self.now) else { return nil }
            if node.isOverflow(i) {
                let ref = node.overflowRef(i)
                return .overflow(length: ref.length, first: ref.link)
            }
            return .inline(Array(node.inlineValue(i)))
        }
        return found ?? nil
    }

    /// The value at `location`, assembling overflow chains.
    func value(at location: ValueLocation) throws(SealKVError) -> [UInt8] {
        switch location {
        case .inline(let bytes): return bytes
        case .overflow(let length, let first): return try readOverflow(first: first, length: length)
        }
    }

    /// Reads an overflow chain, checking each page's kind, every link, and the total length.
    func readOverflow(first: PageLink, length: UInt64) throws(SealKVError) -> [UInt8] {
        guard length <= UInt64(Limits.maxValueLength) else {
            throw SealKVError.corrupted(page: first.page, "starts an overflow chain claiming an impossible \(length) bytes")
        }
        let total = Int(length)
        var out = [UInt8](repeating: 0, count: total)
        var filled = 0
        var link = first
        try out.withMutableBytes { (dest) throws(SealKVError) in
            while !link.isNone {
                let current = link
                let next = try withPage(current) { (p) throws(SealKVError) -> PageLink in
                    guard p.u8(FileFormat.nodeKind) == PageKind.overflow.rawValue else {
                        throw SealKVError.corrupted(page: current.page, "is not an overflow page but is linked from an overflow chain")
                    }
                    let n = Int(p.u32(FileFormat.overflowLength))
                    guard filled + n <= total else {
                        throw SealKVError.corrupted(page: current.page, "makes its overflow chain longer than the value's recorded length")
                    }
                    (dest.baseAddress! + filled).copyMemory(from: p + FileFormat.overflowData, byteCount: n)
                    filled += n
                    return PageLink(from: p, at: FileFormat.overflowNext)
                }
                link = next
            }
        }
        guard filled == total else {
            throw SealKVError.corrupted(page: first.page, "starts an overflow chain shorter than its recorded length (\(filled) of \(total) bytes)")
        }
        return out
    }
}
