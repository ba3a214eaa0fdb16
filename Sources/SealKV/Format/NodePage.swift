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

    @inline(__always) func keyLength(_ i: Int) -> Int { Int(p.u16(cellOffset(i) + FileFormat.leafCellKeyLength)) }

    /// The key of entry `i` (empty for entry 0 of a branch).
    @inline(__always) func key(_ i: Int) -> UnsafeRawBufferPointer {
        let c = cellOffset(i)
        let header = isLeaf ? FileFormat.leafCellHeader : FileFormat.branchCellHeader
        return UnsafeRawBufferPointer(start: p + c + header, count: Int(p.u16(c)))
    }

    /// Leaf: the cell's flags.
    @inline(__always) func leafFlags(_ i: Int) -> UInt8 { p.u8(cellOffset(i) + FileFormat.leafCellFlags) }
    /// Leaf: whether the value lives in an overflow chain.
    @inline(__always) func isOverflow(_ i: Int) -> Bool { leafFlags(i) & LeafCellFlags.overflow != 0 }
    /// Leaf: offset of the value (inline) or of the overflow reference.
    @inline(__always) func payloadOffset(_ i: Int) -> Int {
        let c = cellOffset(i)
        let expiry = p.u8(c + FileFormat.leafCellFlags) & LeafCellFlags.expires != 0 ? FileFormat.expirySize : 0
        return c + FileFormat.leafCellHeader + Int(p.u16(c + FileFormat.leafCellKeyLength)) + expiry
    }
    /// Leaf: when entry `i` expires (Unix milliseconds), or nil if it does not.
    @inline(__always) func expiry(_ i: Int) -> UInt64? {
        let c = cellOffset(i)
        guard p.u8(c + FileFormat.leafCellFlags) & LeafCellFlags.expires != 0 else { return nil }
        return p.u64(c + FileFormat.leafCellHeader + Int(p.u16(c + FileFormat.leafCellKeyLength)))
    }
    /// Leaf: whether entry `i` has expired at `now` (Unix milliseconds; evaluated only for an
    /// entry with a time to live).
    @inline(__always) func isExpired(_ i: Int, now: @autoclosure () -> UInt64) -> Bool {
        guard let e = expiry(i) else { return false }
        return e <= now()
    }
    /// Leaf: the inline value of entry `i`.
    @inline(__always) func inlineValue(_ i: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: p + payloadOffset(i), count: Int(p.u16(cellOffset(i) + FileFormat.leafCellValueLength)))
    }
    /// Leaf: the overflow reference of entry `i` (total length and link to the first page).
    func overflowRef(_ i: Int) -> (length: UInt64, link: PageLink, linkOffset: Int) {
        let o = payloadOffset(i)
        return (p.u64(o), PageLink(from: p, at: o + 8), o + 8)
    }

    /// Branch: offset of the child link of entry `i`.
    @inline(__always) func childLinkOffset(_ i: Int) -> Int { cellOffset(i) + FileFormat.branchCellChild }
    /// Branch: the child link of entry `i`.
    @inline(__always) func child(_ i: Int) -> PageLink { PageLink(from: p, at: childLinkOffset(i)) }
    func setChild(_ i: Int, _ link: PageLink) { link.store(to: p, at: childLinkOffset(i)) }

    /// Size in bytes of cell `i` (without its slot).
    func cellSize(_ i: Int) -> Int {
        let c = cellOffset(i)
        let k = Int(p.u16(c))
        if !isLeaf { return FileFormat.branchCellHeader + k }
        let flags = p.u8(c + FileFormat.leafCellFlags)
        let expiry = flags & LeafCellFlags.expires != 0 ? FileFormat.expirySize : 0
        if flags & LeafCellFlags.overflow != 0 { return FileFormat.leafCellHeader + k + expiry + FileFormat.overflowRefSize }
        return FileFormat.leafCellHeader + k + expiry + Int(p.u16(c + FileFormat.leafCellValueLength))
    }

    /// The raw bytes of cell `i`.
    func cell(_ i: Int) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: p + cellOffset(i), count: cellSize(i)) }

    /// Bytes used by cells and slots.
    var usedBytes: Int { FileFormat.bodyEnd - cellStart - garbage + 2 * count }
    /// Bytes free (counting dead cells, which a rebuild reclaims).
    var freeBytes: Int { FileFormat.nodeUsable - usedBytes }

    // MARK: Validation

    /// Checks that every offset and length lies inside the page, so no later read can stray out of it.
    /// Returns a description of the first problem, or nil. Key order is a tree invariant, checked
    /// by ``NodeInvariants``.
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
            guard c >= cellStart, c + FileFormat.leafCellHeader <= FileFormat.bodyEnd else { return "has entry \(i) outside the cell area" }
            let size: Int
            let k = Int(p.u16(c))
            if kind.isLeaf {
                let flags = p.u8(c + FileFormat.leafCellFlags)
                guard flags & ~LeafCellFlags.known == 0 else { return "has entry \(i) with unknown flags \(flags)" }
                let expiry = flags & LeafCellFlags.expires != 0 ? FileFormat.expirySize : 0
                size = flags & LeafCellFlags.overflow != 0
                    ? FileFormat.leafCellHeader + k + expiry + FileFormat.overflowRefSize
                    : FileFormat.leafCellHeader + k + expiry + Int(p.u16(c + FileFormat.leafCellValueLength))
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
