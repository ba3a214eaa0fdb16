/// What a write transaction's commit will change, decided before any page is sealed: the file's
/// new length and the free list's changes (applied to the writer's copy once the commit is durable).
struct CommitPlan {
    var pageCount: UInt64
    var freeListChanges: (rewritten: [(index: Int, pages: [UInt64])], added: [FreeChunk])

    /// Folds the transaction's namespace changes into the catalog, records the pages it freed in the
    /// free-page tree and cuts free pages off the end of the file. After this the commit's pages and
    /// the file's length are final.
    ///
    /// Writing the free list changes the free tree, which needs and frees pages of its own. The
    /// circle is broken in a fixed order: reserve reusable pages (generously: running short costs a
    /// shrink, never correctness), cut the tail (reserved pages are never cut), rewrite the chunks
    /// this commit took pages from using released or reserved pages, copy the free tree's
    /// rightmost path (so appending frees nothing more), append this commit's chunks using reserved
    /// pages only, and finally list (or cut) the reservation's leftovers.
    ///
    /// - Parameter ownTail: whether the commit may cut the pages it freed itself (a sync at every
    ///   commit and no reader alive: the previous meta still finds them until this commit is
    ///   durable, and the file is cut only after that).
    static func make(for tx: WriteTransaction, ownTail: Bool) throws(SealKVError) -> CommitPlan {
        tx.space.allocator.freeHeldPages()
        try foldNamespacesIntoCatalog(tx)
        try relocateInternalTreesIfMuchIsFree(tx)
        let list = tx.space.allocator.freeView.list
        reserveForFreeList(tx, ownTail: ownTail)
        tx.space.allocator.trimTail(includeReusableChunks: true, ownTail: ownTail)

        tx.space.allocator.source = .rewritingFreeList
        let rewritten = tx.space.allocator.freeView.rewrittenChunks
        try FreePageTree.writeRewrittenChunks(rewritten, of: list, in: tx)
        if tx.space.allocator.hasUnlistedPages {
            _ = try tx.mutate(.freePages) { (m) throws(SealKVError) in try m.touchRightmostPath() }
        }
        tx.space.allocator.trimTail(includeReusableChunks: false, ownTail: ownTail)

        tx.space.allocator.source = .appendingFreeList
        var added: [FreeChunk] = []
        // First pass: list what this commit freed, appending with reserved pages. Second: list the
        // reservation's leftovers. Further passes happen only if appending needed a page from the
        // end after a cut, which puts the cut pages back on the free list (see `allocate`).
        for pass in 0..<5 {
            let newlyFree = tx.space.allocator.takeNewlyFree(pass: pass)
            if newlyFree.isEmpty { break }
            try FreePageTree.append(newlyFree, in: tx, added: &added)
        }
        guard !tx.space.allocator.hasUnlistedPages else {
            throw SealKVError(.corrupted, "internal error: writing the free list kept freeing pages")
        }
        return CommitPlan(pageCount: tx.space.allocator.pageCount, freeListChanges: (rewritten, added))
    }

    /// Writes every created or changed namespace's descriptor into the catalog and removes the
    /// dropped ones (their root tags are patched in while sealing).
    private static func foldNamespacesIntoCatalog(_ tx: WriteTransaction) throws(SealKVError) {
        for name in tx.droppedNamespaces.sorted() where !tx.changedNamespaces.contains(name) {
            try Array(name.utf8).withBytes { (k) throws(SealKVError) in
                _ = try tx.mutate(.catalog) { (m) throws(SealKVError) in try m.delete(k) }
            }
        }
        for name in tx.changedNamespaces.sorted() {
            guard let t = tx.namedTrees[name] else { continue }
            try Array(name.utf8).withBytes { (k) throws(SealKVError) in
                try t.bytes.withBytes { (v) throws(SealKVError) in
                    _ = try tx.mutate(.catalog) { (m) throws(SealKVError) in try m.put(k, v) }
                }
            }
        }
    }

    /// When much of the file is free, moves the free tree's, the catalog's and the expiry index's
    /// pages that sit past where the file could end down into free pages, so they do not pin the
    /// tail (user trees move down as their pages are rewritten).
    private static func relocateInternalTreesIfMuchIsFree(_ tx: WriteTransaction) throws(SealKVError) {
        let allocator = tx.space.allocator
        let reusableCount = UInt64(allocator.freeView.reusableCount + allocator.reusable.count)
        guard reusableCount >= 16 && reusableCount * 4 >= allocator.pageCount else { return }
        let limit = allocator.pageCount - reusableCount
        let preference = allocator.freeView.preference
        tx.space.allocator.freeView.preference = .lowest
        defer { tx.space.allocator.freeView.preference = preference }
        for tree in [TreeID.freePages, .catalog, .expiry] {
            _ = try tx.mutate(tree) { (m) throws(SealKVError) in try m.relocatePages(atOrAbove: limit) }
        }
    }

    /// Reserves the pages writing the free list will need (its own copy-on-write), as the free
    /// list view prefers: the newest chunks (in the free tree's last leaf, rewritten anyway) or,
    /// when much of the file is free, the lowest pages.
    private static func reserveForFreeList(_ tx: WriteTransaction, ownTail: Bool) {
        let allocator = tx.space.allocator
        let cut = allocator.plannedTail(includeReusableChunks: true, ownTail: ownTail)
        let depth = Int(max(tx.freeTree.depth, 1))
        let touched = allocator.freeView.rewrittenChunks.count + allocator.freeView.chunksReaching(cut)
        let listChanges = !allocator.freed.isEmpty || !allocator.reusable.isEmpty || touched > 0
        // Each rewritten or appended chunk may copy a path and split a leaf; be generous, since
        // running short means taking a page from the end, which undoes the cut.
        let appended = (allocator.freed.count + allocator.reusable.count) / FileFormat.freeChunkCapacity + 1
        tx.space.allocator.reserve(listChanges ? (touched + appended + 2) * (depth + 2) + 8 : 0)
    }
}
