/// What opening one page established, kept by ``AuthenticationCache`` for a page whose storage
/// names its exact bytes (``PageStorage/contentIdentity(ofPage:)``): everything recovery's walk
/// needs from the page besides the link that names it. Each is a function of the page's sealed
/// bytes, its number and the sealer that opened it — the tag and key epoch are cleartext, the
/// writer's txnid and the links to its children are in the plaintext that the structural check
/// passed — so the same bytes opened by the same sealer give the same facts.
package final class VerifiedPage: Sendable {
    /// The tag stored in the page.
    let tag: PageTag
    /// The key epoch in its cleartext header.
    let epoch: UInt32
    /// The txnid of the commit that wrote it, from its plaintext.
    let txnID: UInt64
    /// Its links to other pages (children, overflow, namespace roots), in page order.
    let links: [PageLink]
    /// The data keys and file id of the sealer that opened it.
    private let keys: DataKeys
    private let fileID: [UInt8]

    /// The facts of the opened page in `buffer` (plaintext in place), opened by `sealer`.
    init(opened buffer: UnsafeRawPointer, sealer: PageSealer) {
        tag = PageTag(from: buffer + FileFormat.tagOffset)
        epoch = buffer.u32(FileFormat.headerKeyEpoch)
        txnID = buffer.u64(FileFormat.nodeTxnID)
        links = PageStructure.links(in: buffer).map(\.link)
        keys = sealer.keys
        fileID = sealer.fileID
    }

    /// Whether `sealer` is the sealer that opened the page (the same keys object and file id).
    func wasOpened(by sealer: PageSealer) -> Bool { keys === sealer.keys && fileID == sealer.fileID }
}
