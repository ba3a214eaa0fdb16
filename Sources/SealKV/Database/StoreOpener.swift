#if canImport(Glibc)
import Glibc
#endif

/// Everything needed to run a store, as found by opening its file: the keys, the chosen commit,
/// and which meta slot it came from.
package struct OpenedStore {
    var header: StoreHeader
    var keys: DataKeys
    var sealer: PageSealer
    package var state: CommitState
    var slot: UInt64
    /// What recovery saw, for `stat` and `check`.
    var recovery: RecoveryReport
}

/// What opening found in the two meta slots.
public struct RecoveryReport: Sendable, Equatable {
    /// Per slot: the txnid it holds, or nil if it failed to authenticate.
    public var slotTxnIDs: [UInt64?]
    /// The slot opened.
    public var chosenSlot: Int
    /// True if the newest valid meta's commit was torn and the older slot was used.
    public var fellBack: Bool
    /// Why the newer slot was refused, if it was.
    public var refusedReason: String?
}

/// Reads both meta slots, derives keys, chooses the newest commit whose pages all authenticate.
package enum StoreOpener {
    /// Creates the two meta slots of a new, empty store.
    static func newStore(credential: Credential, strength: KDFStrength) throws(SealKVError) -> (bytes: [UInt8], header: StoreHeader) {
        let fileID = randomBytes(count: FileFormat.fileIDSize)
        let salt = randomBytes(count: FileFormat.saltSize)
        let algorithm = credential.kind == .password ? KeyHierarchy.kdfArgon2id : KeyHierarchy.kdfRawKey
        let stored = credential.kind == .password ? strength : KDFStrength(uncheckedOps: 0, mem: 0)
        var header = StoreHeader(fileID: fileID, kdfAlgorithm: algorithm, keyEpoch: 1, strength: stored, salt: salt, wrappedKey: [])
        let kek = try KeyHierarchy.keyEncryptionKey(credential: credential, algorithm: algorithm, strength: stored, salt: salt)
        let dataKey = SecureBytes.random(count: FileFormat.keySize)
        header.wrappedKey = wrap(dataKey: dataKey, kek: kek, header: header)
        let keys = DataKeys(dataKey: dataKey, epoch: header.keyEpoch)
        return (metaPages(header: header, state: .initial(), sealer: PageSealer(keys: keys, fileID: fileID)), header)
    }

    /// Both meta slots holding `state`, sealed: the first two pages of a new file.
    static func metaPages(header: StoreHeader, state: CommitState, sealer: PageSealer) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 2 * FileFormat.pageSize)
        bytes.withUnsafeMutableBytes { b in
            for slot in 0..<2 {
                MetaSlot.build(into: b.baseAddress! + slot * FileFormat.pageSize, header: header,
                               state: state, slot: UInt64(slot), sealer: sealer)
            }
        }
        return bytes
    }

    /// Wraps `dataKey` for `header` (whose cleartext fields form the associated data).
    static func wrap(dataKey: SecureBytes, kek: SecureBytes, header: StoreHeader) -> [UInt8] {
        var page = [UInt8](repeating: 0, count: FileFormat.metaCleartextSize)
        return page.withUnsafeMutableBytes { p in
            header.store(to: p.baseAddress!)
            return KeyHierarchy.wrap(dataKey: dataKey, kek: kek, associatedData: StoreHeader.wrapAssociatedData(p.baseAddress!))
        }
    }

    /// Opens the store held by `storage`.
    /// - Parameter unlockCache: remembers unwrapped keys across opens of images of one store.
    package static func open(storage: any PageStorage, credential: Credential, verifyNewest: Bool = true, slot requested: Int? = nil,
                             unlockCache: UnlockCache? = nil) throws(SealKVError) -> OpenedStore {
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

        // Derive the KEK once per distinct set of KDF inputs (normally both slots share them).
        var keksBySalt: [[UInt8]: SecureBytes] = [:]
        var candidates: [(slot: UInt64, header: StoreHeader, keys: DataKeys, state: CommitState)] = []
        var unwrapped = 0
        for slot in 0..<2 {
            guard case .success(let header) = headers[slot] else { continue }
            let cleartext = unlockCache == nil ? [] : Array(raw[slot][..<FileFormat.metaNonce])
            let keys: DataKeys
            if let cached = unlockCache?.lookup(credential, cleartext: cleartext) {
                guard let cached else { continue }
                keys = cached
            } else {
                let kdfKey = header.salt + withUnsafeBytes(of: header.strength.opsLimit) { Array($0) }
                    + withUnsafeBytes(of: header.strength.memLimit) { Array($0) } + [UInt8(header.kdfAlgorithm)]
                let kek: SecureBytes
                if let k = keksBySalt[kdfKey] {
                    kek = k
                } else {
                    kek = try KeyHierarchy.keyEncryptionKey(credential: credential, algorithm: header.kdfAlgorithm, strength: header.strength, salt: header.salt)
                    keksBySalt[kdfKey] = kek
                }
                let dataKey: SecureBytes? = raw[slot].withUnsafeBytes { b in
                    KeyHierarchy.unwrap(UnsafeRawBufferPointer(start: b.baseAddress! + FileFormat.metaWrapNonce, count: 72),
                                        kek: kek, associatedData: StoreHeader.wrapAssociatedData(b.baseAddress!))
                }
                guard let dataKey else {
                    unlockCache?.record(nil, for: credential, cleartext: cleartext)
                    continue
                }
                keys = DataKeys(dataKey: dataKey, epoch: header.keyEpoch)
                unlockCache?.record(keys, for: credential, cleartext: cleartext)
            }
            unwrapped += 1
            let sealer = PageSealer(keys: keys, fileID: header.fileID)
            let opened = raw[slot].withUnsafeMutableBytes { sealer.openMeta(page: $0.baseAddress!, slot: UInt64(slot)) }
            guard opened else { continue }
            let state = raw[slot].withUnsafeBytes { CommitState(from: $0.baseAddress!) }
            candidates.append((UInt64(slot), header, keys, state))
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
        // Newest first; on a tie (a new store holds txnid 0 in both slots) the lower slot, explicitly,
        // since the slot opened decides where the next commit goes.
        candidates.sort { $0.state.txnID != $1.state.txnID ? $0.state.txnID > $1.state.txnID : $0.slot < $1.slot }
        var slotTxnIDs: [UInt64?] = [nil, nil]
        for c in candidates { slotTxnIDs[Int(c.slot)] = c.state.txnID }
        if let requested {
            candidates = candidates.filter { $0.slot == UInt64(requested) }
            guard !candidates.isEmpty else {
                throw SealKVError(.corrupted, "meta slot \(requested) does not authenticate (it is torn, damaged, or was never written).", page: UInt64(requested))
            }
        }

        var refused: String? = nil
        for (i, c) in candidates.enumerated() {
            let sealer = PageSealer(keys: c.keys, fileID: c.header.fileID)
            do throws(SealKVError) {
                try checkPlausible(c.state, storagePages: pages)
                if verifyNewest { try verifyCommit(c.state, storage: storage, sealer: sealer) }
                return OpenedStore(header: c.header, keys: c.keys, sealer: sealer, state: c.state, slot: c.slot,
                                   recovery: RecoveryReport(slotTxnIDs: slotTxnIDs, chosenSlot: Int(c.slot), fellBack: i > 0, refusedReason: refused))
            } catch {
                // File growth is synced before any commit that needs it, so a meta claiming more
                // pages than the file holds means the file lost its tail: no fallback hides that.
                if error.code == .truncated { throw error }
                refused = "slot \(c.slot) (transaction \(c.state.txnID)): \(error.message)"
            }
        }
        throw SealKVError(.corrupted, "no meta slot leads to an intact commit (\(refused ?? "unknown")). Restore the file from a backup.")
    }

    /// Cheap checks of a meta's numbers before any page is read.
    /// Readies a store that was just opened for writing:
    /// 1. The commit recovery chose may exist only in the OS cache (after a process crash): sync it
    ///    before any commit builds on it.
    /// 2. If recovery fell back, the refused slot still holds a newer commit whose meta authenticates
    ///    but whose pages did not all persist. Overwrite it with the chosen commit (and sync) before
    ///    anything else is written: a later cut of the file's tail could otherwise leave that slot
    ///    claiming pages the file no longer holds, which the next open must take for truncation.
    static func prepareForWriting(_ opened: OpenedStore, storage: any PageStorage) throws(SealKVError) {
        try storage.sync()
        guard opened.recovery.fellBack else { return }
        var page = [UInt8](repeating: 0, count: FileFormat.pageSize)
        let refused = opened.slot ^ 1
        try page.withMutableBytes { (p) throws(SealKVError) in
            MetaSlot.build(into: p.baseAddress!, header: opened.header, state: opened.state, slot: refused, sealer: opened.sealer)
            try storage.writePages([PageWrite(page: refused, bytes: UnsafeRawPointer(p.baseAddress!))], sync: true)
        }
    }

    static func checkPlausible(_ state: CommitState, storagePages: UInt64) throws(SealKVError) {
        guard state.pageCount >= FileFormat.firstDataPage else {
            throw SealKVError(.corrupted, "the meta records an impossible page count \(state.pageCount)")
        }
        for (name, t) in state.roots {
            guard t.root.isNone == (t.depth == 0), t.depth <= 64, t.root.page < state.pageCount,
                  t.root.isNone || t.root.page >= FileFormat.firstDataPage, t.root.txnID <= state.txnID else {
                throw SealKVError(.corrupted, "the meta's \(name) tree root is impossible (page \(t.root.page), depth \(t.depth))")
            }
        }
        guard state.pageCount <= storagePages else {
            throw SealKVError(.truncated, "the store records \(state.pageCount) pages but the file holds only \(storagePages): it was truncated. Restore it from a backup.")
        }
    }

    /// Authenticates every page written after the commit's durable watermark (in the sync modes:
    /// every page the commit itself wrote): all pages reachable through links with a newer txnid.
    /// Copy-on-write rewrites the whole path to a root, so each such page is reachable that way.
    /// Reads each level of the walk as one batch (parallel under io_uring).
    static func verifyCommit(_ state: CommitState, storage: any PageStorage, sealer: PageSealer) throws(SealKVError) {
        let watermark = min(state.durableTxnID, state.txnID == 0 ? 0 : state.txnID - 1)
        var frontier = state.roots.map { $0.descriptor.root }.filter { !$0.isNone && $0.txnID > watermark }
        var seen = Set<UInt64>()
        // Plain heap buffers, wiped after use: recovery runs once per open and must stay cheap.
        var buffers: [UnsafeMutableRawPointer] = []
        defer {
            for b in buffers {
                secureZero(b, count: FileFormat.pageSize)
                b.deallocate()
            }
        }
        while !frontier.isEmpty {
            let batch = Array(frontier.prefix(256))
            frontier.removeFirst(batch.count)
            while buffers.count < batch.count {
                buffers.append(UnsafeMutableRawPointer.allocate(byteCount: FileFormat.pageSize, alignment: 16))
            }
            for link in batch {
                guard link.page >= FileFormat.firstDataPage, link.page < state.pageCount, link.page < storage.pageCount, seen.insert(link.page).inserted else {
                    throw SealKVError.corrupted(page: link.page, "is linked from the newest commit but lies outside the file or is linked twice")
                }
            }
            try storage.readPages(batch.map { $0.page }, into: Array(buffers[..<batch.count]))
            for (link, buffer) in zip(batch, buffers) {
                try authenticate(link, buffer: buffer, sealer: sealer)
                for child in PageStructure.links(in: buffer) {
                    if child.link.txnID > state.txnID {
                        throw SealKVError.corrupted(page: link.page, "links to a page from a later transaction")
                    } else if child.link.txnID > watermark {
                        frontier.append(child.link)
                    }

                }
            }
        }
    }

    /// The same checks as ``Pager/authenticate(_:buffer:)`` without a pager.
    static func authenticate(_ link: PageLink, buffer: UnsafeMutableRawPointer, sealer: PageSealer) throws(SealKVError) {
        guard PageTag(from: buffer + FileFormat.tagOffset) == link.tag else {
            throw SealKVError.corrupted(page: link.page, "does not carry the tag its parent holds for it (it was replaced, rolled back, or never fully written)")
        }
        guard sealer.open(page: buffer, number: link.page) else {
            throw SealKVError.corrupted(page: link.page, "fails authentication")
        }
        guard buffer.u64(FileFormat.nodeTxnID) == link.txnID else {
            throw SealKVError.corrupted(page: link.page, "was written by another transaction than its parent expects")
        }
        if let problem = PageStructure.problem(in: UnsafeRawPointer(buffer)) {
            throw SealKVError.corrupted(page: link.page, problem)
        }
    }

    /// Creates a store file atomically: writes it under a temporary name, syncs it, then links it
    /// into place (which fails if a file appeared there meanwhile) and syncs the folder.
    static func createFile(at path: String, contents: [UInt8]) throws(SealKVError) {
        try createFile(at: path, replacing: false) { (fd) throws(SealKVError) in
            let rc = contents.withUnsafeBytes { Syscalls.pwrite(fd, $0.baseAddress!, contents.count, 0) }
            if rc != 0 { throw SealKVError.system("write the new store", path: path, errno: rc) }
        }
    }

    /// Creates a file atomically with contents written by `fill` to a temporary file in the same
    /// folder: synced, then linked into place (or, with `replacing`, renamed over any existing file)
    /// and the folder synced. A crash leaves either no file or the complete one, plus at most a
    /// temporary that the next file built in that folder removes (see ``PartialFiles``); `fill`
    /// writes the meta pages last, so a temporary cut short never opens as a store.
    static func createFile(at path: String, replacing: Bool, fill: (Int32) throws(SealKVError) -> Void) throws(SealKVError) {
        let dir = directoryOf(path)
        PartialFiles.removeAbandoned(in: dir)
        let temp = PartialFiles.newPath(in: dir)
        let fd: Int32
        switch Syscalls.open(temp, flags: O_RDWR | O_CREAT | O_EXCL, mode: 0o600) {
        case .success(let f): fd = f
        case .failure(let e): throw SealKVError.system("create a store in", path: dir, errno: e.errno)
        }
        // Held until the file is in place: it tells other processes the temporary is in use.
        _ = Syscalls.flock(fd, exclusive: true)
        defer { Syscalls.close(fd) }
        do throws(SealKVError) {
            try fill(fd)
            let rc = Syscalls.fsync(fd)
            if rc != 0 { throw SealKVError.system("sync the new store", path: temp, errno: rc) }
            if replacing {
                if rename(temp, path) != 0 { throw SealKVError.system("replace", path: path, errno: errno) }
            } else if link(temp, path) != 0 {
                throw SealKVError.system("create", path: path, errno: errno)
            }
        } catch {
            unlink(temp)
            throw error
        }
        if !replacing { unlink(temp) }
        if case .success(let dfd) = Syscalls.open(dir, flags: O_RDONLY | O_DIRECTORY) {
            _ = Syscalls.fsync(dfd)
            Syscalls.close(dfd)
        }
    }
}
