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
            header.kdfAlgorithm = new.kind == .password ? FileFormat.kdfArgon2id : FileFormat.kdfRawKey
            header.strength = new.kind == .rawKey ? KDFStrength(uncheckedOps: 0, mem: 0)
                : kdf ?? (ws.header.kdfAlgorithm == FileFormat.kdfArgon2id ? ws.header.strength : .interactive)
            header.salt = randomBytes(count: FileFormat.saltSize)
            header.version = FileFormat.formatVersion
            let kek = try KeyHierarchy.keyEncryptionKey(credential: new, algorithm: header.kdfAlgorithm, strength: header.strength, salt: header.salt)
            header.wrappedKey = StoreCreation.wrap(dataKey: dataKey, kek: kek, header: header)
            try writeMetaOnly(header: header, sealer: pager.sealer, ws: &ws, bound: bound, from: base)
        }
    }

    /// Draws a new data key and re-seals every live page under it (for a data key that may have
    /// leaked), bumping the key epoch. Readers keep working on their snapshots meanwhile. Both meta
    /// slots end up with the new wrap, and free pages (which hold old images sealed under the old
    /// key) are overwritten with zeros when no reader's snapshot can reach them.
    ///
    /// Pages are re-sealed in batches of 8,192, each its own commit, so the rekey
    /// needs memory for one batch, and the file grows by about a batch, not by the store's size: a
    /// batch reuses the pages the one before it freed. Until the last batch the meta slots carry
    /// the old data key too (sealed under the new one), so a rekey interrupted by a crash leaves a
    /// store that opens and works as before; calling `rekey` again finishes it, under the same new
    /// key. A reader that holds an old snapshot throughout keeps the freed pages from being reused,
    /// and the file then grows by what it pins.
    ///
    /// - Parameters:
    ///   - credential: the current password or key (it wraps the new data key).
    ///   - progress: called as pages are re-sealed.
    @discardableResult
    public func rekey(credential: Credential, progress: ((OperationProgress) -> Void)? = nil) throws -> RekeyReport {
        try rekey(credential: credential, batchPages: Self.rekeyBatchPages, progress: progress)
    }

    /// Pages a rekey re-seals per commit (32 MiB of plaintext, plus the branches above them).
    package static let rekeyBatchPages = 8192

    /// ``rekey(credential:progress:)`` with `batchPages` pages per commit.
    @discardableResult
    package func rekey(credential: Credential, batchPages: Int, progress: ((OperationProgress) -> Void)? = nil) throws -> RekeyReport {
        precondition(batchPages > 0, "a rekey batch holds at least one page")
        return try withWriter { ws, base, bound in
            _ = try verify(credential, header: ws.header)
            let resumed = base.rekey != nil
            let (header, sealer, rekey) = resumed ? (ws.header, pager.sealer, base.rekey!) : try beginRekey(credential, ws.header, base)
            var state = base, reuseBound = bound, resealed = 0, batches = 0, finished = false
            func report() {
                resealed += 1
                if resealed % 256 == 0 { progress?(OperationProgress(done: resealed, total: Int(base.pageCount))) }
            }
            var cursor = ResealCursor()
            while !finished {
                let tx = makeWriteTransaction(&ws, base: state, bound: reuseBound)
                defer { tx.finish() }
                tx.commitSealer = sealer
                tx.rekey = rekey
                finished = try tx.resealBatch(sealedUpTo: rekey.startedAfter, budget: batchPages, cursor: &cursor, report: report).finished
                // Always a commit (the header forces one), even one that copied nothing.
                try Commit.run(tx, header: header, writer: &ws, in: commits)
                if !resumed && batches == 0 { pager.keys.install(sealer) }
                batches += 1
                // Without a sync at every commit, a batch's freed pages are reused only once it is durable.
                if options.durability == .noSync { try Commit.syncAll(in: commits) }
                (state, reuseBound) = shared.withLock { ($0.current, $0.reuseBound(options.durability)) }
            }
            progress?(OperationProgress(done: resealed, total: resealed))
            // The free pages still hold images under the old key: overwrite them while the record
            // still says the rekey is unfinished, so a crash before this is done leaves a store that
            // says so (and a rekey called again lists and overwrites them), then drop the record,
            // and the old key with it, from both slots.
            let (scrubbed, _) = try scrubAfterRekey(&ws, listing: true)
            try writeMetaOnly(header: header, sealer: sealer, ws: &ws, bound: reuseBound, from: currentState, clearingRekey: true)
            // Pages the last batch freed become reusable (so overwritable) only once later commits
            // are durable: the meta rewrites made them so.
            let (more, kept) = try scrubAfterRekey(&ws, listing: false)
            return RekeyReport(epoch: header.keyEpoch, pagesResealed: resealed, freePagesScrubbed: scrubbed + more, freePagesKept: kept,
                               batches: batches, resumed: resumed)
        }
    }

    /// A new data key wrapped for `credential` under a new epoch, registered so that readers can
    /// open pages sealed under it as soon as the first batch is published, and the record of the
    /// rekey its commits carry until the last.
    private func beginRekey(_ credential: Credential, _ current: StoreHeader, _ base: CommitState) throws(SealKVError) -> (StoreHeader, PageSealer, RekeyProgress) {
        var header = current
        header.keyEpoch += 1
        header.version = FileFormat.formatVersion
        header.salt = randomBytes(count: FileFormat.saltSize)
        let dataKey = SecureBytes.random(count: FileFormat.keySize)
        let kek = try KeyHierarchy.keyEncryptionKey(credential: credential, algorithm: header.kdfAlgorithm, strength: header.strength, salt: header.salt)
        header.wrappedKey = StoreCreation.wrap(dataKey: dataKey, kek: kek, header: header)
        let sealer = PageSealer(keys: DataKeys(dataKey: dataKey, epoch: header.keyEpoch), fileID: header.fileID)
        pager.keys.add(sealer)
        return (header, sealer, RekeyProgress(previousEpoch: current.keyEpoch, startedAfter: base.txnID))
    }

    /// With `listing`, lists every page of the file outside the newest commit (free pages, and any
    /// past its end) for overwriting; then overwrites the listed pages no reader can reach any more.
    private func scrubAfterRekey(_ ws: inout WriterState, listing: Bool) throws -> (scrubbed: Int, kept: Int) {
        do throws(SealKVError) {
            if listing {
                ws.retiredKeyPages = ws.freeList.map { $0.chunks.flatMap(\.pages) } ?? []
                ws.retiredKeyPages += Array(currentState.pageCount..<max(currentState.pageCount, storage.pageCount))
            }
            return try scrubRetiredKeyPages(&ws)
        } catch {
            // The rekey is committed; a write or sync that failed afterwards still leaves the
            // file's state unknown, so the handle takes no more commits (as after a failed commit).
            shared.withLock { $0.poisoned = error }
            throw SealKVError(error.code, "the rekey is committed, but overwriting the old free pages failed: \(error.message)", errno: error.errno)
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
        let dataKey = StoreCreation.unwrap(header, kek: kek)
        guard let dataKey, pager.keys.current.keys.dataKey.withUnsafeBytes({ a in
            dataKey.withUnsafeBytes { b in constantTimeEqual(a.baseAddress!, b.baseAddress!, count: FileFormat.keySize) }
        }) else {
            throw SealKVError(.wrongCredential, "the current password or key is wrong; nothing was changed.")
        }
        return dataKey
    }

    /// Commits the same trees again under a new header (twice, so both meta slots carry it), and,
    /// `clearingRekey`, without the record of a rekey in progress (and the previous key with it).
    private func writeMetaOnly(header: StoreHeader, sealer: PageSealer, ws: inout WriterState, bound: UInt64, from base: CommitState,
                               clearingRekey: Bool = false) throws {
        for _ in 0..<2 {
            let state = currentState
            let tx = makeWriteTransaction(&ws, base: state, bound: min(bound, state.txnID))
            defer { tx.finish() }
            tx.commitSealer = sealer
            if clearingRekey { tx.rekey = nil }
            try Commit.run(tx, header: header, writer: &ws, in: commits)
            if options.durability == .noSync { try Commit.syncAll(in: commits) }
        }
    }

    /// Overwrites the pages of ``WriterState/retiredKeyPages`` that no snapshot can reach any more
    /// with zeros (and cuts those past the newest commit's end off the file), then syncs. A page
    /// is overwritten only when the writer could reuse it: free since a commit no live snapshot
    /// predates (and, without a sync at every commit, durable since). Pages that a later commit
    /// reused are dropped from the list: they were rewritten under the current key. The rest stay
    /// listed. Returns how many pages were scrubbed and how many are kept for later.
    func scrubRetiredKeyPages(_ ws: inout WriterState) throws(SealKVError) -> (scrubbed: Int, kept: Int) {
        guard let list = ws.freeList else { return (0, ws.retiredKeyPages.count) }
        let (bound, end, tailReachable) = shared.withLock { s in
            (s.reuseBound(options.durability), s.current.pageCount,
             s.olderReaderAlive || (options.durability == .noSync && s.lastDurable < s.current.txnID))
        }
        var freedAt: [UInt64: UInt64] = [:]
        for chunk in list.chunks { for p in chunk.pages { freedAt[p] = chunk.key.txnID } }
        var zero: [UInt64] = [], kept: [UInt64] = [], pastEnd = false
        for page in Set(ws.retiredKeyPages) {
            if page >= end {
                if tailReachable { kept.append(page) } else { pastEnd = true }
            } else if let freed = freedAt[page] {
                if freed <= bound { zero.append(page) } else { kept.append(page) }
            }
            // Neither free nor past the end: a later commit reused it, under the current key.
        }
        let fileEnd = storage.pageCount
        let writes = zero.sorted().filter { $0 < fileEnd }
        let buffer = pager.buffers.take()
        defer { pager.buffers.give(buffer) }
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: FileFormat.pageSize)
        for start in stride(from: 0, to: writes.count, by: 1024) {
            let batch = writes[start..<min(start + 1024, writes.count)].map { PageWrite(page: $0, bytes: UnsafeRawPointer(buffer)) }
            try storage.writePages(batch, sync: false)
        }
        var cut = 0
        if pastEnd && fileEnd > end {
            // No snapshot reaches past the newest commit's end, and it is durable: cut there.
            try storage.resize(toPages: end)
            cut = Int(fileEnd - end)
        }
        if !writes.isEmpty || cut > 0 { try storage.sync() }
        ws.retiredKeyPages = kept
        return (writes.count + cut, kept.count)
    }
}
