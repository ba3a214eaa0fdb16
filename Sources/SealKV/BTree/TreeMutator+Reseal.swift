/// Where the re-sealing of one tree stopped between batches: the child index taken at each level
/// below the root, of the subtree to visit next. Valid while the tree's shape does not change,
/// which re-sealing itself never does (it copies pages, it does not split or merge them).
struct ResealPosition: Equatable {
    var path: [Int] = []
}

extension TreeMutator {
    /// Copies the pages of the tree that may be sealed under a previous data key — those whose link
    /// carries a txnid up to `old`, and the overflow chains their leaves reference — to new pages, so
    /// the commit seals them under its own key, together with the branches above them. Continues
    /// from `position`, and stops before copying more than `budget` leaf and overflow pages (a leaf
    /// is always copied with all its old chains, so one large value may exceed it). Returns whether
    /// the whole tree is done.
    ///
    /// A page's children are never newer than the page (copy-on-write rewrites the path up to the
    /// root), so an old branch has only old children, while a newer branch may still hold old ones:
    /// every branch is visited, and copied when one of its children was.
    mutating func reseal(sealedUpTo old: UInt64, budget: inout Int, from position: inout ResealPosition,
                         report: () -> Void) throws(SealKVError) -> Bool {
        guard !tree.root.isNone else { return true }
        let (link, done) = try reseal(tree.root, level: Int(tree.depth), upTo: old, budget: &budget,
                                      path: &position.path, depth: 0, report: report)
        if let link { tree.root = link }
        if done { position.path = [] }
        return done
    }

    private func reseal(_ link: PageLink, level: Int, upTo old: UInt64, budget: inout Int,
                        path: inout [Int], depth: Int, report: () -> Void) throws(SealKVError) -> (link: PageLink?, done: Bool) {
        if level <= 1 { return try resealLeaf(link, upTo: old, budget: &budget, report: report) }
        guard budget > 0 else { return (nil, false) }
        let children = try childLinks(of: link)
        if path.count <= depth { path.append(0) }
        var copied: [(index: Int, link: PageLink)] = []
        var done = true
        while path[depth] < children.count {
            let i = path[depth]
            let (child, childDone) = try reseal(children[i], level: level - 1, upTo: old, budget: &budget,
                                                path: &path, depth: depth + 1, report: report)
            if let child { copied.append((i, child)) }
            guard childDone else {
                done = false
                break
            }
            path.removeSubrange((depth + 1)...)
            path[depth] += 1
        }
        guard !copied.isEmpty else { return (nil, done) }
        let (page, p) = try pages.touch(link)
        report()
        let node = NodePage(p)
        for c in copied { node.setChild(c.index, c.link) }
        return (pages.link(toDirty: page), done)
    }

    private func resealLeaf(_ link: PageLink, upTo old: UInt64, budget: inout Int, report: () -> Void) throws(SealKVError) -> (link: PageLink?, done: Bool) {
        let oldChains = try pages.withPage(link) { (p) throws(SealKVError) -> [Int] in
            let node = NodePage(p)
            return (0..<node.count).filter { node.isOverflow($0) && node.overflowRef($0).link.txnID <= old }
        }
        guard link.txnID <= old || !oldChains.isEmpty else { return (nil, true) }
        guard budget > 0 else { return (nil, false) }
        let (page, p) = try pages.touch(link)
        budget -= 1
        report()
        let node = NodePage(p)
        for i in oldChains {
            let ref = node.overflowRef(i)
            // A chain is always written whole, under one txnid, so its first link dates all of it.
            let first = try OverflowChain.rewrite(first: ref.link, length: ref.length, in: pages) {
                budget -= 1
                report()
            }
            first.store(to: p, at: ref.linkOffset)
        }
        return (pages.link(toDirty: page), true)
    }
}
