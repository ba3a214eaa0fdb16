/// Opening a store: read both meta slots, derive the keys, and choose the newest commit whose pages
/// all authenticate — the other half of the commit protocol (``Commit``).
///
/// A commit writes its pages and its meta slot with one fsync, so after a crash the newest meta may
/// describe a commit whose pages did not all reach the disk. Every page a commit writes is
/// reachable from its roots through links carrying its txnid (copy-on-write rewrites the whole
/// path), so recovery authenticates exactly those pages; if any fails, the commit was torn and the
/// other slot, which that commit never wrote, is used. Recovery itself never writes.
package enum Recovery {
    /// One meta slot that unwrapped and authenticated: a commit recovery may open.
    private struct Candidate {
        var slot: UInt64
        var header: StoreHeader
        var keys: DataKeys
        var state: CommitState
        /// The data key being replaced, while the commit records a rekey in progress.
        var previousKeys: DataKeys?
    }

    /// Opens the store held by `storage`. With `verifyNewest` false the newest authenticated meta
    /// is opened without checking its commit's pages (for inspection); `requested` opens one slot.
    /// - Parameter unlockCache: remembers unwrapped keys across opens of images of one store.
    /// - Parameter authenticationCache: remembers pages that opened, so an image sharing sealed
    ///   pages with one opened before does not decrypt them again (every other check still runs).
    /// - Parameter newestAllowed: with a writer in another process, the newest commit it published
    ///   as durable: a newer meta (a commit still being synced) is passed over while an older one
    ///   is there, so a reader opens only durable state.
    package static func open(storage: any PageStorage, credential: Credential, verifyNewest: Bool = true, slot requested: Int? = nil,
                             unlockCache: UnlockCache? = nil, authenticationCache: AuthenticationCache? = nil,
                             newestAllowed: UInt64? = nil) throws(SealKVError) -> OpenedStore {
        let pages = storage.pageCount
        let (raw, headers) = try readMetaSlots(storage)
        var candidates = try unlock(raw, headers, credential: credential, unlockCache: unlockCache, authenticationCache: authenticationCache)
        // Newest first; on a tie (a new store holds txnid 0 in both slots) the lower slot, explicitly,
        // since the slot opened decides where the next commit goes.
        candidates.sort { $0.state.txnID != $1.state.txnID ? $0.state.txnID > $1.state.txnID : $0.slot < $1.slot }
        var slotTxnIDs: [UInt64?] = [nil, nil]
        for c in candidates { slotTxnIDs[Int(c.slot)] = c.state.txnID }
        if let newestAllowed, candidates.contains(where: { $0.state.txnID <= newestAllowed }) {
            candidates = candidates.filter { $0.state.txnID <= newestAllowed }
        }
        if let requested {
            candidates = candidates.filter { $0.slot == UInt64(requested) }
            guard !candidates.isEmpty else {
                throw SealKVError(.corrupted, "meta slot \(requested) does not authenticate (it is torn, damaged, or was never written).", page: UInt64(requested))
            }
        }
        var refused: (slot: UInt64, txnID: UInt64, reason: String)? = nil
        for c in candidates {
            let sealer = PageSealer(keys: c.keys, fileID: c.header.fileID)
            let previous = c.previousKeys.map { PageSealer(keys: $0, fileID: c.header.fileID) }
            do throws(SealKVError) {
                try checkPlausible(c.state, storagePages: pages)
                if verifyNewest { try verifyCommit(c.state, storage: storage, sealer: sealer, previous: previous, cache: authenticationCache) }
                let recovery = refused.map {
                    RecoveryReport(slotTxnIDs: slotTxnIDs, chosenSlot: Int(c.slot), openedTxnID: c.state.txnID,
                                   refusedSlot: Int($0.slot), refusedTxnID: $0.txnID, reason: $0.reason)
                } ?? RecoveryReport(slotTxnIDs: slotTxnIDs, chosenSlot: Int(c.slot), openedTxnID: c.state.txnID)
                return OpenedStore(header: c.header, keys: c.keys, sealer: sealer, state: c.state, slot: c.slot, recovery: recovery,
                                   previousSealer: previous)
            } catch {
                // File growth is synced before any commit that needs it, so a meta claiming more
                // pages than the file holds means the file lost its tail: no fallback hides that.
                if error.code == .truncated { throw error }
                if refused == nil { refused = (c.slot, c.state.txnID, error.messageWithoutAdvice) }
            }
        }
        let what = refused.map { "slot \($0.slot) (transaction \($0.txnID)): \($0.reason)" } ?? "unknown"
        throw SealKVError(.corrupted, "no meta slot leads to an intact commit (\(what)). Restore the file from a backup.")
    }

    /// Both meta slots' bytes and their parsed cleartext headers; refuses a file that is not a
    /// store, is truncated below its metas, or whose both headers are unusable.
    private static func readMetaSlots(_ storage: any PageStorage) throws(SealKVError) -> ([[UInt8]], [Result<StoreHeader, StoreHeader.Problem>]) {
        let pages = storage.pageCount
        guard pages >= 1 else {
            throw SealKVError(.notASealKVFile, "the file is empty, so it is not a SealKV store. Remove it, or choose another path to create a store.")
        }
        var raw = [[UInt8]](repeating: [UInt8](repeating: 0, count: FileFormat.pageSize), count: 2)
        for slot in 0..<Int(min(pages, 2)) {
            try raw[slot].withMutableBytes { (b) throws(SealKVError) in try storage.readPage(UInt64(slot), into: b.baseAddress!) }
        }
        let headers: [Result<StoreHeader, StoreHeader.Problem>] = (0..<2).map { slot in
            slot < Int(pages) ? raw[slot].withUnsafeBytes { StoreHeader.parse($0.baseAddress!) } : .failure(.notSealKV)
        }
        if pages < 2 {
            if case .success = headers[0] {
                throw SealKVError(.truncated, "the file is shorter than two meta pages: it was truncated. Restore it from a backup.")
            }
            throw SealKVError(.notASealKVFile, "the file is not a SealKV store (it is shorter than one store header). Check the path.")
        }
        var problems: [StoreHeader.Problem] = []
        for case .failure(let p) in headers { problems.append(p) }
        if problems.count == 2 {
            for case .unsupported(let what) in problems {
                throw SealKVError(.unsupportedFormat, "the store uses \(what), which this version of SealKV cannot read. Open it with a newer SealKV.")
            }
            for case .implausible(let what) in problems {
                throw SealKVError(.corrupted, "both meta slots are damaged: \(what). Restore the file from a backup.")
            }
            throw SealKVError(.notASealKVFile, "the file is not a SealKV store (no SealKV header in either meta slot). Check the path.")
        }
        return (raw, headers)
    }

    /// The slots `credential` unwraps and whose sealed part authenticates. Derives the KEK once per
    /// distinct set of KDF inputs (normally both slots share them).
    private static func unlock(_ raw: [[UInt8]], _ headers: [Result<StoreHeader, StoreHeader.Problem>], credential: Credential,
                               unlockCache: UnlockCache?, authenticationCache: AuthenticationCache?) throws(SealKVError) -> [Candidate] {
        var keksByInputs: [[UInt8]: SecureBytes] = [:]
        var candidates: [Candidate] = []
        var unwrapped = 0
        for slot in 0..<2 {
            guard case .success(let header) = headers[slot] else { continue }
            let cleartext = unlockCache == nil ? [] : Array(raw[slot][..<FileFormat.metaNonce])
            let keys: DataKeys
            if let cached = unlockCache?.lookup(credential, cleartext: cleartext) {
                guard let cached else { continue }
                keys = cached
            } else {
                let inputs = header.salt + withUnsafeBytes(of: header.kdfOpsLimit) { Array($0) }
                    + withUnsafeBytes(of: header.kdfMemLimit) { Array($0) } + [UInt8(header.kdfAlgorithm)]
                let kek: SecureBytes
                if let k = keksByInputs[inputs] {
                    kek = k
                } else {
                    kek = try KeyHierarchy.keyEncryptionKey(credential: credential, algorithm: header.kdfAlgorithm, strength: header.strength, salt: header.salt)
                    keksByInputs[inputs] = kek
                }
                guard let dataKey = StoreCreation.unwrap(header, kek: kek) else {
                    unlockCache?.record(nil, for: credential, cleartext: cleartext)
                    continue
                }
                keys = DataKeys(dataKey: dataKey, epoch: header.keyEpoch)
                unlockCache?.record(keys, for: credential, cleartext: cleartext)
            }
            unwrapped += 1
            let sealer = PageSealer(keys: keys, fileID: header.fileID)
            var page = raw[slot]
            guard page.withUnsafeMutableBytes({ p in
                authenticationCache?.openMeta(page: p.baseAddress!, slot: UInt64(slot), sealer: sealer)
                    ?? sealer.openMeta(page: p.baseAddress!, slot: UInt64(slot))
            }) else { continue }
            let state = page.withUnsafeBytes { CommitState(from: $0.baseAddress!) }
            var previous: DataKeys? = nil
            if let rekey = state.rekey {
                // Taken out of the page (and wiped there) first, whether the record is accepted or
                // not; the unlock cache remembers it by the slot's sealed bytes, so the images of one
                // store do not derive it again.
                let taken: DataKeys = page.withUnsafeMutableBytes { p in
                    if let known = unlockCache?.previousKeys(sealed: raw[slot], slot: UInt64(slot), openedWith: keys) {
                        secureZero(p.baseAddress! + FileFormat.metaRekeyPreviousKey, count: FileFormat.keySize)
                        return known
                    }
                    let fresh = PageSealer.takePreviousKeys(from: p.baseAddress!, for: rekey)
                    unlockCache?.recordPreviousKeys(fresh, sealed: raw[slot], slot: UInt64(slot), openedWith: keys)
                    return fresh
                }
                // Authenticated, so written by a holder of the data key; still refuse a record no
                // rekey could have written.
                guard rekey.isPlausible(in: header, txnID: state.txnID) else { continue }
                previous = taken
            }
            candidates.append(Candidate(slot: UInt64(slot), header: header, keys: keys, state: state, previousKeys: previous))
        }
        guard unwrapped > 0 else {
            throw SealKVError(.wrongCredential, "the password or key does not open this store. Check it and try again; nothing was changed.")
        }
        guard !candidates.isEmpty else {
            if unwrapped < headers.filter({ if case .success = $0 { true } else { false } }).count {
                // This credential unwrapped only a slot that then failed; the other slot is sealed
                // under another credential: a password change that did not finish.
                throw SealKVError(.wrongCredential, "this password or key matches only a damaged meta slot: a password change was interrupted before it completed. Open the store with the previous password or key.")
            }
            throw SealKVError(.corrupted, "both meta slots fail authentication; the file was damaged or tampered with. Restore it from a backup.")
        }
        return candidates
    }

    /// For a reader whose store another process writes: the newest commit with a txnid above
    /// `current` and at most `hint` (the newest durable commit the writer published), from the two
    /// meta slots as they are now, or nil when there is none. Both slots are authenticated with the
    /// keys the handle has; commits published as durable are complete, so their pages need no
    /// verification here (each page is still authenticated when it is read).
    /// - Throws: `rekeyed` when a newer slot is sealed under a data key this handle does not have.
    static func newerCommit(after current: UInt64, upTo hint: UInt64, storage: any PageStorage,
                            sealer: (UInt32) -> PageSealer?) throws(SealKVError) -> (state: CommitState, header: StoreHeader, slot: UInt64)? {
        var best: (state: CommitState, header: StoreHeader, slot: UInt64)? = nil
        var unknownEpoch = false
        var page = [UInt8](repeating: 0, count: FileFormat.pageSize)
        for slot in UInt64(0)..<2 {
            try page.withMutableBytes { (b) throws(SealKVError) in try storage.readPage(slot, into: b.baseAddress!) }
            guard case .success(let header) = page.withUnsafeBytes({ StoreHeader.parse($0.baseAddress!) }) else { continue }
            guard let slotSealer = sealer(header.keyEpoch) else {
                unknownEpoch = true
                continue
            }
            guard page.withUnsafeMutableBytes({ slotSealer.openMeta(page: $0.baseAddress!, slot: slot) }) else { continue }
            let state = page.withUnsafeBytes { CommitState(from: $0.baseAddress!) }
            // The plaintext holds the previous data key while a rekey is in progress; this handle
            // already has it (it opened a commit of the same rekey) or is refused below.
            page.withUnsafeMutableBytes { secureZero($0.baseAddress! + FileFormat.metaRekeyPreviousKey, count: FileFormat.keySize) }
            guard state.txnID > current, state.txnID <= hint, state.txnID > (best?.state.txnID ?? 0) else { continue }
            try checkPlausible(state, storagePages: storage.pageCount)
            best = (state, header, slot)
        }
        if best == nil && unknownEpoch {
            throw SealKVError(.rekeyed, "another process rekeyed the store, so this handle's data key no longer opens its newest commits; open the store again.")
        }
        return best
    }

    /// Readies a store that was just opened for writing, and returns the state its writer starts
    /// from:
    /// 1. The commit recovery chose may exist only in the OS cache (after a process crash): sync it
    ///    before any commit builds on it.
    /// 2. If recovery fell back, the refused slot still holds a newer commit whose meta authenticates
    ///    but whose pages did not all persist. Overwrite it (and sync) before anything else is
    ///    written: a later cut of the file's tail could otherwise leave that slot claiming pages the
    ///    file no longer holds, which the next open must take for truncation. What goes there is
    ///    the chosen commit's trees under the next txnid past the refused one, an empty commit,
    ///    so that the refused txnid never comes to name other contents, in this session or a later one.
    /// The txnid under which a writable open rewrites the opened state after refusing commit
    /// `refused`, so the refused meta is never chosen again (``prepareForWriting(_:storage:)``).
    package static func retiringTxnID(refused: UInt64, opened: UInt64) -> UInt64 { max(opened, refused) + 1 }

    static func prepareForWriting(_ opened: OpenedStore, storage: any PageStorage) throws(SealKVError) -> OpenedStore {
        try storage.sync()
        guard opened.recovery.fellBack, let refusedTxnID = opened.recovery.refusedTxnID else { return opened }
        var retired = opened
        retired.state.txnID = retiringTxnID(refused: refusedTxnID, opened: opened.state.txnID)
        retired.slot = opened.slot ^ 1
        var page = [UInt8](repeating: 0, count: FileFormat.pageSize)
        try page.withMutableBytes { (p) throws(SealKVError) in
            opened.sealer.buildMeta(into: p.baseAddress!, header: opened.header, state: retired.state, slot: retired.slot,
                                    previous: opened.previousSealer?.keys)
            try storage.writePages([PageWrite(page: retired.slot, bytes: UnsafeRawPointer(p.baseAddress!))], sync: true)
        }
        return retired
    }

    /// Cheap checks of a meta's numbers before any page is read.
    static func checkPlausible(_ state: CommitState, storagePages: UInt64) throws(SealKVError) {
        guard state.pageCount >= FileFormat.firstDataPage else {
            throw SealKVError(.corrupted, "the meta records an impossible page count \(state.pageCount)")
        }
        for (tree, t) in state.roots {
            guard t.root.isNone == (t.depth == 0), t.depth <= 64, t.root.page < state.pageCount,
                  t.root.isNone || t.root.page >= FileFormat.firstDataPage, t.root.txnID <= state.txnID else {
                throw SealKVError(.corrupted, "the meta's \(tree) root is impossible (page \(t.root.page), depth \(t.depth))")
            }
        }
        guard state.pageCount <= storagePages else {
            throw SealKVError(.truncated, "the store records \(state.pageCount) pages but the file holds only \(storagePages): it was truncated. Restore it from a backup.")
        }
    }

    /// Authenticates every page written after the commit's durable watermark (in the sync modes:
    /// every page the commit itself wrote): all pages reachable through links with a newer txnid.
    /// Reads each level of the walk as one batch (parallel under io_uring).
    /// While a rekey is in progress, pages the commit links with a txnid up to the rekey's start
    /// may be sealed under the `previous` key; any newer one must be sealed under `sealer`'s.
    ///
    /// With `cache`, a page whose storage names its bytes (``PageStorage/contentIdentity(ofPage:)``)
    /// and which opened before with the same sealer is checked from what that open established
    /// (``VerifiedPage``), without being read; the pages are still checked in the walk's order. And
    /// a walk whose every page was named is remembered (``VerifiedWalk``): the same walk over a
    /// storage that names those pages the same way passes without running, and over one that
    /// differs from page `j` on resumes there.
    static func verifyCommit(_ state: CommitState, storage: any PageStorage, sealer: PageSealer, previous: PageSealer? = nil,
                             cache: AuthenticationCache? = nil) throws(SealKVError) {
        let watermark = min(state.durableTxnID, state.txnID == 0 ? 0 : state.txnID - 1)
        let roots = state.roots.map { $0.descriptor.root }.filter { !$0.isNone && $0.txnID > watermark }
        var at = VerifiedWalk.Position(frontier: roots, seen: Set(minimumCapacity: 512), next: 0, batchEnd: 0)
        // What this walk finds, to remember it if every page it checks is named.
        var identities: [UInt64]? = cache == nil ? nil : []
        var frontierAfter: [Int32] = []
        let inputs = cache.map { _ in VerifiedWalk.inputs(of: state, roots: roots, watermark: watermark, sealer: sealer, previous: previous) }
        if let cache, let inputs,
           let (known, agreement) = cache.verifiedWalk(inputs, pageCount: storage.pageCount, identity: { storage.contentIdentity(ofPage: $0) }) {
            switch agreement {
            case .whole: return
            case .upTo(let j) where j > 0:
                at = known.resume(at: j)
                identities = Array(known.identities[..<j])
                frontierAfter = Array(known.frontierAfter[..<j])
            case .upTo: break
            }
        }
        // Plain heap buffers, wiped after use: recovery runs once per open and must stay cheap.
        var buffers: [UnsafeMutableRawPointer] = []
        defer {
            for b in buffers {
                secureZero(b, count: FileFormat.pageSize)
                b.deallocate()
            }
        }
        let rule = KeyEpochRule(current: sealer.keys.epoch, rekey: state.rekey)
        func sealerOf(epoch: UInt32, for link: PageLink) -> PageSealer? {
            guard rule.allows(epoch, txnID: link.txnID) else { return nil }
            return epoch == sealer.keys.epoch ? sealer : previous
        }
        func follow(_ child: PageLink, from link: PageLink) throws(SealKVError) {
            if child.txnID > state.txnID {
                throw SealKVError.corrupted(page: link.page, "links to a page from a later transaction")
            } else if child.txnID > watermark {
                at.frontier.append(child)
            }
        }
        // Checks `pages` (claimed already) in order: each is either remembered (by its content
        // identity) or read, in one batch; then each is checked in the walk's order.
        func check(_ pages: [PageLink]) throws(SealKVError) {
            let named = cache == nil ? [] : pages.map { ($0.page, storage.contentIdentity(ofPage: $0.page)) }
            var remembered: [VerifiedPage?] = cache?.verifiedPages(named) ?? Array(repeating: nil, count: pages.count)
            for (n, link) in pages.enumerated() {
                if let known = remembered[n], !PageAuthentication.canCheck(link, remembered: known, sealer: { sealerOf(epoch: $0, for: link) }) {
                    remembered[n] = nil
                }
            }
            let unread = pages.indices.filter { remembered[$0] == nil }
            while buffers.count < unread.count {
                buffers.append(UnsafeMutableRawPointer.allocate(byteCount: FileFormat.pageSize, alignment: 16))
            }
            try storage.readPages(unread.map { pages[$0].page }, into: Array(buffers[..<unread.count]))
            var nextBuffer = 0
            for (n, (link, known)) in zip(pages, remembered).enumerated() {
                if let known {
                    try PageAuthentication.check(link, remembered: known, sealer: { sealerOf(epoch: $0, for: link) })
                    for child in known.links { try follow(child, from: link) }
                } else {
                    let buffer = buffers[nextBuffer]
                    nextBuffer += 1
                    let opener = try PageAuthentication.open(link, buffer: buffer, sealer: { sealerOf(epoch: $0, for: link) }, cache: cache)
                    if let cache, let id = named[n].1 {
                        cache.remember(VerifiedPage(opened: buffer, sealer: opener), number: link.page, identity: id)
                    }
                    for child in PageStructure.links(in: buffer) { try follow(child.link, from: link) }
                }
                if let id = cache == nil ? nil : named[n].1 {
                    identities?.append(id)
                    frontierAfter.append(Int32(at.frontier.count))
                } else {
                    identities = nil
                }
            }
        }
        // The rest of the batch a resumed walk stopped in — the page that differs first, alone,
        // since it usually fails — then batch after batch.
        if at.next < at.batchEnd {
            try check([at.frontier[at.next]])
            try check(Array(at.frontier[(at.next + 1)..<at.batchEnd]))
            at.next = at.batchEnd
        }
        while at.next < at.frontier.count {
            let batch = Array(at.frontier[at.next..<min(at.next + VerifiedWalk.batchSize, at.frontier.count)])
            at.next += batch.count
            for link in batch {
                guard link.page >= FileFormat.firstDataPage, link.page < state.pageCount, link.page < storage.pageCount, at.seen.insert(link.page).inserted else {
                    throw SealKVError.corrupted(page: link.page, "is linked from the newest commit but lies outside the file or is linked twice")
                }
            }
            try check(batch)
        }
        if let cache, let inputs, let identities {
            cache.remember(VerifiedWalk(inputs: inputs, links: at.frontier, identities: identities, frontierAfter: frontierAfter,
                                        sealer: sealer, previous: previous))
        }
    }
}
