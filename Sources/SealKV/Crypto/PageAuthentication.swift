/// The one routine that decides whether a page read from storage is the page a link names: its
/// stored tag equals the link's copy, its AEAD opens under the key of its epoch, its sealed txnid
/// equals the link's, and its plaintext is structurally sound. Pager loads, recovery, prefetching
/// and `check` all call it.
enum PageAuthentication {
    /// Checks the sealed page in `buffer` against `link` and opens it in place (plaintext at the
    /// body offsets); `sealer` gives the sealer of a key epoch, if known. With `cache`, a page whose
    /// exact sealed bytes opened before under the same sealer is not decrypted again (see
    /// ``AuthenticationCache``); every check here still runs on it.
    /// - Returns: the sealer that opened it.
    @discardableResult
    static func open(_ link: PageLink, buffer: UnsafeMutableRawPointer, sealer: (UInt32) -> PageSealer?,
                     cache: AuthenticationCache? = nil) throws(SealKVError) -> PageSealer {
        let opener = try sealerFor(link, tag: PageTag(from: buffer + FileFormat.tagOffset),
                                   epoch: buffer.u32(FileFormat.headerKeyEpoch), sealer: sealer)
        guard cache?.open(page: buffer, number: link.page, sealer: opener) ?? opener.open(page: buffer, number: link.page) else {
            throw SealKVError.corrupted(page: link.page, "fails authentication")
        }
        try checkWriter(link, txnID: buffer.u64(FileFormat.nodeTxnID))
        if let problem = PageStructure.problem(in: UnsafeRawPointer(buffer)) {
            throw SealKVError.corrupted(page: link.page, problem)
        }
        return opener
    }

    /// Whether ``check(_:remembered:sealer:)`` can stand for opening the page: the sealer the link
    /// allows for the page's key epoch is the one that opened it (or the link allows none, which
    /// the check refuses as opening would). Otherwise the page must be read and opened.
    static func canCheck(_ link: PageLink, remembered page: VerifiedPage, sealer: (UInt32) -> PageSealer?) -> Bool {
        sealer(page.epoch).map(page.wasOpened(by:)) ?? true
    }

    /// The checks of ``open(_:buffer:sealer:cache:)``, in its order, for a page whose exact bytes
    /// passed them before, from what that open established (``VerifiedPage``): the link's tag, the
    /// epoch's sealer, the writer's txnid. Decryption and the structural check depend on the bytes,
    /// the page number (the cache's key) and the sealer alone (``canCheck(_:remembered:sealer:)`` must
    /// hold), so they hold again.
    static func check(_ link: PageLink, remembered page: VerifiedPage, sealer: (UInt32) -> PageSealer?) throws(SealKVError) {
        let opener = try sealerFor(link, tag: page.tag, epoch: page.epoch, sealer: sealer)
        assert(page.wasOpened(by: opener))
        try checkWriter(link, txnID: page.txnID)
    }

    /// The stored tag must be the link's; the page's key epoch must be one its commit allows.
    private static func sealerFor(_ link: PageLink, tag: PageTag, epoch: UInt32, sealer: (UInt32) -> PageSealer?) throws(SealKVError) -> PageSealer {
        guard tag == link.tag else {
            throw SealKVError.corrupted(page: link.page, "does not carry the tag its parent holds for it (it was replaced, rolled back, damaged, or never fully written)")
        }
        guard let opener = sealer(epoch) else {
            throw SealKVError.corrupted(page: link.page, "is sealed under key epoch \(epoch), which its commit does not allow for a page of transaction \(link.txnID)")
        }
        return opener
    }

    /// The txnid sealed in the page must be the one its parent's link expects.
    private static func checkWriter(_ link: PageLink, txnID written: UInt64) throws(SealKVError) {
        guard written == link.txnID else {
            throw SealKVError.corrupted(page: link.page, "was written by transaction \(written) but its parent expects transaction \(link.txnID)")
        }
    }
}
