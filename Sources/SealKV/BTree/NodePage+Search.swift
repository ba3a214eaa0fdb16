extension NodePage {
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
}
