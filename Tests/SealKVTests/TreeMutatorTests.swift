@testable import SealKV
import Testing

/// The tree mutator on its own, on a write space over an in-memory pager: no transaction, no
/// commit. Random puts and deletes against a dictionary; after every batch the tree's entries, in
/// order, equal the dictionary's, every node meets ``NodeInvariants`` with its parent's bounds,
/// every leaf is at the descriptor's depth, and every page allocated is either in the tree or
/// free again.
@Suite("Tree mutator")
struct TreeMutatorTests {
    func space() -> WriteSpace {
        let keys = DataKeys(dataKey: SecureBytes.random(count: FileFormat.keySize), epoch: 1)
        let pager = Pager(storage: MemoryStorage(), sealer: PageSealer(keys: keys, fileID: randomBytes(count: FileFormat.fileIDSize)), cacheBytes: 1 << 20)
        let view = FreeListView(list: FreeList(chunks: []), bound: 0, filePages: FileFormat.firstDataPage)
        return WriteSpace(pager: pager, txnID: 1, allocator: PageAllocator(basePageCount: FileFormat.firstDataPage, freeView: view), epochs: KeyEpochRule(current: 1, rekey: nil))
    }

    /// Walks the tree: its entries in order, and the pages it uses; records every broken invariant.
    func walk(_ tree: TreeDescriptor, in pages: PageSpace) throws -> (entries: [([UInt8], [UInt8])], pages: Set<UInt64>) {
        var entries: [([UInt8], [UInt8])] = []
        var used = Set<UInt64>()
        guard !tree.root.isNone else { return ([], []) }
        func visit(_ link: PageLink, level: Int, lower: [UInt8]?, upper: [UInt8]?) throws {
            #expect(used.insert(link.page).inserted, "page \(link.page) is in the tree twice")
            let (children, leafEntries) = try pages.withPage(link) { p in
                let node = NodePage(p)
                if let problem = NodeInvariants.problem(in: node, lower: lower, upper: upper) { Issue.record("page \(link.page) \(problem)") }
                #expect(node.isLeaf == (level == 1), "page \(link.page) is at the wrong level")
                if node.isLeaf {
                    return ([(PageLink, [UInt8]?, [UInt8]?)](), (0..<node.count).map { i in (Array(node.key(i)), TreeReader.location(in: node, at: i)) })
                }
                return ((0..<node.count).map { i in (node.child(i), i == 0 ? lower : Array(node.key(i)), i + 1 < node.count ? Array(node.key(i + 1)) : upper) }, [])
            }
            for (key, location) in leafEntries {
                if case .overflow(_, let first) = location {
                    try OverflowChain.walk(first: first, length: { if case .overflow(let l, _) = location { return l }; return 0 }(), in: pages) { l, _, _ in used.insert(l.page) }
                }
                entries.append((key, try TreeReader.value(at: location, in: pages)))
            }
            for (child, lo, hi) in children { try visit(child, level: level - 1, lower: lo, upper: hi) }
        }
        try visit(tree.root, level: Int(tree.depth), lower: nil, upper: nil)
        return (entries, used)
    }

    @Test(arguments: [1, 2, 3])
    func randomChangesMatchADictionary(seed: UInt64) throws {
        let pages = space()
        var mutator = TreeMutator(.empty, in: pages)
        var model: [[UInt8]: [UInt8]] = [:]
        var rng = SeededRandom(seed: seed)
        for round in 0..<40 {
            for _ in 0..<150 {
                let key = Array("k\(Int.random(in: 0..<2_000, using: &rng))".utf8)
                if Int.random(in: 0..<3, using: &rng) == 0 {
                    let removed = try key.withBytes { (k) throws(SealKVError) in try mutator.delete(k) }
                    #expect((removed != nil) == (model.removeValue(forKey: key) != nil))
                } else {
                    // Mostly small values, now and then one that needs an overflow chain.
                    let size = Int.random(in: 0..<10, using: &rng) == 0 ? Int.random(in: 1_500...9_000, using: &rng) : Int.random(in: 0...120, using: &rng)
                    let value = (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
                    let replaced = try key.withBytes { (k) throws(SealKVError) in
                        try value.withBytes { (v) throws(SealKVError) in try mutator.put(k, v) }
                    }
                    #expect((replaced != nil) == (model.updateValue(value, forKey: key) != nil))
                }
            }
            let (entries, used) = try walk(mutator.tree, in: pages)
            #expect(entries.map { $0.0 } == model.keys.sorted { $0.lexicographicallyPrecedes($1) }, "round \(round): keys differ")
            #expect(entries.allSatisfy { model[$0.0] == $0.1 }, "round \(round): a value differs")
            #expect(mutator.tree.entries == UInt64(model.count))
            // Every page the allocator handed out is in the tree or reusable again, exactly once.
            let allocated = Set(FileFormat.firstDataPage..<pages.allocator.pageCount)
            #expect(used.union(pages.allocator.reusable) == allocated && used.isDisjoint(with: pages.allocator.reusable),
                    "round \(round): \(allocated.count) pages allocated, \(used.count) in the tree, \(pages.allocator.reusable.count) reusable")
            #expect(Set(pages.dirty.keys) == used)
        }
        // Deleting everything leaves an empty tree and every page reusable.
        for key in model.keys { _ = try key.withBytes { (k) throws(SealKVError) in try mutator.delete(k) } }
        #expect(mutator.tree == .empty)
        #expect(pages.dirty.isEmpty)
    }

    @Test func appendsInKeyOrderFillLeavesDensely() throws {
        let pages = space()
        var mutator = TreeMutator(.empty, in: pages)
        for i in 0..<5_000 {
            let key = Array(String(format: "key-%06d", i).utf8), value = [UInt8](repeating: 7, count: 100)
            _ = try key.withBytes { (k) throws(SealKVError) in try value.withBytes { (v) throws(SealKVError) in try mutator.put(k, v) } }
        }
        let leaves = try walk(mutator.tree, in: pages).pages.count
        // 5,000 cells of ~117 bytes in 4,032-byte pages: ~146 leaves when full, ~290 when half full.
        #expect(leaves < 170, "\(leaves) pages for an in-order load")
    }
}
