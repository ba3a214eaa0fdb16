/// How a commit reaches the disk.
public enum Durability: Sendable, Equatable {
    /// Default. Every dirty page and the meta slot are written in one batch followed by one
    /// fdatasync. Safe because recovery authenticates every page the newest commit wrote (they are
    /// all reachable through links carrying its txnid) and falls back to the other slot if any fails.
    case oneSync
    /// Pages, fdatasync, then the meta slot, fdatasync: two syncs, no recovery check needed.
    case twoPhase
    /// No sync at commit; call `Database.sync()` to make commits durable. A power cut may lose the
    /// commits since the last sync but never corrupts the store: pages freed after the last synced
    /// commit are not reused until the next sync.
    case noSync
}

/// What a write transaction's commit will change, decided before any page is sealed: the file's
/// new length and the free list's changes (applied to the writer's copy once the commit is durable).
struct CommitPlan {
    var pageCount: UInt64
    var freeListChanges: (rewritten: [(index: Int, pages: [UInt64])], added: [FreeChunk])
}

/// A commit's pages, sealed: the new committed state (with every root's tag), the sealed pages not
/// yet handed to storage, and the plaintext of every page for the cache.
struct SealedCommit {
    var state: CommitState
    /// Sealed pages not yet written, in page order (buffers from the pool; the caller returns them).
    var remaining: [PageWrite]
    /// Plaintext of the sealed pages with their tags, for the cache once the commit is durable.
    var plaintext: [(page: UInt64, tag: PageTag, buffer: UnsafeMutableRawPointer)]
}

extension WriteTransaction {
    /// Sealed pages a commit hands to storage at a time: a large transaction never holds a sealed
    /// copy of all its pages at once (its memory is its dirty pages plus this many).
    static let sealedBatchPages = 256
    /// In a commit of more than ``sealedBatchPages`` pages, the first ``sealedBatchPages`` go out
    /// in batches this small, so the device starts sooner (1,000-update transactions at 1M keys:
    /// faster in each of six A/B pairs, +4 % median).
    static let firstSealedBatchPages = 64

    /// Folds namespace changes into the catalog, records freed pages in the free tree and trims free
    /// pages off the end of the file. After this the commit's pages and the file's length are final.
    func prepareCommit() throws(SealKVError) -> CommitPlan {
        // 0. Pages held off a cut tail are free in this commit's state (none of its trees uses them).
        freed.append(contentsOf: heldPages)
        // 1. Namespaces into the catalog (their root tags are patched in while sealing).
        for name in droppedNamespaces.sorted() where !changedNamespaces.contains(name) {
            try Array(name.utf8).withBytes { (k) throws(SealKVError) in _ = try treeDelete(&catalog, key: k) }
        }
        for name in changedNamespaces.sorted() {
            guard let t = namedTrees[name] else { continue }
            try Array(name.utf8).withBytes { (k) throws(SealKVError) in
                try t.bytes.withBytes { (v) throws(SealKVError) in _ = try treePut(&catalog, leafKind: .catalogLeaf, key: k, value: v) }
            }
        }

        // 2. Cut free pages off the end of the file. With a sync at every commit and no reader
        //    alive, pages this commit freed qualify too: the previous meta still finds them in the
        //    file until this commit is durable, and the file is cut only after that.
        let ownTail = database.options.durability != .noSync && database.shared.withLock { $0.readers.isEmpty }
        // When much of the file is free, move the free tree's and the catalog's pages that sit past
        // where the file could end down into free pages first, so they do not pin the tail.
        let reusableCount = UInt64(freeView.reusableCount + reusable.count)
        if reusableCount >= 16 && reusableCount * 4 >= pageCount {
            let limit = pageCount - reusableCount
            let preference = freeView.preference
            freeView.preference = .lowest
            try relocatePages(of: &freeTree, atOrAbove: limit)
            try relocatePages(of: &catalog, atOrAbove: limit)
            try relocatePages(of: &expiryTree, atOrAbove: limit)
            freeView.preference = preference
        }
        // 3. Reserve the pages writing the free list will need (its own copy-on-write), as the view
        //    prefers: the newest chunks (in the free tree's last leaf, rewritten anyway) or, when
        //    much of the file is free, the lowest pages, so the tree does not settle at the end of
        //    the file. Reserved pages are never
        //    cut, so the cut never has to be undone; leftovers are listed free and a later commit
        //    cuts them. Then cut the tail. From here new pages come from the reservation, then from
        //    the end of the file. The path to the free tree's last leaf is copied before the freed
        //    pages are counted, so adding this commit's chunks frees nothing more.
        let cut = plannedTail(includeReusableChunks: true, ownTail: ownTail)
        let depth = Int(max(freeTree.depth, 1))
        let touched = freeView.rewrittenChunks.count + freeView.chunksReaching(cut)
        let freeListChanges = !freed.isEmpty || !reusable.isEmpty || touched > 0
        // Each rewritten or appended chunk may copy a path and split a leaf; be generous, since
        // running short means taking a page from the end, which undoes the cut.
        let appended = (freed.count + reusable.count) / FreeList.chunkCapacity + 1
        var wanted = freeListChanges ? (touched + appended + 2) * (depth + 2) + 8 : 0
        while wanted > 0, let page = freeView.take() {
            reserved.append(page)
            wanted -= 1
        }
        reserved.sort(by: >)
        trimTail(includeReusableChunks: true, ownTail: ownTail)
        allocation = .rewritingFreeList
        let rewritten = freeView.rewrittenChunks
        for (index, pages) in rewritten {
            let key = freeView.list.chunks[index].key.bytes
            if pages.isEmpty {
                try key.withBytes { (k) throws(SealKVError) in _ = try treeDelete(&freeTree, key: k) }
            } else {
                let value = FreeChunk(key: freeView.list.chunks[index].key, pages: pages).valueBytes
                try key.withBytes { (k) throws(SealKVError) in
                    try value.withBytes { (v) throws(SealKVError) in _ = try treePut(&freeTree, leafKind: .leaf, key: k, value: v) }
                }
            }
        }
        if !freed.isEmpty || !reusable.isEmpty || !reserved.isEmpty {
            try touchRightmostPath(&freeTree)
        }
        trimTail(includeReusableChunks: false, ownTail: ownTail)
        allocation = .appendingFreeList
        var added: [FreeChunk] = []
        // First pass: list what this commit freed, appending with reserved pages. Second: list the
        // reservation's leftovers (taken out of it first, so none is both listed and used). Further
        // passes happen only if appending needed a page from the end after a cut, which puts the cut
        // pages back on the free list (see `allocate`).
        for pass in 0..<5 {
            var newlyFree = (freed + reusable).sorted()
            freed.removeAll()
            reusable.removeAll()
            if pass > 0 || newlyFree.isEmpty {
                // Unused reserved pages at the very end are cut rather than listed.
                let leftovers = Set(reserved)
                var newCount = pageCount
                while newCount > FileFormat.firstDataPage && leftovers.contains(newCount - 1) { newCount -= 1 }
                if newCount < pageCount {
                    if highWaterBeforeTrim == nil { highWaterBeforeTrim = pageCount }
                    trimmed.append(contentsOf: newCount..<pageCount)
                    pageCount = newCount
                }
                newlyFree = (newlyFree + reserved.filter { $0 < newCount }).sorted()
                reserved.removeAll()
            }
            if newlyFree.isEmpty { break }
            var start = 0
            while start < newlyFree.count {
                let end = min(start + FreeList.chunkCapacity, newlyFree.count)
                let chunk = FreeChunk(key: FreeChunkKey(txnID: txnID, sequence: UInt32(added.count)), pages: Array(newlyFree[start..<end]))
                added.append(chunk)
                try chunk.key.bytes.withBytes { (k) throws(SealKVError) in
                    try chunk.valueBytes.withBytes { (v) throws(SealKVError) in _ = try treePut(&freeTree, leafKind: .leaf, key: k, value: v) }
                }
                start = end
            }
        }
        guard freed.isEmpty && reusable.isEmpty && reserved.isEmpty else {
            throw SealKVError(.corrupted, "internal error: writing the free list kept freeing pages")
        }
        return CommitPlan(pageCount: pageCount, freeListChanges: (rewritten, added))
    }

    /// Seals every dirty page bottom-up from every root (children before the parents that carry
    /// their tags), handing full batches of ``sealedBatchPages`` sealed pages (of
    /// ``firstSealedBatchPages`` for the first of a commit larger than one batch) to `write` as it goes;
    /// `write` owns a batch's buffers from then on, also when it throws. The pages of the last,
    /// partial batch are returned unwritten.
    func sealCommit(writing write: ([PageWrite]) throws(SealKVError) -> Void) throws(SealKVError) -> SealedCommit {
        var batch: [PageWrite] = []
        var plaintext: [(page: UInt64, tag: PageTag, buffer: UnsafeMutableRawPointer)] = []
        var sealedCount = 0
        batch.reserveCapacity(Self.sealedBatchPages)
        // A commit that fills several batches starts with small ones; one that fits in a single
        // batch is written with its meta, as before (no thread).
        let firstBatches = dirty.count > Self.sealedBatchPages ? Self.firstSealedBatchPages : Self.sealedBatchPages
        plaintext.reserveCapacity(dirty.count)
        func giveBack(_ pages: [PageWrite]) {
            for w in pages { pager.buffers.give(UnsafeMutableRawPointer(mutating: w.bytes)) }
        }
        func flush() throws(SealKVError) {
            batch.sort { $0.page < $1.page }
            let full = batch
            batch.removeAll(keepingCapacity: true)
            try write(full)
        }
        do throws(SealKVError) {
            for tree in [\WriteTransaction.mainTree, \.catalog, \.freeTree, \.expiryTree] as [ReferenceWritableKeyPath<WriteTransaction, TreeDescriptor>] {
                self[keyPath: tree].root = try seal(root: self[keyPath: tree].root) { (page, tag, sealedPage, plain) throws(SealKVError) in
                    batch.append(PageWrite(page: page, bytes: UnsafeRawPointer(sealedPage)))
                    plaintext.append((page, tag, plain))
                    sealedCount += 1
                    if batch.count >= (sealedCount <= Self.sealedBatchPages ? firstBatches : Self.sealedBatchPages) { try flush() }
                }
            }
        } catch {
            giveBack(batch)
            throw error
        }
        guard sealedCount == dirty.count else {
            giveBack(batch)
            throw SealKVError(.corrupted, "internal error: \(dirty.count - sealedCount) changed pages are not reachable from any root")
        }
        batch.sort { $0.page < $1.page }
        let state = CommitState(txnID: txnID, pageCount: pageCount, main: mainTree, catalog: catalog, free: freeTree, expiry: expiryTree)
        return SealedCommit(state: state, remaining: batch, plaintext: plaintext)
    }

    /// Lowers the high-water mark past every free page at the end of the file. Candidates: pages
    /// freed and reserved in this transaction that are safe to drop now, pages of earlier commits
    /// that are reusable (only before the free list is written), and, with `ownTail`, pages this
    /// commit stopped using.
    private func trimTail(includeReusableChunks: Bool, ownTail: Bool) {
        let newCount = plannedTail(includeReusableChunks: includeReusableChunks, ownTail: ownTail)
        guard newCount < pageCount else { return }
        if highWaterBeforeTrim == nil { highWaterBeforeTrim = pageCount }
        trimmed.append(contentsOf: newCount..<pageCount)
        if ownTail && freed.contains(where: { $0 >= newCount }) { cutOwnFreedPages = true }
        if includeReusableChunks { freeView.trim(atOrAbove: newCount) }
        reusable.removeAll { $0 >= newCount }
        freed.removeAll { $0 >= newCount }
        pageCount = newCount
    }

    /// Where the file could end: below every free page at its end that may be dropped now.
    /// Reserved pages are not candidates (they are about to be used).
    private func plannedTail(includeReusableChunks: Bool, ownTail: Bool) -> UInt64 {
        let chunkTop = includeReusableChunks ? (freeView.largestReusable ?? 0) : 0
        let top = max(chunkTop, reusable.max() ?? 0, ownTail ? (freed.max() ?? 0) : 0)
        guard top != 0 && top == pageCount - 1 else { return pageCount }
        var free = Set(reusable)
        if includeReusableChunks { free.formUnion(freeView.reusablePages) }
        if ownTail { free.formUnion(freed) }
        var newCount = pageCount
        while newCount > FileFormat.firstDataPage && free.contains(newCount - 1) { newCount -= 1 }
        return newCount
    }

    /// Seals the dirty pages under `root` in post-order, patching each child's tag into its parent,
    /// and hands each to `emit` (page, tag, sealed buffer from the pool, plaintext). Returns the root
    /// link with its tag.
    private func seal(root: PageLink,
                      emit: (UInt64, PageTag, UnsafeMutableRawPointer, UnsafeMutableRawPointer) throws(SealKVError) -> Void) throws(SealKVError) -> PageLink {
        guard root.txnID == txnID else { return root }
        struct Frame {
            var page: UInt64
            var pointer: UnsafeMutableRawPointer
            var links: [(offset: Int, link: PageLink)]
            var next = 0
        }
        func frame(_ link: PageLink) throws(SealKVError) -> Frame {
            guard let p = dirty[link.page] else {
                throw SealKVError(.corrupted, "internal error: page \(link.page) is linked as dirty but is not", page: link.page)
            }
            return Frame(page: link.page, pointer: p, links: PageStructure.links(in: p).filter { $0.link.txnID == txnID })
        }
        var result = root
        var stack = [try frame(root)]
        while !stack.isEmpty {
            let top = stack.count - 1
            if stack[top].next < stack[top].links.count {
                let child = stack[top].links[stack[top].next].link
                stack[top].next += 1
                stack.append(try frame(child))
                continue
            }
            let done = stack.removeLast()
            let out = pager.buffers.take()
            let tag = commitSealer.seal(plaintext: done.pointer, into: out, number: done.page)
            try emit(done.page, tag, out, done.pointer)
            if let parent = stack.last {
                let offset = parent.links[parent.next - 1].offset
                tag.store(to: parent.pointer + offset + 16)
            } else {
                result.tag = tag
            }
        }
        return result
    }
}
