@testable import SealKV
import Testing

/// The page allocator on its own: where pages come from, what becomes of released ones, held
/// tails, cuts of the file's end, and the passes that list what a commit freed.
@Suite("Page allocator")
struct PageAllocatorTests {
    /// A free list of chunks freed by the given txnids, each listing the given pages.
    func freeList(_ chunks: [(txnID: UInt64, pages: [UInt64])]) -> FreeList {
        FreeList(chunks: chunks.enumerated().map { FreeChunk(key: FreeChunkKey(txnID: $0.element.txnID, sequence: UInt32($0.offset)), pages: $0.element.pages) })
    }

    @Test func pagesComeFromReleasedThenFreeThenTheEnd() {
        let list = freeList([(3, [10, 11]), (5, [20])])
        // Pages freed by commit 5 are not reusable while a snapshot of commit 4 is alive (bound 4).
        var a = PageAllocator(basePageCount: 100, freeView: FreeListView(list: list, bound: 4, filePages: 100))
        #expect(a.allocate() == 10)
        #expect(a.allocate() == 11)
        #expect(a.allocate() == 100, "chunk 5 is not reusable yet, so the file grows")
        #expect(a.allocate() == 101)
        a.release(101, wasDirty: true)
        a.release(42, wasDirty: false)
        #expect(a.allocate() == 101, "a page allocated and released in this transaction is reusable at once")
        #expect(a.allocate() == 102, "a committed page this transaction freed is not")
        #expect(a.freed == [42])
        #expect(a.pageCount == 103)
        #expect(!a.isUnchanged)
    }

    @Test func theNewestChunksAreTakenFirstUnlessMuchIsFree() {
        let list = freeList([(1, [5, 6]), (2, [30, 31])])
        var recent = PageAllocator(basePageCount: 1000, freeView: FreeListView(list: list, bound: 10, filePages: 1000))
        #expect([recent.allocate(), recent.allocate(), recent.allocate()] == [30, 31, 5])
        // A quarter of the file free: the lowest page first, so live data gathers at the start.
        var lowest = PageAllocator(basePageCount: 16, freeView: FreeListView(list: list, bound: 10, filePages: 16))
        #expect([lowest.allocate(), lowest.allocate(), lowest.allocate()] == [5, 6, 30])
    }

    @Test func aHeldTailIsAppendedAboveAndListedAsFreed() {
        var a = PageAllocator(basePageCount: 50, freeView: FreeListView(list: freeList([]), bound: 0, filePages: 50), heldTailEnd: 60)
        #expect(a.heldPages == 50..<60)
        #expect(a.allocate() == 60, "a reader still reaches 50..<60: new pages go above them")
        a.freeHeldPages()
        #expect(a.freed == Array(50..<60))
        // A held end at or below the base is no hold at all.
        let none = PageAllocator(basePageCount: 50, freeView: FreeListView(list: freeList([]), bound: 0, filePages: 50), heldTailEnd: 40)
        #expect(none.heldPages.isEmpty && none.pageCount == 50)
    }

    @Test func aCutTailIsNotHandedOutAgainAndNeedingTheEndUndoesTheCut() {
        // Pages 97, 98, 99 are free and reusable: the file can end at 97.
        let list = freeList([(1, [40, 97, 98, 99])])
        var a = PageAllocator(basePageCount: 100, freeView: FreeListView(list: list, bound: 5, filePages: 100))
        #expect(a.plannedTail(includeReusableChunks: true, ownTail: false) == 97)
        a.trimTail(includeReusableChunks: true, ownTail: false)
        #expect(a.pageCount == 97)
        #expect(a.allocate() == 40)
        // The trimmed pages are gone from the view; with nothing else free, the end is needed:
        // the cut is undone, the high-water mark restored, and the cut pages listed as freed.
        #expect(a.allocate() == 100)
        #expect(a.freed.sorted() == [97, 98, 99])
        #expect(a.cutPagesOlderSnapshotsReach == nil)
    }

    @Test func ownFreedPagesAtTheEndAreCutOnlyWhenAllowed() {
        var a = PageAllocator(basePageCount: 20, freeView: FreeListView(list: freeList([]), bound: 0, filePages: 20))
        a.release(19, wasDirty: false)
        a.release(18, wasDirty: false)
        #expect(a.plannedTail(includeReusableChunks: false, ownTail: false) == 20, "without ownTail this commit's freed pages stay")
        a.trimTail(includeReusableChunks: false, ownTail: true)
        #expect(a.pageCount == 18)
        #expect(a.freed.isEmpty)
        #expect(a.cutPagesOlderSnapshotsReach == 20, "a reader older than this commit can still reach 18 and 19")
    }

    @Test func newlyFreePagesAreListedOnceAndTheReservationsEndIsCut() {
        let list = freeList([(1, [7, 8, 9])])
        var a = PageAllocator(basePageCount: 10, freeView: FreeListView(list: list, bound: 5, filePages: 1000))
        a.reserve(3)
        a.source = .appendingFreeList
        #expect(a.allocate() == 7, "the reservation hands out its lowest page first")
        a.release(3, wasDirty: false)
        #expect(a.takeNewlyFree(pass: 0) == [3], "the first pass lists what the commit released")
        // The leftovers 8 and 9 end the file: they are cut, not listed.
        #expect(a.takeNewlyFree(pass: 1) == [])
        #expect(a.pageCount == 8)
        #expect(!a.hasUnlistedPages)
    }
}
