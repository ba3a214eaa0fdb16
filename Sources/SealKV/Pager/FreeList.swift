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
