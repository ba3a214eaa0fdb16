/// Builds a node page from a list of cells (used for every structural change: insert, split, merge).
enum NodeBuilder {
    /// Encodes a leaf cell with an inline value and an optional expiry (Unix milliseconds).
    static func leafCell(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, expiry: UInt64? = nil) -> [UInt8] {
        let e = expiry == nil ? 0 : FileFormat.expirySize
        var cell = [UInt8](repeating: 0, count: FileFormat.leafCellHeader + key.count + e + value.count)
        cell.withUnsafeMutableBytes { c in
            let b = c.baseAddress!
            let k = FileFormat.leafCellHeader
            b.setU16(FileFormat.leafCellKeyLength, UInt16(key.count))
            b.setU8(FileFormat.leafCellFlags, expiry == nil ? 0 : LeafCellFlags.expires)
            b.setU16(FileFormat.leafCellValueLength, UInt16(value.count))
            if key.count > 0 { (b + k).copyMemory(from: key.baseAddress!, byteCount: key.count) }
            if let expiry { b.setU64(k + key.count, expiry) }
            if value.count > 0 { (b + k + key.count + e).copyMemory(from: value.baseAddress!, byteCount: value.count) }
        }
        return cell
    }

    /// Encodes a leaf cell whose value lives in an overflow chain.
    static func overflowCell(key: UnsafeRawBufferPointer, length: UInt64, first: PageLink, expiry: UInt64? = nil) -> [UInt8] {
        let e = expiry == nil ? 0 : FileFormat.expirySize
        var cell = [UInt8](repeating: 0, count: FileFormat.leafCellHeader + key.count + e + FileFormat.overflowRefSize)
        cell.withUnsafeMutableBytes { c in
            let b = c.baseAddress!
            let k = FileFormat.leafCellHeader
            b.setU16(FileFormat.leafCellKeyLength, UInt16(key.count))
            b.setU8(FileFormat.leafCellFlags, LeafCellFlags.overflow | (expiry == nil ? 0 : LeafCellFlags.expires))
            b.setU16(FileFormat.leafCellValueLength, 0)
            (b + k).copyMemory(from: key.baseAddress!, byteCount: key.count)
            if let expiry { b.setU64(k + key.count, expiry) }
            b.setU64(k + key.count + e, length)
            first.store(to: b, at: k + key.count + e + 8)
        }
        return cell
    }

    /// The child link of an encoded branch cell.
    static func child(ofBranchCell cell: [UInt8]) -> PageLink {
        cell.withUnsafeBytes { PageLink(from: $0.baseAddress!, at: FileFormat.branchCellChild) }
    }

    /// Encodes a branch cell.
    static func branchCell(key: UnsafeRawBufferPointer, child: PageLink) -> [UInt8] {
        var cell = [UInt8](repeating: 0, count: FileFormat.branchCellHeader + key.count)
        cell.withUnsafeMutableBytes { c in
            let b = c.baseAddress!
            b.setU16(FileFormat.branchCellKeyLength, UInt16(key.count))
            child.store(to: b, at: FileFormat.branchCellChild)
            if key.count > 0 { (b + FileFormat.branchCellHeader).copyMemory(from: key.baseAddress!, byteCount: key.count) }
        }
        return cell
    }

    /// The key stored in an encoded cell.
    static func key(ofCell cell: [UInt8], leaf: Bool) -> [UInt8] {
        cell.withUnsafeBytes { c in
            let k = Int(c.baseAddress!.u16(FileFormat.leafCellKeyLength))
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
