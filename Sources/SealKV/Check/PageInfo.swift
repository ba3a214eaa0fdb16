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

extension Database {
    /// Every page below the high-water mark with its kind, owner and links, in page order. Walks
    /// and authenticates the whole store (it runs the full check).
    public func pageMap() throws -> [PageInfo] {
        try checkAndMapPages().pages
    }

    /// The full check's report and the page map, from one walk of the store.
    package func checkAndMapPages() throws -> (report: CheckReport, pages: [PageInfo]) {
        try read { tx in
            var checker = StoreChecker(transaction: tx, collectPages: true)
            let report = checker.run()
            var pages = checker.pages
            let high = tx.base.pageCount
            for slot in 0..<UInt64(2) {
                pages[slot] = PageInfo(kind: "meta", number: slot, owner: "meta slot \(slot)", txnID: checker.report.metaSlots[Int(slot)] ?? 0,
                                       entries: 0, fill: 1, links: [], link: nil)
            }
            for p in FileFormat.firstDataPage..<max(FileFormat.firstDataPage, high) where pages[p] == nil {
                pages[p] = PageInfo(kind: "unreachable", number: p, owner: "-", txnID: 0, entries: 0, fill: 0, links: [], link: nil)
            }
            return (report, pages.values.sorted { $0.number < $1.number })
        }
    }

    /// Page `number` decoded: header, entries and links with their tags. Fails with
    /// `invalidArgument` for a page past the high-water mark.
    public func inspect(page number: UInt64) throws -> PageDetail {
        let map = try pageMap()
        guard number < UInt64(map.count), let info = map.first(where: { $0.number == number }) else {
            throw SealKVError(.invalidArgument, "page \(number) does not exist: the store has \(map.count) pages (0...\(max(map.count, 1) - 1)).")
        }
        var raw = [UInt8](repeating: 0, count: FileFormat.pageSize)
        try raw.withMutableBytes { (b) throws(SealKVError) in try storage.readPage(number, into: b.baseAddress!) }
        let version = raw.withUnsafeBytes { $0.baseAddress!.u16(number < 2 ? FileFormat.metaVersion : FileFormat.headerVersion) }
        let epoch = raw.withUnsafeBytes { $0.baseAddress!.u32(number < 2 ? FileFormat.metaKeyEpoch : FileFormat.headerKeyEpoch) }
        let nonceOffset = number < 2 ? FileFormat.metaNonce : FileFormat.headerNonce
        let nonce = hex(raw[nonceOffset..<(nonceOffset + 16)])
        let tag = hex(raw[FileFormat.tagOffset...])
        var entries: [PageDetail.Entry] = []
        var meta: [String: String]? = nil
        if number < 2 {
            var copy = raw
            let ok = copy.withUnsafeMutableBytes { b in
                (try? StoreHeader.parse(b.baseAddress!).get()) != nil && pager.sealer.openMeta(page: b.baseAddress!, slot: number)
            }
            if ok {
                let state = copy.withUnsafeBytes { CommitState(from: $0.baseAddress!) }
                meta = ["txnid": "\(state.txnID)", "pageCount": "\(state.pageCount)"]
                for (name, d) in state.roots {
                    meta!["\(name).root"] = d.root.isNone ? "none" : "page \(d.root.page) txn \(d.root.txnID) tag \(d.root.tag)"
                    meta!["\(name).entries"] = "\(d.entries)"
                    meta!["\(name).depth"] = "\(d.depth)"
                }
            }
        } else if let link = info.link {
            let buffer = pager.buffers.take()
            defer { pager.buffers.give(buffer) }
            try pager.load(link, into: buffer)
            if buffer.u8(FileFormat.nodeKind) != PageKind.overflow.rawValue {
                let node = NodePage(buffer)
                for i in 0..<node.count {
                    if node.isLeaf {
                        if node.isOverflow(i) {
                            let ref = node.overflowRef(i)
                            entries.append(.init(key: Array(node.key(i)), value: nil, valueLength: ref.length, link: LinkInfo(ref.link), expiry: node.expiry(i)))
                        } else {
                            let v = Array(node.inlineValue(i))
                            entries.append(.init(key: Array(node.key(i)), value: v, valueLength: UInt64(v.count), link: nil, expiry: node.expiry(i)))
                        }
                    } else {
                        entries.append(.init(key: Array(node.key(i)), value: nil, valueLength: 0, link: LinkInfo(node.child(i)), expiry: nil))
                    }
                }
            }
        }
        return PageDetail(info: info, version: version, keyEpoch: epoch, nonce: nonce, tag: tag, entries: entries, meta: meta, raw: raw)
    }
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
