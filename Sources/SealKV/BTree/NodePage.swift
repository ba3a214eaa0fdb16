/// A view of a decrypted branch or leaf page (plaintext, 4096-byte buffer, body at 32..<4080).
///
/// Layout (offsets from the page start, see ``FileFormat``): kind, flags, entry count, start of the
/// cell area, dead bytes, txnid, then the slot array of u16 cell offsets in key order. Cells grow
/// down from the end of the body.
struct NodePage {
    let p: UnsafeMutableRawPointer

    init(_ p: UnsafeMutableRawPointer) { self.p = p }
    init(_ p: UnsafeRawPointer) { self.p = UnsafeMutableRawPointer(mutating: p) }

    @inline(__always) var kindByte: UInt8 { p.u8(FileFormat.nodeKind) }
    @inline(__always) var kind: PageKind? { PageKind(rawValue: kindByte) }
    @inline(__always) var isLeaf: Bool {
        let k = kindByte
        return k == PageKind.leaf.rawValue || k == PageKind.catalogLeaf.rawValue
    }
    @inline(__always) var count: Int { Int(p.u16(FileFormat.nodeCount)) }
    var cellStart: Int { Int(p.u16(FileFormat.nodeCellStart)) }
    var garbage: Int { Int(p.u16(FileFormat.nodeGarbage)) }
    var txnID: UInt64 { p.u64(FileFormat.nodeTxnID) }

    @inline(__always) func cellOffset(_ i: Int) -> Int { Int(p.u16(FileFormat.nodeSlots + 2 * i)) }

    // MARK: Cells

    @inline(__always) func keyLength(_ i: Int) -> Int { Int(p.u16(cellOffset(i))) }

    /// The key of entry `i` (empty for entry 0 of a branch).
    @inline(__always) func key(_ i: Int) -> UnsafeRawBufferPointer {
        let c = cellOffset(i)
        let header = isLeaf ? FileFormat.leafCellHeader : FileFormat.branchCellHeader
        return UnsafeRawBufferPointer(start: p + c + header, count: Int(p.u16(c)))
    }

    /// Leaf: the cell's flags.
    @inline(__always) func leafFlags(_ i: Int) -> UInt8 { p.u8(cellOffset(i) + 2) }
    /// Leaf: whether the value lives in an overflow chain.
    @inline(__always) func isOverflow(_ i: Int) -> Bool { leafFlags(i) & LeafCellFlags.overflow != 0 }
    /// Leaf: offset of the value (inline) or of the overflow reference.
    @inline(__always) func payloadOffset(_ i: Int) -> Int {
        let c = cellOffset(i)
        let expiry = p.u8(c + 2) & LeafCellFlags.expires != 0 ? FileFormat.expirySize : 0
        return c + FileFormat.leafCellHeader + Int(p.u16(c)) + expiry
    }
    /// Leaf: when entry `i` expires (Unix milliseconds), or nil if it does not.
    @inline(__always) func expiry(_ i: Int) -> UInt64? {
        let c = cellOffset(i)
        guard p.u8(c + 2) & LeafCellFlags.expires != 0 else { return nil }
        return p.u64(c + FileFormat.leafCellHeader + Int(p.u16(c)))
    }
    /// Leaf: whether entry `i` has expired at `now` (Unix milliseconds; evaluated only for an
    /// entry with a time to live).
    @inline(__always) func isExpired(_ i: Int, now: @autoclosure () -> UInt64) -> Bool {
        guard let e = expiry(i) else { return false }
        return e <= now()
    }
    /// Leaf: the inline value of entry `i`.
    @inline(__always) func inlineValue(_ i: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: p + payloadOffset(i), count: Int(p.u16(cellOffset(i) + 3)))
    }
    /// Leaf: the overflow reference of entry `i` (total length and link to the first page).
    func overflowRef(_ i: Int) -> (length: UInt64, link: PageLink, linkOffset: Int) {
        let o = payloadOffset(i)
        return (p.u64(o), PageLink(from: p, at: o + 8), o + 8)
    }

    /// Branch: offset of the child link of entry `i`.
    @inline(__always) func childLinkOffset(_ i: Int) -> Int { cellOffset(i) + 2 }
    /// Branch: the child link of entry `i`.
    @inline(__always) func child(_ i: Int) -> PageLink { PageLink(from: p, at: childLinkOffset(i)) }
    func setChild(_ i: Int, _ link: PageLink) { link.store(to: p, at: childLinkOffset(i)) }

    /// Size in bytes of cell `i` (without its slot).
    func cellSize(_ i: Int) -> Int {
        let c = cellOffset(i)
        let k = Int(p.u16(c))
        if !isLeaf { return FileFormat.branchCellHeader + k }
        let flags = p.u8(c + 2)
        let expiry = flags & LeafCellFlags.expires != 0 ? FileFormat.expirySize : 0
        if flags & LeafCellFlags.overflow != 0 { return FileFormat.leafCellHeader + k + expiry + FileFormat.overflowRefSize }
        return FileFormat.leafCellHeader + k + expiry + Int(p.u16(c + 3))
    }

    /// The raw bytes of cell `i`.
    func cell(_ i: Int) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: p + cellOffset(i), count: cellSize(i)) }

    /// Bytes used by cells and slots.
    var usedBytes: Int { FileFormat.bodyEnd - cellStart - garbage + 2 * count }
    /// Bytes free (counting dead cells, which a rebuild reclaims).
    var freeBytes: Int { FileFormat.nodeUsable - usedBytes }

    // MARK: Search

    /// Leaf search: the index of `key` if present, else the index where it would be inserted.
    @inline(__always)
    func search(_ key: UnsafeRawBufferPointer) -> (index: Int, found: Bool) {
        let leaf = isLeaf
        let header = leaf ? FileFormat.leafCellHeader : FileFormat.branchCellHeader
        var lo = leaf ? 0 : 1, hi = count
        while lo < hi {
            let mid = (lo + hi) >> 1
            let cell = cellOffset(mid)
            let c = compareBytes(UnsafeRawBufferPointer(start: p + cell + header, count: Int(p.u16(cell))), key)
            if c == 0 { return (mid, true) }
            if c < 0 { lo = mid + 1 } else { hi = mid }
        }
        return (lo, false)
    }

    /// Branch search: the entry whose subtree holds `key` (the last entry whose key is <= `key`).
    @inline(__always)
    func childIndex(for key: UnsafeRawBufferPointer) -> Int {
        let (i, found) = search(key)
        return found ? i : i - 1
    }

    // MARK: Validation

    /// Checks that every offset and length lies inside the page, so no later read can stray out of it.
    /// Returns a description of the first problem, or nil. Ordering is checked by ``TreeChecker``.
    func structuralProblem(expectLeaf: Bool?) -> String? {
        guard let kind, kind != .overflow else { return "has unknown node kind \(kindByte)" }
        if let expectLeaf, expectLeaf != kind.isLeaf {
            return expectLeaf ? "is a branch where a leaf was expected" : "is a leaf where a branch was expected"
        }
        let n = count
        let slotEnd = FileFormat.nodeSlots + 2 * n
        guard slotEnd <= FileFormat.bodyEnd, cellStart >= slotEnd, cellStart <= FileFormat.bodyEnd else {
            return "has an impossible entry count or cell area (\(n) entries, cells from \(cellStart))"
        }
        if !kind.isLeaf && n == 0 { return "is a branch with no children" }
        var live = 0
        for i in 0..<n {
            let c = cellOffset(i)
            guard c >= cellStart, c + 5 <= FileFormat.bodyEnd else { return "has entry \(i) outside the cell area" }
            let size: Int
            let k = Int(p.u16(c))
            if kind.isLeaf {
                let flags = p.u8(c + 2)
                guard flags & ~LeafCellFlags.known == 0 else { return "has entry \(i) with unknown flags \(flags)" }
                let expiry = flags & LeafCellFlags.expires != 0 ? FileFormat.expirySize : 0
                size = flags & LeafCellFlags.overflow != 0
                    ? FileFormat.leafCellHeader + k + expiry + FileFormat.overflowRefSize
                    : FileFormat.leafCellHeader + k + expiry + Int(p.u16(c + 3))
                guard k >= 1 || kind == .catalogLeaf else { return "has entry \(i) with an empty key" }
            } else {
                size = FileFormat.branchCellHeader + k
                guard (i == 0) == (k == 0) else { return "has entry \(i) with a misplaced empty key" }
            }
            guard k <= FileFormat.maxStoredKey, c + size <= FileFormat.bodyEnd else { return "has entry \(i) running past the page end" }
            live += size
        }
        guard live + garbage == FileFormat.bodyEnd - cellStart else {
            return "has cell accounting that does not add up (\(live) live + \(garbage) dead bytes in \(FileFormat.bodyEnd - cellStart))"
        }
        return nil
    }
}

/// Builds a node page from a list of cells (used for every structural change: insert, split, merge).
enum NodeBuilder {
    /// Encodes a leaf cell with an inline value and an optional expiry (Unix milliseconds).
    static func leafCell(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, expiry: UInt64? = nil) -> [UInt8] {
        let e = expiry == nil ? 0 : FileFormat.expirySize
        var cell = [UInt8](repeating: 0, count: FileFormat.leafCellHeader + key.count + e + value.count)
        cell.withUnsafeMutableBytes { c in
            let b = c.baseAddress!
            b.setU16(0, UInt16(key.count))
            b.setU8(2, expiry == nil ? 0 : LeafCellFlags.expires)
            b.setU16(3, UInt16(value.count))
            if key.count > 0 { (b + 5).copyMemory(from: key.baseAddress!, byteCount: key.count) }
            if let expiry { b.setU64(5 + key.count, expiry) }
            if value.count > 0 { (b + 5 + key.count + e).copyMemory(from: value.baseAddress!, byteCount: value.count) }
        }
        return cell
    }

    /// Encodes a leaf cell whose value lives in an overflow chain.
    static func overflowCell(key: UnsafeRawBufferPointer, length: UInt64, first: PageLink, expiry: UInt64? = nil) -> [UInt8] {
        let e = expiry == nil ? 0 : FileFormat.expirySize
        var cell = [UInt8](repeating: 0, count: FileFormat.leafCellHeader + key.count + e + FileFormat.overflowRefSize)
        cell.withUnsafeMutableBytes { c in
            let b = c.baseAddress!
            b.setU16(0, UInt16(key.count))
            b.setU8(2, LeafCellFlags.overflow | (expiry == nil ? 0 : LeafCellFlags.expires))
            b.setU16(3, 0)
            (b + 5).copyMemory(from: key.baseAddress!, byteCount: key.count)
            if let expiry { b.setU64(5 + key.count, expiry) }
            b.setU64(5 + key.count + e, length)
            first.store(to: b, at: 5 + key.count + e + 8)
        }
        return cell
    }

    /// Encodes a branch cell.
    static func branchCell(key: UnsafeRawBufferPointer, child: PageLink) -> [UInt8] {
        var cell = [UInt8](repeating: 0, count: FileFormat.branchCellHeader + key.count)
        cell.withUnsafeMutableBytes { c in
            let b = c.baseAddress!
            b.setU16(0, UInt16(key.count))
            child.store(to: b, at: 2)
            if key.count > 0 { (b + FileFormat.branchCellHeader).copyMemory(from: key.baseAddress!, byteCount: key.count) }
        }
        return cell
    }

    /// The key stored in an encoded cell.
    static func key(ofCell cell: [UInt8], leaf: Bool) -> [UInt8] {
        cell.withUnsafeBytes { c in
            let k = Int(c.baseAddress!.u16(0))
            let start = leaf ? FileFormat.leafCellHeader : FileFormat.branchCellHeader
            return Array(c[start..<(start + k)])
        }
    }

    /// Bytes a list of cells needs in a page, slots included.
    static func size(of cells: ArraySlice<[UInt8]>) -> Int { cells.reduce(0) { $0 + $1.count + 2 } }

    /// Writes `cells` (in key order) as the whole content of the page at `p`.
    static func build(_ p: UnsafeMutableRawPointer, kind: PageKind, txnID: UInt64, cells: ArraySlice<[UInt8]>) {
        precondition(size(of: cells) <= FileFormat.nodeUsable, "node overfull")
        (p + FileFormat.bodyStart).initializeMemory(as: UInt8.self, repeating: 0, count: FileFormat.bodySize)
        p.setU8(FileFormat.nodeKind, kind.rawValue)
        p.setU8(FileFormat.nodeFlags, 0)
        p.setU16(FileFormat.nodeCount, UInt16(cells.count))
        p.setU16(FileFormat.nodeGarbage, 0)
        p.setU64(FileFormat.nodeTxnID, txnID)
        var top = FileFormat.bodyEnd
        for (i, cell) in cells.enumerated() {
            top -= cell.count
            cell.withUnsafeBytes { (p + top).copyMemory(from: $0.baseAddress!, byteCount: cell.count) }
            p.setU16(FileFormat.nodeSlots + 2 * i, UInt16(top))
        }
        p.setU16(FileFormat.nodeCellStart, UInt16(top))
    }

    /// All cells of a page, copied out.
    static func cells(of node: NodePage) -> [[UInt8]] {
        (0..<node.count).map { Array(node.cell($0)) }
    }
}

extension NodePage {
    /// Inserts an encoded cell at slot `i` if it fits without a rebuild; returns false otherwise.
    func insertInPlace(_ cell: UnsafeRawBufferPointer, at i: Int) -> Bool {
        let n = count
        let slotEnd = FileFormat.nodeSlots + 2 * (n + 1)
        let top = cellStart - cell.count
        guard top >= slotEnd else { return false }
        (p + top).copyMemory(from: cell.baseAddress!, byteCount: cell.count)
        let slots = p + FileFormat.nodeSlots
        if i < n { (slots + 2 * (i + 1)).copyMemory(from: slots + 2 * i, byteCount: 2 * (n - i)) }
        p.setU16(FileFormat.nodeSlots + 2 * i, UInt16(top))
        p.setU16(FileFormat.nodeCount, UInt16(n + 1))
        p.setU16(FileFormat.nodeCellStart, UInt16(top))
        return true
    }

    /// Removes slot `i`; its cell becomes dead space.
    func remove(at i: Int) {
        let n = count
        let size = cellSize(i)
        let c = cellOffset(i)
        let slots = p + FileFormat.nodeSlots
        if i < n - 1 { (slots + 2 * i).copyMemory(from: slots + 2 * (i + 1), byteCount: 2 * (n - 1 - i)) }
        p.setU16(FileFormat.nodeCount, UInt16(n - 1))
        if c == cellStart {
            p.setU16(FileFormat.nodeCellStart, UInt16(c + size))
        } else {
            p.setU16(FileFormat.nodeGarbage, UInt16(garbage + size))
        }
        secureZero(p + c, count: size)
    }
}
