/// Structural validation of any decrypted data page, written once.
enum PageStructure {
    /// A description of what is wrong with the page's layout, or nil when every offset is in bounds.
    static func problem(in p: UnsafeRawPointer) -> String? {
        guard let kind = PageKind(rawValue: p.u8(FileFormat.nodeKind)) else {
            return "has unknown page kind \(p.u8(FileFormat.nodeKind))"
        }
        if kind == .overflow {
            let length = Int(p.u32(FileFormat.overflowLength))
            guard length >= 1, length <= FileFormat.overflowCapacity else {
                return "is an overflow page holding an impossible \(length) bytes"
            }
            return nil
        }
        return NodePage(p).structuralProblem(expectLeaf: nil)
    }

    /// The Merkle links a page holds, with the byte offset of each (so a parent's copy of a child's
    /// tag can be patched at commit). Branches: every child; leaves: overflow chains; catalog leaves:
    /// namespace roots too; overflow pages: the next page.
    static func links(in p: UnsafeRawPointer) -> [(offset: Int, link: PageLink)] {
        guard let kind = PageKind(rawValue: p.u8(FileFormat.nodeKind)) else { return [] }
        switch kind {
        case .overflow:
            let next = PageLink(from: p, at: FileFormat.overflowNext)
            return next.isNone ? [] : [(FileFormat.overflowNext, next)]
        case .branch:
            let node = NodePage(p)
            return (0..<node.count).map { (node.childLinkOffset($0), node.child($0)) }
        case .leaf, .catalogLeaf:
            let node = NodePage(p)
            var out: [(Int, PageLink)] = []
            for i in 0..<node.count {
                if node.isOverflow(i) {
                    let ref = node.overflowRef(i)
                    out.append((ref.linkOffset, ref.link))
                } else if kind == .catalogLeaf, node.inlineValue(i).count == TreeDescriptor.size {
                    let o = node.payloadOffset(i)
                    let root = PageLink(from: p, at: o)
                    if !root.isNone { out.append((o, root)) }
                }
            }
            return out
        }
    }
}
