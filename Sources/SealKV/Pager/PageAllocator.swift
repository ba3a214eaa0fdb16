/// Where one write transaction's new pages come from, and what becomes of the pages it stops
/// using: the reuse rules, the file's high-water mark, held tails and tail cuts, in one place.
///
/// New pages come from, in order: pages this transaction allocated and released again, free pages
/// of earlier commits that no snapshot can reach (``FreeListView``), and the end of the file. While
/// the commit writes the free list itself, taking from the free list would change what is being
/// written, so the commit switches ``source``: chunks are rewritten with pages released in this
/// commit or reserved for it, and this commit's own chunks are appended with reserved pages only.
///
/// A page cut off the end of the file is never handed out again in the same commit: some of those
/// pages may still belong to the previous commit, which recovery needs until this one is durable.
/// If the end is needed after all, the cut is undone and the cut pages are listed as freed.
struct PageAllocator {
    /// Which pages ``allocate()`` may hand out.
    enum Source {
        /// Released pages, then the free list, then the end of the file.
        case normal
        /// Released pages, then the reservation, then the end of the file (rewriting free chunks).
        case rewritingFreeList
        /// The reservation, then the end of the file (appending this commit's chunks, which list
        /// every released page).
        case appendingFreeList
    }

    /// High-water mark: pages at and above it are not in the file yet.
    private(set) var pageCount: UInt64
    /// The committed state's high-water mark.
    let basePageCount: UInt64
    /// Committed pages this transaction stopped using: reusable once no snapshot reaches them.
    private(set) var freed: [UInt64] = []
    /// Pages allocated in this transaction and released again: reusable at once.
    private(set) var reusable: [UInt64] = []
    /// Free pages of earlier commits this transaction may take.
    var freeView: FreeListView
    var source = Source.normal
    /// Reusable pages set aside for writing the free list, kept sorted descending so `popLast`
    /// hands out the lowest.
    private(set) var reserved: [UInt64] = []
    /// Pages cut off the end of the file by this commit, and the high-water mark before the cut.
    private(set) var trimmed: [UInt64] = []
    private(set) var highWaterBeforeTrim: UInt64?
    /// Whether the cut took pages this commit freed itself (allowed only with no reader alive).
    private(set) var cutOwnFreedPages = false
    /// Pages past the base's end that an older reader's snapshot still reaches (an earlier commit
    /// cut them): new pages are appended above them, and this commit lists them as freed.
    private(set) var heldPages: Range<UInt64> = 0..<0
    /// A deliberate bug for the crash harness's self-test: reuse freed pages within their commit.
    private let reuseFreedPagesAtOnce: Bool

    /// An allocator for a transaction on a committed state of `basePageCount` pages. With
    /// `heldTailEnd`, appends start there instead (see ``heldPages``).
    init(basePageCount: UInt64, freeView: FreeListView, heldTailEnd: UInt64? = nil, reuseFreedPagesAtOnce: Bool = false) {
        pageCount = basePageCount
        self.basePageCount = basePageCount
        self.freeView = freeView
        self.reuseFreedPagesAtOnce = reuseFreedPagesAtOnce
        if let end = heldTailEnd, end > basePageCount {
            heldPages = basePageCount..<end
            pageCount = end
        }
    }

    /// Whether the transaction changed anything the free list records.
    var isUnchanged: Bool { freed.isEmpty && reusable.isEmpty && freeView.rewrittenChunks.isEmpty }

    /// When this commit cut pages it freed itself: the end of the file before the cut, capped at
    /// the base's end (pages above it were never in an older snapshot).
    var cutPagesOlderSnapshotsReach: UInt64? {
        guard cutOwnFreedPages, let before = highWaterBeforeTrim else { return nil }
        return min(before, basePageCount)
    }

    // MARK: Allocation

    /// The number of a fresh page, as ``source`` allows.
    mutating func allocate() -> UInt64 {
        if source != .appendingFreeList, let p = reusable.popLast() { return p }
        if source == .normal, let p = freeView.take() { return p }
        if source != .normal, let p = reserved.popLast() { return p }
        if let before = highWaterBeforeTrim {
            // The end is needed after all: undo the cut, and list the cut pages as freed.
            pageCount = max(pageCount, before)
            freed.append(contentsOf: trimmed)
            trimmed.removeAll()
            highWaterBeforeTrim = nil
            cutOwnFreedPages = false
        }
        defer { pageCount += 1 }
        return pageCount
    }

    /// Records that `page` is no longer used: reusable at once if this transaction allocated it
    /// (`wasDirty`), otherwise freed by this commit.
    mutating func release(_ page: UInt64, wasDirty: Bool) {
        if wasDirty || reuseFreedPagesAtOnce { reusable.append(page) } else { freed.append(page) }
    }

    // MARK: Planning the commit

    /// Lists the held pages as freed by this commit (none of its trees uses them).
    mutating func freeHeldPages() {
        freed.append(contentsOf: heldPages)
    }

    /// Sets aside up to `count` reusable pages for writing the free list.
    mutating func reserve(_ count: Int) {
        var wanted = count
        while wanted > 0, let page = freeView.take() {
            reserved.append(page)
            wanted -= 1
        }
        reserved.sort(by: >)
    }

    /// Where the file could end: below every free page at its end that may be dropped now. The
    /// candidates are pages freed and reusable in this transaction, pages of earlier commits that
    /// are reusable (with `includeReusableChunks`), and, with `ownTail`, pages this commit freed.
    /// Reserved pages are not candidates (they are about to be used).
    func plannedTail(includeReusableChunks: Bool, ownTail: Bool) -> UInt64 {
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

    /// Lowers the high-water mark past every free page at the end of the file (see
    /// ``plannedTail(includeReusableChunks:ownTail:)``).
    mutating func trimTail(includeReusableChunks: Bool, ownTail: Bool) {
        let newCount = plannedTail(includeReusableChunks: includeReusableChunks, ownTail: ownTail)
        guard newCount < pageCount else { return }
        if ownTail && freed.contains(where: { $0 >= newCount }) { cutOwnFreedPages = true }
        if includeReusableChunks { freeView.trim(atOrAbove: newCount) }
        reusable.removeAll { $0 >= newCount }
        freed.removeAll { $0 >= newCount }
        cut(to: newCount)
    }

    /// The pages that became free in this commit and must be listed, taken out of the allocator.
    /// The first pass takes what the commit released; later passes (and a first pass with nothing
    /// released) also take the reservation's leftovers, cutting those at the very end of the file
    /// instead of listing them.
    mutating func takeNewlyFree(pass: Int) -> [UInt64] {
        var newlyFree = freed + reusable
        freed.removeAll()
        reusable.removeAll()
        if pass > 0 || newlyFree.isEmpty {
            let leftovers = Set(reserved)
            var newCount = pageCount
            while newCount > FileFormat.firstDataPage && leftovers.contains(newCount - 1) { newCount -= 1 }
            if newCount < pageCount { cut(to: newCount) }
            newlyFree += reserved.filter { $0 < newCount }
            reserved.removeAll()
        }
        return newlyFree.sorted()
    }

    /// Whether every released and reserved page has been listed.
    var hasUnlistedPages: Bool { !freed.isEmpty || !reusable.isEmpty || !reserved.isEmpty }

    private mutating func cut(to newCount: UInt64) {
        if highWaterBeforeTrim == nil { highWaterBeforeTrim = pageCount }
        trimmed.append(contentsOf: newCount..<pageCount)
        pageCount = newCount
    }
}
