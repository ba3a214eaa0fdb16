/// Verifies a whole snapshot: every page authenticates against its parent's link (read from the
/// storage, not the cache), every tree's invariants hold, and every page below the high-water mark
/// is reachable or free exactly once. The one place these invariants are written down; tests, the
/// tool and the crash harness all call it.
struct StoreChecker {
    let transaction: Transaction
    var report = CheckReport()
    /// Who uses each page ("main", "catalog", "free", "ns:NAME", with the role).
    private var owner: [UInt64: String] = [:]
    private var freePages = Set<UInt64>()
    private let buffer: UnsafeMutableRawPointer

    /// When collecting, what each page is (for the page map).
    let collectPages: Bool
    private(set) var pages: [UInt64: PageInfo] = [:]

    init(transaction: Transaction, collectPages: Bool = false) {
        self.transaction = transaction
        self.collectPages = collectPages
        buffer = transaction.pager.buffers.take()
    }

    /// Runs every check and returns the report.
    mutating func run() -> CheckReport {
        let started = ContinuousClock.now
        defer { transaction.pager.buffers.give(buffer) }
        let state = transaction.base
        report.txnID = state.txnID
        report.highWaterMark = state.pageCount
        report.pagesByKind[.meta] = 2
        checkMetaSlots()
        if state.pageCount > transaction.pager.storage.pageCount {
            report.problem(nil, "the store records \(state.pageCount) pages but the file holds \(transaction.pager.storage.pageCount): it was truncated")
        }
        for (tree, descriptor) in state.roots { walkTree(descriptor, tree) }
        report.depth = state.main.depth
        for p in FileFormat.firstDataPage..<max(FileFormat.firstDataPage, state.pageCount) {
            let used = owner[p] != nil
            let free = freePages.contains(p)
            if used && free { report.problem(p, "is both reachable (\(owner[p]!)) and listed as free") }
            if !used && !free { report.problem(p, "is leaked: neither reachable nor listed as free") }
        }
        report.pagesByKind[.free] = freePages.count
        // Free and meta pages are not read in batches, so the page count overestimated the work.
        progress?(OperationProgress(done: report.pagesRead, total: report.pagesRead))
        report.totalTime = ContinuousClock.now - started
        return report
    }

    private mutating func checkMetaSlots() {
        for slot in 0..<2 {
            let p = buffer
            do throws(SealKVError) {
                try transaction.pager.storage.readPage(UInt64(slot), into: p)
            } catch {
                report.problem(UInt64(slot), "meta slot cannot be read: \(error.message)")
                continue
            }
            guard case .success(let header) = StoreHeader.parse(UnsafeRawPointer(p)),
                  let sealer = transaction.pager.keys.sealer(for: header.keyEpoch),
                  sealer.openMeta(page: p, slot: UInt64(slot)) else {
                report.warnings.append(.init(page: UInt64(slot), message: "meta slot \(slot) does not authenticate: a commit was interrupted there, or the slot was damaged. The store uses the other slot; the next commit rewrites this one."))
                continue
            }
            let state = CommitState(from: UnsafeRawPointer(p))
            secureZero(p + FileFormat.metaRekeyPreviousKey, count: FileFormat.keySize)
            if let rekey = state.rekey, !rekey.isPlausible(in: header, txnID: state.txnID) {
                report.problem(UInt64(slot), "meta slot \(slot) records a rekey no rekey writes (previous key epoch \(rekey.previousEpoch), from transaction \(rekey.startedAfter)); recovery refuses this slot")
            }
            report.metaSlots[slot] = state.txnID
        }
        // A store another handle writes moves on while it is checked: slots holding newer commits
        // are fine. Only slots that are all older than (or not) the commit checked mean damage.
        if !report.metaSlots.contains(where: { $0.map { $0 >= transaction.base.txnID } ?? false }) && transaction.base.txnID != 0 {
            report.problem(nil, "neither meta slot holds the commit being checked (\(transaction.base.txnID)); it was overwritten or damaged")
        }
    }

    /// Marks `page` as used by `role`; reports a page referenced twice or outside the file.
    private mutating func claim(_ page: UInt64, _ role: String) -> Bool {
        guard page >= FileFormat.firstDataPage, page < report.highWaterMark else {
            report.problem(page, "is referenced by \(role) but lies outside the data pages [2, \(report.highWaterMark))")
            return false
        }
        if let previous = owner[page] {
            report.problem(page, "is referenced twice: by \(previous) and by \(role)")
            return false
        }
        owner[page] = role
        return true
    }

    /// One page waiting to be checked, with what its parent says about it.
    private struct Item {
        enum Role { case node(level: Int, lower: [UInt8]?, upper: [UInt8]?, isRoot: Bool), overflow(chain: Int) }
        var link: PageLink
        var role: Role
    }

    /// An overflow chain being followed: its first page, recorded length and progress.
    private struct Chain {
        var first: UInt64
        var length: UInt64
        var bytes: UInt64 = 0
        var label: String
        /// A page of the chain was reported already.
        var failed = false
    }

    /// How many pages are read in one batch (the io_uring queue depth of a check).
    var batchSize = 64
    /// Called after each batch with pages read so far and the high-water mark.
    var progress: ((OperationProgress) -> Void)?

    private mutating func walkTree(_ tree: TreeDescriptor, _ id: TreeID) {
        let label = id.description
        guard !tree.root.isNone else {
            if tree.depth != 0 || tree.entries != 0 { report.problem(nil, "\(label) is empty but records depth \(tree.depth) and \(tree.entries) entries") }
            if let name = id.namespaceName { report.entries[name] = 0 }
            return
        }
        var entries: UInt64 = 0
        var namespaces: [(String, TreeDescriptor)] = []
        var chains: [Chain] = []
        var queue = [Item(link: tree.root, role: .node(level: Int(tree.depth), lower: nil, upper: nil, isRoot: true))]
        let buffers = (0..<batchSize).map { _ in transaction.pager.buffers.take() }
        defer { for b in buffers { transaction.pager.buffers.give(b) } }

        // Breadth-first, a batch at a time: each batch is read in one parallel submission.
        while !queue.isEmpty {
            var batch: [Item] = []
            while batch.count < batchSize, let item = queue.popLast() {
                let role: String
                switch item.role {
                case .node(let level, _, _, _): role = "\(label) \(level == 1 ? "leaf" : "branch")"
                case .overflow: role = "\(label) overflow"
                }
                if claim(item.link.page, role) { batch.append(item) }
            }
            guard !batch.isEmpty else { continue }
            let readOK = readBatch(batch.map { $0.link }, into: buffers, label: label)
            for (i, item) in batch.enumerated() where readOK[i] {
                let buffer = buffers[i]
                switch item.role {
                case .overflow(let c):
                    let step: (bytes: Int, next: PageLink)
                    switch OverflowChain.inspect(buffer, link: item.link, length: chains[c].length, before: chains[c].bytes) {
                    case .success(let s): step = s
                    case .failure(.tooShort(let bytes)):
                        report.problem(chains[c].first, "(\(label)) " + OverflowChain.Problem.tooShort(bytes: bytes).message)
                        chains[c].failed = true
                        continue
                    case .failure(let problem):
                        report.problem(item.link.page, "(\(label)) " + problem.message)
                        chains[c].failed = true
                        continue
                    }
                    report.pagesByKind[.overflow, default: 0] += 1
                    if collectPages {
                        pages[item.link.page] = PageInfo(kind: .overflow, number: item.link.page, owner: PageOwner(id), txnID: item.link.txnID,
                                                         entries: step.bytes, fill: Double(step.bytes) / Double(FileFormat.overflowCapacity),
                                                         links: step.next.isNone ? [] : [LinkInfo(step.next)], link: item.link)
                    }
                    chains[c].bytes += UInt64(step.bytes)
                    if !step.next.isNone { queue.append(Item(link: step.next, role: .overflow(chain: c))) }
                case .node(let level, let lower, let upper, let isRoot):
                    checkNode(NodePage(buffer), link: item.link, level: level, lower: lower, upper: upper, isRoot: isRoot,
                              tree: id, label: label, entries: &entries, namespaces: &namespaces,
                              chains: &chains, queue: &queue)
                }
            }
        }
        for chain in chains where !chain.failed && chain.bytes != chain.length {
            report.problem(chain.first, "(\(chain.label)) starts an overflow chain of \(chain.bytes) bytes; the value records \(chain.length) bytes")
        }
        if entries != tree.entries {
            report.problem(tree.root.page, "(\(label)) holds \(entries) entries but its descriptor records \(tree.entries)")
        }
        if let name = id.namespaceName { report.entries[name] = entries }
        for (nsName, descriptor) in namespaces {
            walkTree(descriptor, .namespace(nsName))
        }
    }

    /// Reads and authenticates a batch of pages; returns which succeeded.
    private mutating func readBatch(_ links: [PageLink], into buffers: [UnsafeMutableRawPointer], label: String) -> [Bool] {
        let started = ContinuousClock.now
        defer { report.readTime += ContinuousClock.now - started }
        var ok = [Bool](repeating: false, count: links.count)
        do throws(SealKVError) {
            try transaction.pager.storage.readPages(links.map { $0.page }, into: Array(buffers[..<links.count]))
        } catch {
            // Fall back to one page at a time, so one unreadable page does not hide the others.
            for (i, link) in links.enumerated() {
                do throws(SealKVError) {
                    try transaction.pager.storage.readPage(link.page, into: buffers[i])
                    ok[i] = true
                } catch {
                    report.problem(link.page, "(\(label)) \(error.message)")
                }
            }
            return authenticate(links, buffers, ok, label)
        }
        return authenticate(links, buffers, [Bool](repeating: true, count: links.count), label)
    }

    private mutating func authenticate(_ links: [PageLink], _ buffers: [UnsafeMutableRawPointer], _ read: [Bool], _ label: String) -> [Bool] {
        var ok = read
        for (i, link) in links.enumerated() where read[i] {
            do throws(SealKVError) {
                // The checker trusts no remembered open: it decrypts every page it checks.
                try transaction.pager.authenticate(link, buffer: buffers[i], epochs: transaction.pages.epochs, afresh: true)
            } catch {
                report.problem(link.page, "(\(label)) \(error.message)")
                ok[i] = false
            }
        }
        report.pagesRead += links.count
        progress?(OperationProgress(done: report.pagesRead, total: Int(report.highWaterMark)))
        return ok
    }

    private mutating func checkNode(_ node: NodePage, link: PageLink, level: Int, lower: [UInt8]?, upper: [UInt8]?, isRoot: Bool,
                                    tree: TreeID, label: String, entries: inout UInt64,
                                    namespaces: inout [(String, TreeDescriptor)], chains: inout [Chain], queue: inout [Item]) {
        let expectLeaf = level == 1
        guard let kind = node.kind, kind != .overflow, kind.isLeaf == expectLeaf, !expectLeaf || kind == tree.leafKind else {
            report.problem(link.page, "(\(label)) has kind \(node.kindByte) where a \(expectLeaf ? "leaf" : "branch") of this tree belongs")
            return
        }
        let category: PageCategory = kind == .branch ? .branch : kind == .catalogLeaf ? .catalog : .leaf
        report.pagesByKind[category, default: 0] += 1
        if !isRoot && node.usedBytes < FileFormat.minFill { report.lightPages += 1 }
        if collectPages {
            pages[link.page] = PageInfo(kind: category, number: link.page, owner: PageOwner(tree), txnID: link.txnID, entries: node.count,
                                        fill: Double(node.usedBytes) / Double(FileFormat.nodeUsable),
                                        links: PageStructure.links(in: node.p).map { LinkInfo($0.link) }, link: link)
        }
        let n = node.count
        if expectLeaf && n == 0 { report.problem(link.page, "(\(label)) is an empty leaf") }
        if !expectLeaf && n < 2 { report.problem(link.page, "(\(label)) is a branch with fewer than two children") }
        if let problem = NodeInvariants.problem(in: node, lower: lower, upper: upper) {
            report.problem(link.page, "(\(label)) \(problem)")
        }
        guard expectLeaf else {
            for i in 0..<n {
                let lo: [UInt8]? = i == 0 ? lower : Array(node.key(i))
                let hi: [UInt8]? = i + 1 < n ? Array(node.key(i + 1)) : upper
                queue.append(Item(link: node.child(i), role: .node(level: level - 1, lower: lo, upper: hi, isRoot: false)))
            }
            return
        }
        entries += UInt64(n)
        for i in 0..<n {
            if node.isOverflow(i) {
                let ref = node.overflowRef(i)
                chains.append(Chain(first: ref.link.page, length: ref.length, label: label))
                queue.append(Item(link: ref.link, role: .overflow(chain: chains.count - 1)))
            } else if kind == .catalogLeaf {
                let value = node.inlineValue(i)
                let nsName = String(decoding: node.key(i), as: UTF8.self)
                guard value.count == TreeDescriptor.size else {
                    report.problem(link.page, "(catalog) entry '\(nsName)' is not a tree descriptor")
                    continue
                }
                namespaces.append((nsName, TreeDescriptor(from: value.baseAddress!, at: 0)))
            } else if tree == .freePages {
                checkFreeEntry(node, i, page: link.page)
            }
        }
    }

    private mutating func checkFreeEntry(_ node: NodePage, _ i: Int, page: UInt64) {
        let chunk: FreeChunk
        switch FreeChunk.decode(key: node.key(i), value: node.inlineValue(i), pageCount: report.highWaterMark) {
        case .success(let c): chunk = c
        case .failure(.malformed):
            report.problem(page, "(free-page tree) entry \(i) is malformed")
            return
        case .failure(.outOfOrder):
            report.problem(page, "(free-page tree) entry \(i) lists pages out of order")
            return
        case .failure(.outOfRange(let p)):
            report.problem(p, "is listed as free but lies outside the data pages")
            return
        }
        if chunk.key.txnID > report.txnID {
            report.problem(page, "(free-page tree) entry \(i) was freed by transaction \(chunk.key.txnID), after this commit")
        }
        for p in chunk.pages {
            if !freePages.insert(p).inserted {
                report.problem(p, "is listed as free twice")
            } else if collectPages {
                pages[p] = PageInfo(kind: .free, number: p, owner: .freePageTree, txnID: chunk.key.txnID, entries: 0, fill: 0, links: [], link: nil)
            }
        }
    }
}
