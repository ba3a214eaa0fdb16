/// A write transaction's pages: what it reads (``PageSpace``), plus copy-on-write of committed
/// pages, fresh pages from its ``PageAllocator``, and the release of pages it stops using.
///
/// The tree mutator changes trees through this type only; it never sees the allocator's rules.
final class WriteSpace: PageSpace {
    /// Where new pages come from and what becomes of freed ones.
    var allocator: PageAllocator
    /// Dirty pages from before the current savepoint: not changed in place (a rollback needs them
    /// as they were), but copied like committed pages. Empty when no savepoint is taken.
    /// (Behind a pointer, as ``PageSpace/dirty`` is: every copy-on-write checks it.)
    private var frozen: Set<UInt64> {
        unsafeAddress { UnsafePointer(frozenStorage) }
        unsafeMutableAddress { frozenStorage }
    }
    private let frozenStorage: UnsafeMutablePointer<Set<UInt64>> = {
        let p = UnsafeMutablePointer<Set<UInt64>>.allocate(capacity: 1)
        p.initialize(to: [])
        return p
    }()
    /// Frozen pages released since the savepoint: freed for good only when it is kept.
    private var releasedFrozen: [UInt64] = []

    /// What a rollback to a savepoint restores.
    struct Savepoint {
        fileprivate var allocator: PageAllocator
        fileprivate var dirty: DirtyPages
    }

    /// Marks the dirty pages as they are now: later changes copy them first, so
    /// ``rollback(to:)`` can return to this point.
    func savepoint() -> Savepoint {
        frozen = Set(dirty.keys)
        releasedFrozen = []
        return Savepoint(allocator: allocator, dirty: dirty)
    }

    /// Keeps the changes since the savepoint: the frozen pages they released are freed now.
    func keepSavepoint() {
        for page in releasedFrozen {
            if let buffer = dirty.removeValue(forKey: page) { pager.buffers.give(buffer) }
            allocator.release(page, wasDirty: true)
        }
        frozen = []
        releasedFrozen = []
    }

    /// Discards every change since `savepoint`: pages allocated since are given back, the
    /// allocator is as it was, and the frozen pages are dirty again as they were.
    func rollback(to savepoint: Savepoint) {
        for (page, buffer) in dirty where savepoint.dirty[page] == nil { pager.buffers.give(buffer) }
        dirty = savepoint.dirty
        allocator = savepoint.allocator
        frozen = []
        releasedFrozen = []
    }

    init(pager: Pager, txnID: UInt64, allocator: PageAllocator) {
        self.allocator = allocator
        super.init(pager: pager, writeTxnID: txnID)
    }

    deinit {
        frozenStorage.deinitialize(count: 1)
        frozenStorage.deallocate()
    }

    /// The txnid this transaction's pages are written with.
    var txnID: UInt64 { writeTxnID }

    /// The link to a dirty page (its tag is filled in when the commit seals it).
    @inline(__always)
    func link(toDirty page: UInt64) -> PageLink { PageLink(page: page, txnID: txnID, tag: .zero) }

    /// A fresh page (zeroed buffer) from the allocator, registered as dirty.
    func allocate() -> (page: UInt64, pointer: UnsafeMutableRawPointer) {
        let number = allocator.allocate()
        let buffer = pager.buffers.take()
        dirty[number] = buffer
        return (number, buffer)
    }

    /// Stops using `page`: a page dirtied in this transaction is reusable at once, a committed
    /// page joins this commit's freed pages.
    func release(_ page: UInt64) {
        if !frozen.isEmpty && frozen.contains(page) {
            frozen.remove(page)
            releasedFrozen.append(page)
            return
        }
        if let buffer = dirty.removeValue(forKey: page) {
            pager.buffers.give(buffer)
            allocator.release(page, wasDirty: true)
        } else {
            allocator.release(page, wasDirty: false)
        }
    }

    /// Makes the page `link` names writable: a dirty page is returned as it is; a committed page is
    /// copied to a newly allocated page (copy-on-write), stamped with this txnid, and released.
    func touch(_ link: PageLink) throws(SealKVError) -> (page: UInt64, pointer: UnsafeMutableRawPointer) {
        if link.txnID == txnID && (frozen.isEmpty || !frozen.contains(link.page)) {
            guard let p = dirty[link.page] else {
                throw SealKVError(.corrupted, "internal error: page \(link.page) is linked as dirty but is not", page: link.page)
            }
            return (link.page, p)
        }
        // Allocating inside the page's closure copies the page once, straight into its new buffer.
        // `withPage` fails only before the closure runs, so a failure leaves nothing allocated.
        // (The closure may run under a cache shard lock; allocation takes only the buffer pool's.)
        let (number, buffer) = try withPage(link) { (p) throws(SealKVError) -> (UInt64, UnsafeMutableRawPointer) in
            let (number, buffer) = allocate()
            buffer.copyMemory(from: p, byteCount: FileFormat.pageSize)
            return (number, buffer)
        }
        buffer.setU64(FileFormat.nodeTxnID, txnID)
        release(link.page)
        return (number, buffer)
    }
}
