/// The pages one transaction sees: its snapshot's committed pages, authenticated and cached by the
/// ``Pager``, and — for a writer — its own changed pages, which links carrying its txnid name.
///
/// The B+tree reads through this type (``TreeReader``, ``TreeCursor``); a ``WriteSpace`` adds the
/// writer's copy-on-write and allocation.
class PageSpace {
    let pager: Pager
    /// Links carrying this txnid name pages in ``dirty``; `UInt64.max` for a reader.
    let writeTxnID: UInt64
    /// The writer's changed pages, in plaintext (always empty for a reader). Kept behind a pointer,
    /// not in a stored `var`: a class's stored property gets a dynamic exclusivity check on every
    /// access, two per level of every descent a writer makes, and a transaction is only ever used
    /// by one thread at a time.
    final var dirty: DirtyPages {
        unsafeAddress { UnsafePointer(dirtyStorage) }
        unsafeMutableAddress { dirtyStorage }
    }
    private let dirtyStorage: UnsafeMutablePointer<DirtyPages>
    /// A page buffer for cache misses, taken from the pool on the first miss (a read that finds
    /// every page cached never touches the pool).
    private final var scratchBuffer: UnsafeMutableRawPointer?

    init(pager: Pager, writeTxnID: UInt64) {
        self.pager = pager
        self.writeTxnID = writeTxnID
        dirtyStorage = .allocate(capacity: 1)
        dirtyStorage.initialize(to: DirtyPages())
    }

    deinit {
        if let scratchBuffer { pager.buffers.give(scratchBuffer) }
        if !dirty.isEmpty { releaseDirtyPages() }
        dirtyStorage.deinitialize(count: 1)
        dirtyStorage.deallocate()
    }

    private final var scratch: UnsafeMutableRawPointer {
        if let scratchBuffer { return scratchBuffer }
        let b = pager.buffers.take()
        scratchBuffer = b
        return b
    }

    /// Runs `body` on the plaintext of the page `link` names: the writer's own copy, or the
    /// committed page from the cache (under a cache lock: `body` must be short and must not read
    /// other pages) or, on a miss, from storage.
    @inline(__always)
    final func withPage<R>(_ link: PageLink, _ body: (UnsafeRawPointer) throws(SealKVError) -> R) throws(SealKVError) -> R {
        if link.txnID == writeTxnID {
            guard let p = dirty[link.page] else {
                throw SealKVError(.corrupted, "internal error: page \(link.page) is linked as written by this transaction but is not in its dirty set", page: link.page)
            }
            return try body(UnsafeRawPointer(p))
        }
        return try pager.withPage(link, scratch: scratch, body)
    }

    /// Gives every buffer back to the pool: the dirty pages' and the scratch page (when the
    /// transaction has ended: committed or abandoned).
    final func releaseBuffers() {
        releaseDirtyPages()
        if let scratchBuffer {
            pager.buffers.give(scratchBuffer)
            self.scratchBuffer = nil
        }
    }

    /// Gives the dirty pages' buffers back to the pool (once a commit has written and cached them,
    /// or when the transaction is abandoned).
    final func releaseDirtyPages() {
        for (_, p) in dirty { pager.buffers.give(p) }
        dirty.removeAll()
    }
}
