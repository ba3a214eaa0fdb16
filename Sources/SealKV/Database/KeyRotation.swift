/// What a rekey did.
public struct RekeyReport: Sendable {
    /// The new key epoch written into every page header.
    public let epoch: UInt32
    /// Live pages re-sealed under the new data key.
    public let pagesResealed: Int
    /// Free pages overwritten with zeros so no image sealed under the old key stays in the file.
    public let freePagesScrubbed: Int
    /// Free pages left unscrubbed because a reader's snapshot could still reach them.
    public let freePagesKept: Int
}

/// Progress of a long operation (rekey, backup, compact, check): units done out of an estimated total.
/// The last report of an operation that succeeds has `done == total`.
public struct OperationProgress: Sendable {
    /// Units done so far.
    public let done: Int
    /// The units the whole operation takes, as estimated when it reported.
    public let total: Int
}

extension Database {
    /// Changes the password (or raw key) that opens the store, in constant time: the data key is
    /// re-wrapped, no page is rewritten. Both meta slots are rewritten, so no wrap under the old
    /// credential remains in the file.
    ///
    /// - Parameters:
    ///   - old: the current credential; if it is wrong the call fails with `wrongCredential` and
    ///     nothing changes.
    ///   - new: the new password or raw key.
    ///   - kdf: Argon2id cost for a new password (default: the store's current cost).
    public func changePassword(from old: Credential, to new: Credential, kdf: KDFStrength? = nil) throws {
        try withWriter { ws, base, bound in
            let dataKey = try verify(old, header: ws.header)
            var header = ws.header
            header.kdfAlgorithm = new.kind == .password ? KeyHierarchy.kdfArgon2id : KeyHierarchy.kdfRawKey
            header.strength = new.kind == .rawKey ? KDFStrength(uncheckedOps: 0, mem: 0)
                : kdf ?? (ws.header.kdfAlgorithm == KeyHierarchy.kdfArgon2id ? ws.header.strength : .interactive)
            header.salt = randomBytes(count: FileFormat.saltSize)
            let kek = try KeyHierarchy.keyEncryptionKey(credential: new, algorithm: header.kdfAlgorithm, strength: header.strength, salt: header.salt)
            header.wrappedKey = StoreOpener.wrap(dataKey: dataKey, kek: kek, header: header)
            try writeMetaOnly(header: header, sealer: pager.sealer, ws: &ws, bound: bound, from: base)
        }
    }

    /// Draws a new data key and re-seals every live page under it (for a data key that may have
    /// leaked), bumping the key epoch. Readers keep working on their snapshots meanwhile. Both meta
    /// slots end up with the new wrap, and free pages (which hold old images sealed under the old
    /// key) are overwritten with zeros when no reader's snapshot can reach them.
    ///
    /// The whole store is rewritten in one transaction: it needs memory for every live page twice.
    ///
    /// - Parameters:
    ///   - credential: the current password or key (it wraps the new data key).
    ///   - progress: called as pages are re-sealed.
    @discardableResult
    public func rekey(credential: Credential, progress: ((OperationProgress) -> Void)? = nil) throws -> RekeyReport {
        try withWriter { ws, base, bound in
            _ = try verify(credential, header: ws.header)
            var header = ws.header
            header.keyEpoch += 1
            header.salt = randomBytes(count: FileFormat.saltSize)
            let dataKey = SecureBytes.random(count: FileFormat.keySize)
            let kek = try KeyHierarchy.keyEncryptionKey(credential: credential, algorithm: header.kdfAlgorithm, strength: header.strength, salt: header.salt)
            header.wrappedKey = StoreOpener.wrap(dataKey: dataKey, kek: kek, header: header)
            let sealer = PageSealer(keys: DataKeys(dataKey: dataKey, epoch: header.keyEpoch), fileID: header.fileID)

            let tx = makeWriteTransaction(&ws, base: base, bound: bound)
            defer { tx.finish() }
            tx.commitSealer = sealer
            pager.keys.add(sealer)
            let resealed = try tx.rewriteEverything(total: Int(base.pageCount), progress: progress)
            try commit(tx, writerState: &ws, header: header)
            pager.keys.install(sealer)
            try writeMetaOnly(header: header, sealer: sealer, ws: &ws, bound: bound, from: currentState)
            let (scrubbed, kept): (Int, Int)
            do throws(SealKVError) {
                (scrubbed, kept) = try scrubFreePages(ws: ws)
            } catch {
                // The rekey is committed; a write or sync that failed afterwards still leaves the
                // file's state unknown, so the handle takes no more commits (as after a failed commit).
                shared.withLock { $0.poisoned = error }
                throw SealKVError(error.code, "the rekey is committed, but overwriting the old free pages failed: \(error.message)", errno: error.errno)
            }
            return RekeyReport(epoch: header.keyEpoch, pagesResealed: resealed, freePagesScrubbed: scrubbed, freePagesKept: kept)
        }
    }

    var currentState: CommitState { shared.withLock { $0.current } }

    /// Checks `credential` against the store's wrap and returns the data key it unwraps.
    private func verify(_ credential: Credential, header: StoreHeader) throws(SealKVError) -> SecureBytes {
        let kek: SecureBytes
        do throws(SealKVError) {
            kek = try KeyHierarchy.keyEncryptionKey(credential: credential, algorithm: header.kdfAlgorithm, strength: header.strength, salt: header.salt)
        } catch where error.code == .wrongCredential {
            throw SealKVError(.wrongCredential, "the current password or key is wrong; nothing was changed.")
        }
        var page = [UInt8](repeating: 0, count: FileFormat.metaCleartextSize)
        let dataKey: SecureBytes? = page.withUnsafeMutableBytes { p in
            header.store(to: p.baseAddress!)
            return KeyHierarchy.unwrap(UnsafeRawBufferPointer(start: p.baseAddress! + FileFormat.metaWrapNonce, count: 72),
                                       kek: kek, associatedData: StoreHeader.wrapAssociatedData(p.baseAddress!))
        }
        guard let dataKey, pager.keys.current.keys.dataKey.withUnsafeBytes({ a in
            dataKey.withUnsafeBytes { b in constantTimeEqual(a.baseAddress!, b.baseAddress!, count: FileFormat.keySize) }
        }) else {
            throw SealKVError(.wrongCredential, "the current password or key is wrong; nothing was changed.")
        }
        return dataKey
    }

    /// Commits the same trees again under a new header (twice, so both meta slots carry it).
    private func writeMetaOnly(header: StoreHeader, sealer: PageSealer, ws: inout WriterState, bound: UInt64, from base: CommitState) throws {
        for _ in 0..<2 {
            let state = currentState
            let tx = makeWriteTransaction(&ws, base: state, bound: min(bound, state.txnID))
            defer { tx.finish() }
            tx.commitSealer = sealer
            try commit(tx, writerState: &ws, header: header)
            if options.durability == .noSync { try sync(holdingWriter: ()) }
        }
    }

    /// Overwrites free pages no snapshot can reach with zeros, then syncs.
    private func scrubFreePages(ws: WriterState) throws(SealKVError) -> (scrubbed: Int, kept: Int) {
        let oldest = shared.withLock { s in s.readers.values.map(\.txnID).min() ?? s.current.txnID }
        guard let list = ws.freeList else { return (0, 0) }
        var scrub: [UInt64] = []
        var kept = 0
        for chunk in list.chunks {
            if chunk.key.txnID <= oldest { scrub.append(contentsOf: chunk.pages) } else { kept += chunk.pages.count }
        }
        let zero = pager.buffers.take()
        defer { pager.buffers.give(zero) }
        let limit = storage.pageCount
        let writes = scrub.filter { $0 < limit }.map { PageWrite(page: $0, bytes: UnsafeRawPointer(zero)) }
        for start in stride(from: 0, to: writes.count, by: 1024) {
            try storage.writePages(Array(writes[start..<min(start + 1024, writes.count)]), sync: false)
        }
        if !writes.isEmpty { try storage.sync() }
        return (writes.count, kept)
    }
}

extension WriteTransaction {
    /// Copies every live page of every tree (and every overflow chain) to a new page, so the commit
    /// seals all of them afresh. Returns how many pages were rewritten.
    func rewriteEverything(total: Int, progress: ((OperationProgress) -> Void)?) throws(SealKVError) -> Int {
        var count = 0
        func report() {
            count += 1
            if count % 256 == 0 { progress?(OperationProgress(done: count, total: total)) }
        }
        for name in try namespaces() {
            guard var t = try tree(named: name) else { continue }
            try rewrite(&t, report)
            namedTrees[name] = t
            changedNamespaces.insert(name)
        }
        try rewrite(&mainTree, report)
        try rewrite(&catalog, report)
        try rewrite(&expiryTree, report)
        try rewrite(&freeTree, report)
        // The file's page count was an estimate (free pages are not rewritten): end at 100%.
        progress?(OperationProgress(done: count, total: count))
        return count
    }

    private func rewrite(_ tree: inout TreeDescriptor, _ report: () -> Void) throws(SealKVError) {
        guard !tree.root.isNone else { return }
        tree.root = try rewrite(tree.root, level: Int(tree.depth), report)
    }

    private func rewrite(_ link: PageLink, level: Int, _ report: () -> Void) throws(SealKVError) -> PageLink {
        let (page, p) = try touch(link)
        report()
        let node = NodePage(p)
        if level > 1 {
            for i in 0..<node.count { node.setChild(i, try rewrite(node.child(i), level: level - 1, report)) }
        } else {
            for i in 0..<node.count where node.isOverflow(i) {
                let ref = node.overflowRef(i)
                try rewriteChain(ref.link, report).store(to: p, at: ref.linkOffset)
            }
        }
        return dirtyLink(page)
    }

    private func rewriteChain(_ first: PageLink, _ report: () -> Void) throws(SealKVError) -> PageLink {
        var copies: [(page: UInt64, pointer: UnsafeMutableRawPointer)] = []
        var link = first
        while !link.isNone {
            let current = link
            if current.txnID == txnID, let p = dirty[current.page] {
                copies.append((current.page, p))
            } else {
                let (page, p) = allocate()
                try withPage(current) { (src) throws(SealKVError) in p.copyMemory(from: src, byteCount: FileFormat.pageSize) }
                p.setU64(FileFormat.nodeTxnID, txnID)
                release(current.page)
                copies.append((page, p))
            }
            report()
            link = PageLink(from: copies.last!.pointer, at: FileFormat.overflowNext)
        }
        for (i, c) in copies.enumerated() {
            let next = i + 1 < copies.count ? dirtyLink(copies[i + 1].page) : .none
            next.store(to: c.pointer, at: FileFormat.overflowNext)
        }
        return copies.isEmpty ? .none : dirtyLink(copies[0].page)
    }
}
