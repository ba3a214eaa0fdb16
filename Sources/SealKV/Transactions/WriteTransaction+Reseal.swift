/// Where a rekey's re-sealing stopped, across its batches: the trees still to do (named namespaces
/// first, whose new roots then change the catalog, and the free-page tree last, which every commit
/// reshapes) and the position inside the first of them.
struct ResealCursor {
    /// Nil until the first batch lists the trees.
    var remaining: [TreeID]?
    var position = ResealPosition()
}

extension WriteTransaction {
    /// Copies up to about `budget` pages that may be sealed under the previous data key (those
    /// written at or before txnid `old`) to new pages, so this commit seals them under its key,
    /// continuing where the previous batch stopped. The free-page tree, which each commit changes,
    /// is copied whole in the batch that reaches it, whatever its size. Returns the pages copied
    /// and whether none is left.
    func resealBatch(sealedUpTo old: UInt64, budget: Int, cursor: inout ResealCursor,
                     report: () -> Void) throws(SealKVError) -> (copied: Int, finished: Bool) {
        if cursor.remaining == nil {
            cursor.remaining = try namespaces().map { TreeID.namespace($0) } + [.main, .expiry, .catalog, .freePages]
        }
        var left = budget
        var copied = 0
        func counting() {
            copied += 1
            report()
        }
        while let tree = cursor.remaining?.first {
            if tree == .freePages { left = .max }
            let done = try mutate(tree) { (m) throws(SealKVError) in
                try m.reseal(sealedUpTo: old, budget: &left, from: &cursor.position, report: counting)
            }
            guard done else { return (copied, false) }
            cursor.remaining?.removeFirst()
            cursor.position = ResealPosition()
        }
        return (copied, true)
    }
}
