/// A Merkle reference to a page: its number, the transaction that wrote it, and its AEAD tag.
///
/// Every reference in the file (meta to root, branch to child, leaf to overflow chain, overflow page
/// to the next) is a `PageLink`. A page is accepted only if its tag equals the link's copy and its
/// sealed txnid equals the link's, so an older valid version of a page put back in place is refused.
struct PageLink: Hashable, Sendable {
    /// Encoded size: u64 page, u64 txnid, 16-byte tag.
    static let size = FileFormat.linkSize
    /// The link of an empty tree or the end of a chain.
    static let none = PageLink(page: 0, txnID: 0, tag: .zero)

    var page: UInt64
    var txnID: UInt64
    var tag: PageTag

    var isNone: Bool { page == 0 }

    init(page: UInt64, txnID: UInt64, tag: PageTag) {
        self.page = page
        self.txnID = txnID
        self.tag = tag
    }

    init(from p: UnsafeRawPointer, at offset: Int) {
        page = p.u64(offset + FileFormat.linkPage)
        txnID = p.u64(offset + FileFormat.linkTxnID)
        tag = PageTag(from: p + offset + FileFormat.linkTag)
    }

    func store(to p: UnsafeMutableRawPointer, at offset: Int) {
        p.setU64(offset + FileFormat.linkPage, page)
        p.setU64(offset + FileFormat.linkTxnID, txnID)
        tag.store(to: p + offset + FileFormat.linkTag)
    }
}
