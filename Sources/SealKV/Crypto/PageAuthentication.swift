/// The one routine that decides whether a page read from storage is the page a link names: its
/// stored tag equals the link's copy, its AEAD opens under the key of its epoch, its sealed txnid
/// equals the link's, and its plaintext is structurally sound. Pager loads, recovery, prefetching
/// and `check` all call it.
enum PageAuthentication {
    /// Checks the sealed page in `buffer` against `link` and opens it in place (plaintext at the
    /// body offsets); `sealer` gives the sealer of a key epoch, if known. With `cache`, a page whose
    /// exact sealed bytes opened before under the same sealer is not decrypted again (see
    /// ``AuthenticationCache``); every check here still runs on it.
    static func open(_ link: PageLink, buffer: UnsafeMutableRawPointer, sealer: (UInt32) -> PageSealer?,
                     cache: AuthenticationCache? = nil) throws(SealKVError) {
        guard PageTag(from: buffer + FileFormat.tagOffset) == link.tag else {
            throw SealKVError.corrupted(page: link.page, "does not carry the tag its parent holds for it (it was replaced, rolled back, damaged, or never fully written)")
        }
        let epoch = buffer.u32(FileFormat.headerKeyEpoch)
        guard let sealer = sealer(epoch) else {
            throw SealKVError.corrupted(page: link.page, "is sealed under key epoch \(epoch), which its commit does not allow for a page of transaction \(link.txnID)")
        }
        guard cache?.open(page: buffer, number: link.page, sealer: sealer) ?? sealer.open(page: buffer, number: link.page) else {
            throw SealKVError.corrupted(page: link.page, "fails authentication")
        }
        let written = buffer.u64(FileFormat.nodeTxnID)
        guard written == link.txnID else {
            throw SealKVError.corrupted(page: link.page, "was written by transaction \(written) but its parent expects transaction \(link.txnID)")
        }
        if let problem = PageStructure.problem(in: UnsafeRawPointer(buffer)) {
            throw SealKVError.corrupted(page: link.page, problem)
        }
    }
}
