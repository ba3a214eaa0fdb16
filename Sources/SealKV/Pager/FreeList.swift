/// The writer's in-memory copy of the free-page tree, loaded once per handle.
///
/// The tree maps (txnid, sequence) to the pages that commit freed. Each commit adds its own chunks
/// and rewrites only the chunks it took pages from, so the list is never rewritten whole.
final class FreeList {
    /// Pages per chunk: 128 page numbers make a 1 KiB value, stored inline in a leaf.
    static let chunkCapacity = FileFormat.freeChunkCapacity

    private(set) var chunks: [FreeChunk]
    /// Pages listed in all chunks.
    private(set) var pageCount: Int

    init(chunks: [FreeChunk]) {
        self.chunks = chunks
        pageCount = chunks.reduce(0) { $0 + $1.pages.count }
    }

    /// Applies a committed transaction's changes: rewritten or removed chunks, then its new ones.
    func apply(rewritten: [(index: Int, pages: [UInt64])], added: [FreeChunk]) {
        var removed = Set<Int>()
        for (i, pages) in rewritten {
            pageCount += pages.count - chunks[i].pages.count
            if pages.isEmpty { removed.insert(i) } else { chunks[i].pages = pages }
        }
        if !removed.isEmpty {
            chunks = chunks.enumerated().filter { !removed.contains($0.offset) }.map { $0.element }
        }
        // This commit's txnid is the largest in the list, so its chunks go at the end in order.
        precondition(added.first.map { first in chunks.last.map { $0.key < first.key } ?? true } ?? true)
        chunks.append(contentsOf: added)
        pageCount += added.reduce(0) { $0 + $1.pages.count }
        assert(pageCount == chunks.reduce(0) { $0 + $1.pages.count }, "the free list's page count drifted")
    }
}

/// One write transaction's view of the free list: which free pages it has taken and trimmed.
/// Nothing changes in the ``FreeList`` until the transaction commits.
struct FreeListView {
    let list: FreeList
    /// Pages freed by commits up to this txnid may be reused.
    let bound: UInt64
    /// Pages taken from the front of each touched chunk.
    private(set) var taken: [Int: Int] = [:]
    /// Pages trimmed from the back of each touched chunk (the file's tail was cut off).
    private(set) var trimmed: [Int: Int] = [:]
    /// Chunks are sorted by txnid, so the reusable ones are a prefix: `0..<reusableEnd`.
    private let reusableEnd: Int
    /// Min-heap of (next page, chunk index) over reusable chunks, built on first use.
    private var heap: [(page: UInt64, chunk: Int)]? = nil
    /// Chunks at and above this index have nothing left to take (for ``Preference/recent``).
    private var recentEnd: Int

    /// Which free page ``take()`` hands out.
    enum Preference {
        /// From the newest reusable chunk first. Those chunks sit in the free tree's last leaf,
        /// which every commit rewrites anyway to list what it freed, so a small commit that reuses
        /// them writes no other free-tree page: one page fewer per durable single-put commit.
        case recent
        /// The lowest page of all: moves live pages towards the start of the file so its end can
        /// be cut (used when pages are relocated to shrink the file).
        case lowest
    }
    var preference: Preference

    /// Whether the free pages are enough of the file (a quarter of `filePages` or more) that live
    /// pages should be packed low, so the file's end can be cut.
    static func prefersLowest(freePages: Int, filePages: UInt64) -> Bool {
        UInt64(freePages) * 4 >= filePages
    }

    /// A view of `list` that may reuse pages freed by commits up to `bound`, in a file of
    /// `filePages` pages (which decides the ``preference``).
    init(list: FreeList, bound: UInt64, filePages: UInt64) {
        self.list = list
        self.bound = bound
        preference = Self.prefersLowest(freePages: list.pageCount, filePages: filePages) ? .lowest : .recent
        var lo = 0, hi = list.chunks.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if list.chunks[mid].key.txnID <= bound { lo = mid + 1 } else { hi = mid }
        }
        reusableEnd = lo
        recentEnd = lo
    }

    private func remaining(_ i: Int) -> Range<Int> {
        (taken[i] ?? 0)..<(list.chunks[i].pages.count - (trimmed[i] ?? 0))
    }

    /// Takes a reusable page as ``preference`` says, or nil when none is left.
    mutating func take() -> UInt64? {
        switch preference {
        case .recent: return takeRecent()
        case .lowest: return takeLowest()
        }
    }

    /// The lowest remaining page of the newest chunk that has one.
    /// - Complexity: amortised O(1).
    private mutating func takeRecent() -> UInt64? {
        while recentEnd > 0 {
            let i = recentEnd - 1
            let r = remaining(i)
            if let first = r.first {
                taken[i] = first + 1
                return list.chunks[i].pages[first]
            }
            recentEnd -= 1
        }
        return nil
    }

    /// The lowest reusable page of all.
    /// - Complexity: O(log c) for c reusable chunks (O(c) on the first call).
    private mutating func takeLowest() -> UInt64? {
        if heap == nil {
            var h: [(page: UInt64, chunk: Int)] = []
            for i in 0..<reusableEnd {
                let r = remaining(i)
                if !r.isEmpty { h.append((list.chunks[i].pages[r.lowerBound], i)) }
            }
            h.sort { $0.page < $1.page }   // a sorted array is a valid min-heap
            heap = h
        }
        guard var h = heap else { return nil }
        defer { heap = h }
        while let top = h.first {
            let i = top.chunk
            let r = remaining(i)
            Self.popHeap(&h)
            // A head can be stale when the chunk was trimmed after the heap was built.
            guard !r.isEmpty, list.chunks[i].pages[r.lowerBound] == top.page else {
                if let next = r.first { Self.pushHeap(&h, (list.chunks[i].pages[next], i)) }
                continue
            }
            taken[i] = r.lowerBound + 1
            if r.count > 1 { Self.pushHeap(&h, (list.chunks[i].pages[r.lowerBound + 1], i)) }
            return top.page
        }
        return nil
    }

    private static func pushHeap(_ h: inout [(page: UInt64, chunk: Int)], _ e: (page: UInt64, chunk: Int)) {
        h.append(e)
        var c = h.count - 1
        while c > 0 {
            let p = (c - 1) / 2
            if h[p].page <= h[c].page { break }
            h.swapAt(p, c)
            c = p
        }
    }

    private static func popHeap(_ h: inout [(page: UInt64, chunk: Int)]) {
        h.swapAt(0, h.count - 1)
        h.removeLast()
        var p = 0
        while true {
            let l = 2 * p + 1, r = l + 1
            var m = p
            if l < h.count && h[l].page < h[m].page { m = l }
            if r < h.count && h[r].page < h[m].page { m = r }
            if m == p { break }
            h.swapAt(p, m)
            p = m
        }
    }

    /// The largest reusable page still available.
    var largestReusable: UInt64? {
        var best: UInt64? = nil
        for i in 0..<reusableEnd {
            let r = remaining(i)
            if let last = r.last.map({ list.chunks[i].pages[$0] }) { best = max(best ?? 0, last) }
        }
        return best
    }

    /// How many reusable pages are still available.
    /// - Complexity: O(c) for c chunks.
    var reusableCount: Int {
        var n = 0
        for i in 0..<reusableEnd { n += remaining(i).count }
        return n
    }

    /// All reusable pages still available.
    var reusablePages: [UInt64] {
        var out: [UInt64] = []
        for i in 0..<reusableEnd {
            out.append(contentsOf: list.chunks[i].pages[remaining(i)])
        }
        return out
    }

    /// How many reusable chunks hold a page at or above `limit` (a cut there rewrites them).
    func chunksReaching(_ limit: UInt64) -> Int {
        var n = 0
        for i in 0..<reusableEnd {
            let r = remaining(i)
            if let last = r.last, list.chunks[i].pages[last] >= limit { n += 1 }
        }
        return n
    }

    /// Removes every reusable page at or above `limit` (they lie past the file's new end).
    mutating func trim(atOrAbove limit: UInt64) {
        for i in 0..<reusableEnd {
            let r = remaining(i)
            let cut = list.chunks[i].pages[r].reversed().prefix { $0 >= limit }.count
            if cut > 0 { trimmed[i] = (trimmed[i] ?? 0) + cut }
        }
    }

    /// Chunks whose content changed, with the pages they keep (empty: remove the chunk).
    var rewrittenChunks: [(index: Int, pages: [UInt64])] {
        Set(taken.keys).union(trimmed.keys).sorted().map { i in (i, Array(list.chunks[i].pages[remaining(i)])) }
    }
}
