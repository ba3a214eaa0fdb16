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

    init(transaction: Transaction) {
        self.transaction = transaction
        buffer = transaction.pager.buffers.take()
    }

    /// Runs every check and returns the report.
    mutating func run() -> CheckReport {
        defer { transaction.pager.buffers.give(buffer) }
        let state = transaction.base
        report.txnID = state.txnID
        report.pageCount = state.pageCount
        report.pagesByKind["meta"] = 2
        checkMetaSlots()
        if state.pageCount > transaction.pager.storage.pageCount {
            report.problem(nil, "the store records \(state.pageCount) pages but the file holds \(transaction.pager.storage.pageCount): it was truncated")
        }
        walkTree(state.main, name: "", leafKind: .leaf)
        report.depth = state.main.depth
        walkTree(state.catalog, name: Cursor.catalogNamespace, leafKind: .catalogLeaf)
        walkTree(state.free, name: Cursor.freeTreeNamespace, leafKind: .leaf)
        walkTree(state.expiry, name: Cursor.expiryNamespace, leafKind: .leaf)
        for p in FileFormat.firstDataPage..<max(FileFormat.firstDataPage, state.pageCount) {
            let used = owner[p] != nil
            let free = freePages.contains(p)
            if used && free { report.problem(p, "is both reachable (\(owner[p]!)) and listed as free") }
            if !used && !free { report.problem(p, "is leaked: neither reachable nor listed as free") }
        }
        report.pagesByKind["free"] = freePages.count
        return report
    }

    private mutating func checkMetaSlots() {
        let sealer = transaction.pager.sealer
        for slot in 0..<2 {
            let p = buffer
            do throws(SealKVError) {
                try transaction.pager.storage.readPage(UInt64(slot), into: p)
            } catch {
                report.problem(UInt64(slot), "meta slot cannot be read: \(error.message)")
                continue
            }
            guard case .success = StoreHeader.parse(UnsafeRawPointer(p)), sealer.openMeta(page: p, slot: UInt64(slot)) else {
                continue
            }
            report.metaSlots[slot] = CommitState(from: UnsafeRawPointer(p)).txnID
        }
        if !report.metaSlots.contains(where: { $0 == transaction.base.txnID }) && transaction.base.txnID != 0 {
            report.problem(nil, "neither meta slot holds the commit being checked (\(transaction.base.txnID)); it was overwritten or damaged")
        }
    }

    /// Marks `page` as used by `role`; reports a page referenced twice or outside the file.
    private mutating func claim(_ page: UInt64, _ role: String) -> Bool {
        guard page >= FileFormat.firstDataPage, page < report.pageCount else {
            report.problem(page, "is referenced by \(role) but lies outside the data pages [2, \(report.pageCount))")
            return false
        }
        if let previous = owner[page] {
            report.problem(page, "is referenced twice: by \(previous) and by \(role)")
            return false
        }
        owner[page] = role
        return true
    }

    /// Loads and authenticates a page from storage into the scratch buffer.
    private mutating func load(_ link: PageLink, _ role: String) -> Bool {
        do throws(SealKVError) {
            try transaction.pager.load(link, into: buffer)
            return true
        } catch {
            report.problem(link.page, "(\(role)) \(error.message)")
            return false
        }
    }

    private struct Item {
        var link: PageLink
        var level: Int
        var lower: [UInt8]?
        var upper: [UInt8]?
    }

    private mutating func walkTree(_ tree: TreeDescriptor, name: String, leafKind: PageKind) {
        let label = name == Cursor.freeTreeNamespace ? "free-page tree" : name == Cursor.catalogNamespace ? "catalog"
            : name == Cursor.expiryNamespace ? "expiry index" : "namespace '\(name)'"
        guard !tree.root.isNone else {
            if tree.depth != 0 || tree.entries != 0 { report.problem(nil, "\(label) is empty but records depth \(tree.depth) and \(tree.entries) entries") }
            if !name.hasPrefix("\u{0}") { report.entries[name] = 0 }
            return
        }
        var entries: UInt64 = 0
        var stack = [Item(link: tree.root, level: Int(tree.depth), lower: nil, upper: nil)]
        var namespaces: [(String, TreeDescriptor)] = []
        while let item = stack.popLast() {
            let isRoot = item.link == tree.root
            guard claim(item.link.page, "\(label) \(item.level == 1 ? "leaf" : "branch")"), load(item.link, label) else { continue }
            let node = NodePage(buffer)
            let expectLeaf = item.level == 1
            guard let kind = node.kind, kind != .overflow, kind.isLeaf == expectLeaf, !expectLeaf || kind == leafKind else {
                report.problem(item.link.page, "(\(label)) has kind \(node.kindByte) where a \(expectLeaf ? "leaf" : "branch") of this tree belongs")
                continue
            }
            report.pagesByKind[kind == .branch ? "branch" : kind == .catalogLeaf ? "catalog" : "leaf", default: 0] += 1
            if !isRoot && node.usedBytes < FileFormat.minFill { report.lightPages += 1 }
            let n = node.count
            if expectLeaf && n == 0 { report.problem(item.link.page, "(\(label)) is an empty leaf") }
            if !expectLeaf && n < 2 { report.problem(item.link.page, "(\(label)) is a branch with fewer than two children") }
            // Key order and bounds.
            var previous: [UInt8]? = nil
            for i in (expectLeaf ? 0 : 1)..<n {
                let key = Array(node.key(i))
                if let previous, compareBytes(previous, key) >= 0 {
                    report.problem(item.link.page, "(\(label)) has keys out of order at entry \(i)")
                }
                if let lower = item.lower, compareBytes(key, lower) < 0 {
                    report.problem(item.link.page, "(\(label)) has entry \(i) below its parent's bound")
                }
                if let upper = item.upper, compareBytes(key, upper) >= 0 {
                    report.problem(item.link.page, "(\(label)) has entry \(i) at or above its parent's bound")
                }
                previous = key
            }
            if expectLeaf {
                entries += UInt64(n)
                for i in 0..<n {
                    if node.isOverflow(i) {
                        let ref = node.overflowRef(i)
                        checkOverflow(ref.link, length: ref.length, label: label)
                        // The scratch buffer was reused by the chain: reload this leaf.
                        if !load(item.link, label) { break }
                    } else if kind == .catalogLeaf {
                        let value = node.inlineValue(i)
                        let nsName = String(decoding: node.key(i), as: UTF8.self)
                        guard value.count == TreeDescriptor.size else {
                            report.problem(item.link.page, "(catalog) entry '\(nsName)' is not a tree descriptor")
                            continue
                        }
                        namespaces.append((nsName, TreeDescriptor(from: value.baseAddress!, at: 0)))
                    } else if name == Cursor.freeTreeNamespace {
                        checkFreeEntry(node, i, page: item.link.page)
                    }
                }
            } else {
                for i in 0..<n {
                    let lower: [UInt8]? = i == 0 ? item.lower : Array(node.key(i))
                    let upper: [UInt8]? = i + 1 < n ? Array(node.key(i + 1)) : item.upper
                    stack.append(Item(link: node.child(i), level: item.level - 1, lower: lower, upper: upper))
                }
            }
        }
        if entries != tree.entries {
            report.problem(tree.root.page, "(\(label)) holds \(entries) entries but its descriptor records \(tree.entries)")
        }
        if !name.hasPrefix("\u{0}") { report.entries[name] = entries }
        for (nsName, descriptor) in namespaces {
            walkTree(descriptor, name: nsName, leafKind: .leaf)
        }
    }

    private mutating func checkOverflow(_ first: PageLink, length: UInt64, label: String) {
        let capacity = UInt64(FileFormat.overflowCapacity)
        let expectedPages = (length + capacity - 1) / capacity
        var link = first
        var pages: UInt64 = 0
        var total: UInt64 = 0
        while !link.isNone {
            pages += 1
            guard pages <= expectedPages else {
                report.problem(first.page, "(\(label)) starts an overflow chain longer than its value (\(length) bytes)")
                return
            }
            guard claim(link.page, "\(label) overflow"), load(link, label) else { return }
            guard buffer.u8(FileFormat.nodeKind) == PageKind.overflow.rawValue else {
                report.problem(link.page, "(\(label)) is linked from an overflow chain but is not an overflow page")
                return
            }
            report.pagesByKind["overflow", default: 0] += 1
            let n = UInt64(buffer.u32(FileFormat.overflowLength))
            total += n
            let next = PageLink(from: buffer, at: FileFormat.overflowNext)
            if !next.isNone && n != capacity {
                report.problem(link.page, "(\(label)) is a non-final overflow page holding only \(n) bytes")
            }
            link = next
        }
        if total != length || pages != expectedPages {
            report.problem(first.page, "(\(label)) starts an overflow chain of \(total) bytes in \(pages) pages; the value records \(length) bytes")
        }
    }

    private mutating func checkFreeEntry(_ node: NodePage, _ i: Int, page: UInt64) {
        let key = node.key(i)
        let value = node.inlineValue(i)
        guard let chunk = FreeChunkKey(bytes: key), value.count % 8 == 0, value.count > 0 else {
            report.problem(page, "(free-page tree) entry \(i) is malformed")
            return
        }
        if chunk.txnID > report.txnID {
            report.problem(page, "(free-page tree) entry \(i) was freed by transaction \(chunk.txnID), after this commit")
        }
        var last: UInt64 = 0
        for j in 0..<(value.count / 8) {
            let p = value.baseAddress!.u64(8 * j)
            if j > 0 && p <= last { report.problem(page, "(free-page tree) entry \(i) lists pages out of order") }
            last = p
            if p < FileFormat.firstDataPage || p >= report.pageCount {
                report.problem(p, "is listed as free but lies outside the data pages")
            } else if !freePages.insert(p).inserted {
                report.problem(p, "is listed as free twice")
            }
        }
    }
}

extension Database {
    /// Checks the newest commit completely: authenticates every reachable page from storage (not
    /// the cache), verifies every tree's invariants, and accounts for every page. Runs as a reader,
    /// so writers may keep committing meanwhile.
    public func check() throws -> CheckReport {
        try read { tx in
            var checker = StoreChecker(transaction: tx)
            return checker.run()
        }
    }
}
