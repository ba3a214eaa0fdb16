/// The root of one tree with its summary counts; stored in the meta (default namespace, catalog,
/// free pages) and as the value of each catalog entry (named namespaces).
struct TreeDescriptor: Equatable, Sendable {
    static let size = FileFormat.descriptorSize
    static let empty = TreeDescriptor(root: .none, entries: 0, depth: 0)

    var root: PageLink
    /// Number of key/value entries.
    var entries: UInt64
    /// Levels from root to leaf (0 for an empty tree, 1 for a single leaf).
    var depth: UInt32

    init(root: PageLink, entries: UInt64, depth: UInt32) {
        self.root = root
        self.entries = entries
        self.depth = depth
    }

    init(from p: UnsafeRawPointer, at offset: Int) {
        root = PageLink(from: p, at: offset + FileFormat.descriptorRoot)
        entries = p.u64(offset + FileFormat.descriptorEntries)
        depth = p.u32(offset + FileFormat.descriptorDepth)
    }

    func store(to p: UnsafeMutableRawPointer, at offset: Int) {
        root.store(to: p, at: offset + FileFormat.descriptorRoot)
        p.setU64(offset + FileFormat.descriptorEntries, entries)
        p.setU32(offset + FileFormat.descriptorDepth, depth)
        p.setU32(offset + FileFormat.descriptorReserved, 0)
    }

    var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: Self.size)
        out.withUnsafeMutableBytes { store(to: $0.baseAddress!, at: 0) }
        return out
    }
}
