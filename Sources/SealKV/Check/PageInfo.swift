/// A reference from one page to another, as stored: page number, writing txnid and tag.
public struct LinkInfo: Sendable, Equatable {
    public let page: UInt64
    public let txnID: UInt64
    /// The 16-byte tag in hex.
    public let tag: String

    init(_ link: PageLink) {
        page = link.page
        txnID = link.txnID
        tag = link.tag.description
    }
}

/// One page of the file, as the page map reports it.
public struct PageInfo: Sendable {
    /// "meta", "branch", "leaf", "catalog", "overflow", "free" or "unreachable".
    public let kind: String
    public let number: UInt64
    /// Which tree the page belongs to ("namespace ''", "catalog", "free-page tree", ...).
    public let owner: String
    /// The transaction that wrote it (for free pages: the one that freed it).
    public let txnID: UInt64
    /// Entries (node pages) or data bytes (overflow pages).
    public let entries: Int
    /// Bytes used of the page's body, 0...1 (node and overflow pages).
    public let fill: Double
    /// Pages this page links to.
    public let links: [LinkInfo]
    /// The link that names this page (its parent's copy), for inspecting it.
    let link: PageLink?
}

/// One page decoded in full, as `sealkv page` shows it.
public struct PageDetail: Sendable {
    /// An entry of a node page.
    public struct Entry: Sendable {
        public let key: [UInt8]
        /// Inline value (nil for overflow values and branch entries).
        public let value: [UInt8]?
        /// Length of the value (inline or in its overflow chain).
        public let valueLength: UInt64
        /// The child (branch) or first overflow page (leaf with a large value).
        public let link: LinkInfo?
        /// Expiry in Unix milliseconds, for entries with a time to live.
        public let expiry: UInt64?
    }

    public let info: PageInfo
    /// Cleartext header: format version, key epoch, nonce's random part (hex), tag (hex).
    public let version: UInt16
    public let keyEpoch: UInt32
    public let nonce: String
    public let tag: String
    public let entries: [Entry]
    /// For meta slots: the decoded commit (nil if the slot does not authenticate).
    public let meta: [String: String]?
    /// The sealed bytes as stored.
    public let raw: [UInt8]
}

func hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    out.reserveCapacity(bytes.count * 2)
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 15)])
    }
    return String(decoding: out, as: UTF8.self)
}
