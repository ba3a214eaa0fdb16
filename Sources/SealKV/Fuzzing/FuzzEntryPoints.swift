/// Entry points for the libFuzzer targets under `Tools/fuzz` (`@_spi(Fuzzing) import SealKV`). Not
/// part of the API: they exist so a fuzzer can reach code that normally sits behind authentication.
@_spi(Fuzzing) public enum FuzzEntryPoints {
    /// Treats `bytes` as one page's plaintext and runs everything that reads a page after it
    /// authenticated: the structural validation, and — when it passes — every accessor, the link
    /// walk and a key search. Must never read outside the page, whatever the bytes.
    public static func decodePage(_ bytes: [UInt8]) {
        var page = [UInt8](repeating: 0, count: FileFormat.pageSize)
        page.replaceSubrange(0..<min(bytes.count, page.count), with: bytes.prefix(page.count))
        page.withUnsafeMutableBytes { b in
            let p = b.baseAddress!
            guard PageStructure.problem(in: p) == nil else { return }
            _ = PageStructure.links(in: p)
            guard let kind = PageKind(rawValue: p.u8(FileFormat.nodeKind)), kind != .overflow else { return }
            let node = NodePage(p)
            var sum = 0
            for i in 0..<node.count {
                sum &+= node.key(i).count &+ node.cellSize(i)
                if node.isLeaf {
                    if node.isOverflow(i) { sum &+= Int(truncatingIfNeeded: node.overflowRef(i).length) } else { sum &+= node.inlineValue(i).count }
                    _ = node.expiry(i)
                } else {
                    sum &+= Int(truncatingIfNeeded: node.child(i).page)
                }
            }
            let probe: [UInt8] = Array(bytes.suffix(8))
            probe.withUnsafeBytes { _ = node.search($0); if !node.isLeaf && node.count > 0 { _ = node.childIndex(for: $0) } }
            _ = sum
        }
    }

    /// Builds a store from plaintext: `bytes` holds the commit state (the meta body) followed by
    /// data pages' plaintext, 4 KiB each. Every page is sealed under a fixed raw key, children before
    /// parents, with each link's tag patched to the child's, so the fuzzer's mutations reach past
    /// authentication into recovery, the checker and reads. Nothing may crash, hang or read out of
    /// bounds; errors are fine.
    /// What ``openPlaintextImage(_:)`` got to: whether the image opened, whether `check` found it
    /// sound, and how many entries the reads saw. The fuzzer ignores it; the tests use it to make
    /// sure the seed reaches past recovery.
    public struct ImageOutcome: Sendable, Equatable {
        /// The store opened (recovery accepted the image).
        public var opened = false
        /// `check` ran and found no problem.
        public var checkedClean = false
        /// Entries read, over every namespace.
        public var entriesRead = 0
    }

    /// Runs ``openPlaintextImage(_:)`` and says how far the image got.
    @discardableResult
    public static func openPlaintextImage(_ bytes: [UInt8]) -> ImageOutcome {
        var outcome = ImageOutcome()
        // The commit's state up to its trees; the image has no rekey in progress (its meta carries
        // no previous key to seal), so the seeds keep the layout they were made with.
        let stateSize = FileFormat.metaRekeyPreviousEpoch - FileFormat.metaTxnID
        guard bytes.count >= stateSize, let credential = try? Credential.key(Array(0..<32)),
              let (metas, header) = try? StoreCreation.newStore(credential: credential, strength: KDFStrength.interactive),
              let opened = try? Recovery.open(storage: MemoryStorage(bytes: metas), credential: credential) else { return outcome }
        let sealer = opened.sealer
        var statePage = [UInt8](repeating: 0, count: FileFormat.pageSize)
        statePage.replaceSubrange(FileFormat.metaTxnID..<FileFormat.metaRekeyPreviousEpoch, with: bytes.prefix(stateSize))
        var state = statePage.withUnsafeBytes { CommitState(from: $0.baseAddress!) }
        let body = bytes.dropFirst(stateSize)
        let dataPages = min(256, (body.count + FileFormat.pageSize - 1) / FileFormat.pageSize)
        let total = Int(FileFormat.firstDataPage) + dataPages
        state.pageCount = min(state.pageCount, UInt64(total))
        var image = [UInt8](repeating: 0, count: total * FileFormat.pageSize)
        for n in 0..<dataPages {
            let start = body.startIndex + n * FileFormat.pageSize
            let chunk = body[start..<min(start + FileFormat.pageSize, body.endIndex)]
            let at = (Int(FileFormat.firstDataPage) + n) * FileFormat.pageSize
            image.replaceSubrange(at..<(at + chunk.count), with: chunk)
        }
        // Seal children before parents (post-order from the roots), patching each link's tag.
        var sealed = Set<UInt64>()
        var onPath = Set<UInt64>()
        var budget = 4096
        image.withUnsafeMutableBytes { b in
            func seal(_ page: UInt64) -> PageTag? {
                guard page >= FileFormat.firstDataPage, page < UInt64(total), budget > 0, !onPath.contains(page) else { return nil }
                let p = b.baseAddress! + Int(page) * FileFormat.pageSize
                if sealed.contains(page) { return PageTag(from: p + FileFormat.tagOffset) }
                budget -= 1
                onPath.insert(page)
                if PageStructure.problem(in: p) == nil {
                    for (offset, link) in PageStructure.links(in: p) {
                        if let tag = seal(link.page) { PageLink(page: link.page, txnID: link.txnID, tag: tag).store(to: p, at: offset) }
                    }
                }
                onPath.remove(page)
                sealed.insert(page)
                return sealer.seal(page: p, number: page)
            }
            for (tree, descriptor) in state.roots {
                guard let tag = seal(descriptor.root.page) else { continue }
                state[tree: tree].root.tag = tag
            }
        }
        for slot in 0..<2 {
            image.withUnsafeMutableBytes { b in
                sealer.buildMeta(into: b.baseAddress! + slot * FileFormat.pageSize, header: header, state: state, slot: UInt64(slot))
            }
        }
        var options = Options(mode: .readOnly, cacheSize: 1 << 20, ioEngine: .posix)
        options.kdf = .interactive
        guard let db = try? Database.open(storage: MemoryStorage(bytes: image), credential: credential, options: options) else { return outcome }
        defer { db.close() }
        outcome.opened = true
        outcome.checkedClean = (try? db.check())?.isClean ?? false
        outcome.entriesRead = (try? db.read { tx in
            var seen = 0
            for name in [""] + ((try? tx.namespaces()) ?? []) {
                guard let ns = try? tx.namespace(name), let all = try? ns.all() else { continue }
                for (k, _) in all {
                    _ = try? ns.timeToLive(k)
                    seen += 1
                    if seen > 10_000 { return seen }
                }
            }
            return seen
        }) ?? 0
        return outcome
    }
}
