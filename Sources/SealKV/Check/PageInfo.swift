/// A reference from one page to another, as stored: page number, writing txnid and tag.
public struct LinkInfo: Sendable, Equatable {
    /// The page linked to.
    public let page: UInt64
    /// The transaction that wrote it.
    public let txnID: UInt64
    /// The 16-byte tag in hex.
    public let tag: String

    init(_ link: PageLink) {
        page = link.page
        txnID = link.txnID
        tag = link.tag.description
    }
}

/// What a page of the file is used for, as the page map and the check report count pages.
public enum PageCategory: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Pages 0 and 1, the meta slots.
    case meta
    /// A branch page of any tree.
    case branch
    /// A leaf page of a namespace, the free-page tree or the expiry index.
    case leaf
    /// A leaf page of the catalog of named namespaces.
    case catalog
    /// A page of an overflow chain (a large value).
    case overflow
    /// Listed in the free-page tree.
    case free
    /// Neither reachable nor listed free (only in a damaged store).
    case unreachable

    /// The lower-case name (`rawValue`), as the tool prints it.
    public var description: String { rawValue }
}

/// Which tree (or slot) a page belongs to.
public enum PageOwner: Sendable, Hashable, CustomStringConvertible {
    /// Meta slot 0 or 1.
    case metaSlot(Int)
    /// A namespace's tree ("" is the default namespace).
    case namespace(String)
    /// The catalog of named namespaces.
    case catalog
    /// The free-page tree (also the owner of the free pages it lists).
    case freePageTree
    /// The expiry index.
    case expiryIndex
    /// No tree (an unreachable page).
    case none

    init(_ tree: TreeID) {
        switch tree {
        case .main: self = .namespace("")
        case .namespace(let name): self = .namespace(name)
        case .catalog: self = .catalog
        case .freePages: self = .freePageTree
        case .expiry: self = .expiryIndex
        }
    }

    /// How the tool prints it: "namespace ''", "catalog", "free-page tree", "meta slot 0", ...
    public var description: String {
        switch self {
        case .metaSlot(let slot): "meta slot \(slot)"
        case .namespace(let name): "namespace '\(name)'"
        case .catalog: "catalog"
        case .freePageTree: "free-page tree"
        case .expiryIndex: "expiry index"
        case .none: "-"
        }
    }
}

/// One page of the file, as the page map reports it.
public struct PageInfo: Sendable {
    /// What the page is used for.
    public let kind: PageCategory
    /// Its page number.
    public let number: UInt64
    /// Which tree (or meta slot) it belongs to.
    public let owner: PageOwner
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
        /// The entry's key (empty for entry 0 of a branch).
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

    /// What the page map says of the page.
    public let info: PageInfo
    /// Cleartext header: format version, key epoch, nonce's random part (hex), tag (hex).
    public let version: UInt16
    /// The key epoch in the cleartext header.
    public let keyEpoch: UInt32
    /// The nonce's random part, in hex.
    public let nonce: String
    /// The page's AEAD tag, in hex.
    public let tag: String
    /// The entries of a node page (empty for other pages).
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
