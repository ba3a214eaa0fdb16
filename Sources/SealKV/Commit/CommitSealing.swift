/// A commit's pages, sealed: the new committed state (with every root's tag), the sealed pages not
/// yet handed to storage, and the plaintext of every page for the cache.
struct SealedCommit {
    var state: CommitState
    /// Sealed pages not yet written, in page order (buffers from the pool; the caller returns them).
    var remaining: [PageWrite]
    /// Plaintext of the sealed pages with their tags, for the cache once the commit is durable.
    var plaintext: [(page: UInt64, tag: PageTag, buffer: UnsafeMutableRawPointer)]
}

/// Seals a commit's dirty pages bottom-up: children before the parents that carry their tags, the
/// roots last, so every link in the file pins its child's exact content.
enum CommitSealing {
    /// Sealed pages a commit hands to storage at a time: a large transaction never holds a sealed
    /// copy of all its pages at once (its memory is its dirty pages plus this many).
    static let batchPages = 256
    /// In a commit of more than ``batchPages`` pages, the first ``batchPages`` go out in batches
    /// this small, so the device starts sooner (1,000-update transactions at 1M keys: faster in
    /// each of six A/B pairs, +4 % median).
    static let firstBatchPages = 64

    /// Seals every dirty page of `tx` from every root in post-order, handing full batches to
    /// `write` as it goes; `write` owns a batch's buffers from then on, also when it throws. The
    /// pages of the last, partial batch are returned unwritten.
    static func seal(_ tx: WriteTransaction, pageCount: UInt64,
                     writing write: ([PageWrite]) throws(SealKVError) -> Void) throws(SealKVError) -> SealedCommit {
        let space = tx.space
        var batch: [PageWrite] = []
        var plaintext: [(page: UInt64, tag: PageTag, buffer: UnsafeMutableRawPointer)] = []
        var sealedCount = 0
        batch.reserveCapacity(batchPages)
        // A commit that fills several batches starts with small ones; one that fits in a single
        // batch is written with its meta (no thread).
        let firstBatches = space.dirty.count > batchPages ? firstBatchPages : batchPages
        plaintext.reserveCapacity(space.dirty.count)
        func giveBack(_ pages: [PageWrite]) {
            for w in pages { tx.pager.buffers.give(UnsafeMutableRawPointer(mutating: w.bytes)) }
        }
        func flush() throws(SealKVError) {
            batch.sort { $0.page < $1.page }
            let full = batch
            batch.removeAll(keepingCapacity: true)
            try write(full)
        }
        var roots: [TreeID: PageLink] = [:]
        do throws(SealKVError) {
            for tree in TreeID.builtIn {
                roots[tree] = try sealTree(from: try tx.descriptor(of: tree)!.root, in: space, sealer: tx.commitSealer) { (page, tag, sealedPage, plain) throws(SealKVError) in
                    batch.append(PageWrite(page: page, bytes: UnsafeRawPointer(sealedPage)))
                    plaintext.append((page, tag, plain))
                    sealedCount += 1
                    if batch.count >= (sealedCount <= batchPages ? firstBatches : batchPages) { try flush() }
                }
            }
        } catch {
            giveBack(batch)
            throw error
        }
        guard sealedCount == space.dirty.count else {
            giveBack(batch)
            throw SealKVError(.corrupted, "internal error: \(space.dirty.count - sealedCount) changed pages are not reachable from any root")
        }
        batch.sort { $0.page < $1.page }
        tx.mainTree.root = roots[.main]!
        tx.catalog.root = roots[.catalog]!
        tx.freeTree.root = roots[.freePages]!
        tx.expiryTree.root = roots[.expiry]!
        var state = CommitState(txnID: tx.txnID, pageCount: pageCount, main: tx.mainTree, catalog: tx.catalog, free: tx.freeTree, expiry: tx.expiryTree)
        state.rekey = tx.rekey
        return SealedCommit(state: state, remaining: batch, plaintext: plaintext)
    }

    /// Seals the dirty pages under `root` in post-order, patching each child's tag into its parent,
    /// and hands each to `emit` (page, tag, sealed buffer from the pool, plaintext). Returns the root
    /// link with its tag.
    private static func sealTree(from root: PageLink, in space: WriteSpace, sealer: PageSealer,
                                 emit: (UInt64, PageTag, UnsafeMutableRawPointer, UnsafeMutableRawPointer) throws(SealKVError) -> Void) throws(SealKVError) -> PageLink {
        guard root.txnID == space.txnID else { return root }
        struct Frame {
            var page: UInt64
            var pointer: UnsafeMutableRawPointer
            var links: [(offset: Int, link: PageLink)]
            var next = 0
        }
        func frame(_ link: PageLink) throws(SealKVError) -> Frame {
            guard let p = space.dirty[link.page] else {
                throw SealKVError(.corrupted, "internal error: page \(link.page) is linked as dirty but is not", page: link.page)
            }
            return Frame(page: link.page, pointer: p, links: PageStructure.links(in: p).filter { $0.link.txnID == space.txnID })
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
            let out = space.pager.buffers.take()
            let tag = sealer.seal(plaintext: done.pointer, into: out, number: done.page)
            try emit(done.page, tag, out, done.pointer)
            if let parent = stack.last {
                let offset = parent.links[parent.next - 1].offset
                tag.store(to: parent.pointer + offset + FileFormat.linkTag)
            } else {
                result.tag = tag
            }
        }
        return result
    }
}
