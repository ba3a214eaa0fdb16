/// Loads pages from storage, authenticates them against the link that names them, and keeps the
/// plaintext in the shared ``PageCache``.
final class Pager: Sendable {
    let storage: any PageStorage
    let keys: KeyRing
    let cache: PageCache
    let buffers: PageBufferPool
    /// How large the cache is, and how it grows with the store.
    let cacheSizing: CacheSizing
    /// Remembers sealed pages that opened across handles on images of one store (the crash
    /// harness's full checks); nil for every handle a user opens.
    let authenticationCache: AuthenticationCache?

    /// The sealer for new pages and metas.
    var sealer: PageSealer { keys.current }

    init(storage: any PageStorage, sealer: PageSealer, cacheSizing: CacheSizing, authenticationCache: AuthenticationCache? = nil) {
        self.storage = storage
        keys = KeyRing(sealer)
        self.cacheSizing = cacheSizing
        self.authenticationCache = authenticationCache
        cache = PageCache(byteCount: cacheSizing.target(storeBytes: storage.pageCount * UInt64(FileFormat.pageSize)),
                          maximumByteCount: cacheSizing.maximum)
        buffers = PageBufferPool()
    }

    /// A pager whose cache holds `cacheBytes`, always.
    convenience init(storage: any PageStorage, sealer: PageSealer, cacheBytes: Int) {
        self.init(storage: storage, sealer: sealer, cacheSizing: CacheSizing(fixed: cacheBytes))
    }

    /// Grows a self-sizing cache to what the store now needs (after a commit, or after a reader
    /// followed another process's commits): its file less `freePages`, the pages the writer knows
    /// to be free (a reader handle does not know them and passes 0). A file that grew while a
    /// snapshot pinned its old pages, then freed them, does not make the cache hold its free space:
    /// deleting half of a 1M-key store doubled the file, and the cache grew (and locked) to match.
    func fitCacheToStore(freePages: UInt64 = 0) {
        guard cacheSizing.fixed == nil else { return }
        let livePages = storage.pageCount - min(freePages, storage.pageCount)
        cache.grow(toBytes: cacheSizing.target(storeBytes: livePages * UInt64(FileFormat.pageSize)))
    }

    /// Runs `body` on the authenticated plaintext of `link`'s page, from the cache or, on a miss,
    /// loaded into `scratch` (evaluated only on a miss). `body` runs under a cache lock when the page
    /// was cached: it must be short and must not read other pages.
    @inline(__always)
    func withPage<R>(_ link: PageLink, epochs: KeyEpochRule, scratch: @autoclosure () -> UnsafeMutableRawPointer,
                     _ body: (UnsafeRawPointer) throws(SealKVError) -> R) throws(SealKVError) -> R {
        if let r = try cache.withPage(link, body) { return r }
        let buffer = scratch()
        try load(link, into: buffer, epochs: epochs)
        cache.insert(page: link.page, tag: link.tag, from: buffer)
        return try body(UnsafeRawPointer(buffer))
    }

    /// Free buffers the pool keeps mapped after a commit (16 MiB, as many as a transaction below
    /// ``borrowThreshold`` uses): such transactions then find their buffers ready instead of
    /// mapping, locking and faulting in fresh memory at every commit. Keeping 1,024 cost 1,000-update
    /// transactions about 8 % of their speed (about 1,500 buffers mapped and unmapped each time).
    static let idleBuffersKept = borrowThreshold
    /// A transaction borrows from the cache once it holds this many dirty pages (16 MiB): smaller
    /// ones never evict cached pages for buffers (a batch of 1,000 random updates at 1M keys
    /// dirties about 1,300 pages, and lending for it cost 5-10 % of its speed in cache misses).
    static let borrowThreshold = 4096
    /// The pool is topped up from the cache when it holds fewer free buffers than this...
    static let borrowLowWater = 256
    /// ...by this many.
    static let borrowBatch = 512

    /// Tops up the buffer pool with slots borrowed from the cache when a transaction with
    /// `dirtyPages` dirty pages is large and the pool runs low, so its dirty pages (and its
    /// commit's sealed copies) use the cache's memory rather than adding to it. Call with no cache
    /// lock held (the writer does, between operations).
    func borrowBuffersFromCache(dirtyPages: Int) {
        guard dirtyPages >= Self.borrowThreshold, buffers.freeCount < Self.borrowLowWater else { return }
        let lent = cache.lend(upTo: Self.borrowBatch)
        if !lent.isEmpty { buffers.add(lent) }
    }

    /// Gives every free borrowed buffer back to the cache (after a write transaction).
    func returnBorrowedBuffers() {
        guard cache.lentCount > 0 else { return }
        for p in buffers.removeFree(where: cache.owns) { cache.takeBack(p) }
    }

    /// Reads the pages of `links` that are not cached in one batch (in parallel where the storage
    /// allows) and caches those that authenticate. A page that fails is left out: reading it the
    /// normal way then reports what is wrong with it. Used for a scan's read-ahead.
    func prefetch(_ links: [PageLink], epochs: KeyEpochRule) {
        let end = storage.pageCount
        let missing = links.filter { $0.page >= FileFormat.firstDataPage && $0.page < end && !cache.contains($0) }
        guard missing.count > 1 else { return }
        let pages = missing.map { _ in buffers.take() }
        defer { for b in pages { buffers.give(b) } }
        do throws(SealKVError) {
            try storage.readPages(missing.map(\.page), into: pages)
        } catch {
            return
        }
        for (link, buffer) in zip(missing, pages) {
            do throws(SealKVError) {
                try authenticate(link, buffer: buffer, epochs: epochs)
                cache.insert(page: link.page, tag: link.tag, from: buffer)
            } catch {
                continue
            }
        }
    }

    /// Reads and authenticates `link`'s page into `buffer` (plaintext at the body offsets).
    func load(_ link: PageLink, into buffer: UnsafeMutableRawPointer, epochs: KeyEpochRule) throws(SealKVError) {
        guard link.page >= FileFormat.firstDataPage else {
            throw SealKVError.corrupted(page: link.page, "is referenced as a data page but is a meta slot or none")
        }
        try storage.readPage(link.page, into: buffer)
        try authenticate(link, buffer: buffer, epochs: epochs)
    }

    /// Checks a sealed page already in `buffer` against `link` and opens it in place, with the
    /// sealer of the page's key epoch if the snapshot's `epochs` allow it (see ``PageAuthentication``).
    /// `afresh` decrypts it even when the handle's ``authenticationCache`` remembers its bytes.
    func authenticate(_ link: PageLink, buffer: UnsafeMutableRawPointer, epochs: KeyEpochRule, afresh: Bool = false) throws(SealKVError) {
        try PageAuthentication.open(link, buffer: buffer, sealer: { epochs.sealer($0, txnID: link.txnID, in: keys) },
                                    cache: afresh ? nil : authenticationCache)
    }
}
