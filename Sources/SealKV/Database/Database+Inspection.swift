extension Database {
    /// Every page below the high-water mark with its kind, owner and links, in page order. Walks
    /// and authenticates the whole store (it runs the full check).
    public func pageMap() throws -> [PageInfo] {
        try checkAndMapPages().pages
    }

    /// The full check's report and the page map, from one walk of the store.
    package func checkAndMapPages() throws -> (report: CheckReport, pages: [PageInfo]) {
        try read(keepingHeader: true) { tx in
            var checker = StoreChecker(transaction: tx, collectPages: true)
            let report = checker.run()
            var pages = checker.pages
            let high = tx.base.pageCount
            for slot in 0..<UInt64(2) {
                pages[slot] = PageInfo(kind: .meta, number: slot, owner: .metaSlot(Int(slot)), txnID: checker.report.metaSlots[Int(slot)] ?? 0,
                                       entries: 0, fill: 1, links: [], link: nil)
            }
            for p in FileFormat.firstDataPage..<max(FileFormat.firstDataPage, high) where pages[p] == nil {
                pages[p] = PageInfo(kind: .unreachable, number: p, owner: .none, txnID: 0, entries: 0, fill: 0, links: [], link: nil)
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
            // The plaintext holds the previous data key while a rekey is in progress.
            defer { copy.withUnsafeMutableBytes { secureZero($0.baseAddress!, count: $0.count) } }
            let ok = copy.withUnsafeMutableBytes { b in
                (try? StoreHeader.parse(b.baseAddress!).get()) != nil && pager.sealer.openMeta(page: b.baseAddress!, slot: number)
            }
            if ok {
                let state = copy.withUnsafeBytes { CommitState(from: $0.baseAddress!) }
                meta = ["txnid": "\(state.txnID)", "pageCount": "\(state.pageCount)"]
                if let rekey = state.rekey {
                    meta!["rekey"] = "in progress: pages up to txn \(rekey.startedAfter) may still be sealed under key epoch \(rekey.previousEpoch)"
                }
                let names: [TreeID: String] = [.main: "main", .catalog: "catalog", .freePages: "free", .expiry: "expiry"]
                for (tree, d) in state.roots {
                    let name = names[tree]!
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
