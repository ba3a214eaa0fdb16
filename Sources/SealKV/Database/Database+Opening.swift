#if canImport(Glibc)
import Glibc
#endif

extension Database {
    /// The lock file beside the store at `storePath`, through which processes sharing the store
    /// coordinate (it holds no secret; removing it while no process has the store open is safe).
    public static func lockFilePath(forStore storePath: String) -> String { LockFile.path(forStore: storePath) }

    // MARK: Opening

    /// Opens (by default creating) the store at `path`.
    ///
    /// - Throws: ``SealKVError`` with code `wrongCredential`, `notASealKVFile`, `unsupportedFormat`,
    ///   `truncated`, `corrupted`, `fileNotFound`, `fileExists`, `permissionDenied` or `locked`. A
    ///   failed open never writes to an existing file.
    public static func open(at path: String, credential: Credential, options: Options = Options()) throws(SealKVError) -> Database {
        try options.validate()
        var exists = access(path, F_OK) == 0
        switch options.mode {
        case .createNew:
            if exists { throw SealKVError(.fileExists, "'\(path)' already exists; choose another path or open it with .openExisting.") }
            try createFile(at: path, credential: credential, options: options)
            exists = true
        case .createIfMissing:
            if !exists {
                do throws(SealKVError) {
                    try createFile(at: path, credential: credential, options: options)
                } catch where error.code == .fileExists {
                    // Another process created it first: open theirs.
                }
            }
        case .openExisting, .readOnly:
            if !exists { throw SealKVError(.fileNotFound, "there is no store at '\(path)'; check the path, or create one with .createIfMissing.") }
        }
        let readOnly = options.mode == .readOnly
        let storage = try FileStorage(path: path, readOnly: readOnly, engine: options.ioEngine, writeEngine: options.writeEngine)
        do throws(SealKVError) {
            // One writer at a time, in any process; readers take no lock (see `openLockFile`).
            if !readOnly { try storage.lock(patience: options.lockTimeout) }
            if storage.pageCount < 2 {
                let head = storage.head(8)
                if head.isEmpty {
                    throw SealKVError(.notASealKVFile, "'\(path)' is empty, so it is not a SealKV store. Remove it, or choose another path to create a store.")
                }
                if head.elementsEqual(FileFormat.magic) {
                    throw SealKVError(.truncated, "'\(path)' starts like a SealKV store but is shorter than its two meta pages: it was truncated. Restore it from a backup.")
                }
                throw SealKVError(.notASealKVFile, "'\(path)' is not a SealKV store (too short, no SealKV header). Check the path.")
            }
            if (options.metaSlot != nil || !options.verifyNewestCommit) && !readOnly {
                throw SealKVError(.invalidArgument, "opening a chosen meta slot or skipping recovery is for inspection: use it with .readOnly.")
            }
            let lockFile = try openLockFile(path, storage: storage, readOnly: readOnly, patience: options.lockTimeout)
            // A reader beside a writer protects the commit it is about to open before it reads a
            // page of it (the writer could otherwise reuse those pages while recovery checks them),
            // and opens only what the writer published as durable.
            if readOnly, let lockFile { try protectPublishedCommit(lockFile) }
            defer { if readOnly { _ = lockFile?.publishOldest(nil, since: 0) } }
            let newestAllowed = readOnly ? lockFile?.liveWriterCommitted : nil
            var opened = try Recovery.open(storage: storage, credential: credential, verifyNewest: options.verifyNewestCommit,
                                           slot: options.metaSlot, newestAllowed: newestAllowed)
            try checkFreshness(opened, options)
            if opened.recovery.fellBack { options.recoveryNotice?(opened.recovery) }
            if !readOnly {
                opened = try Recovery.prepareForWriting(opened, storage: storage)
                lockFile?.markWriter(true)
                lockFile?.publishCommitted(opened.state.txnID)
            }
            return Database(path: path, options: options, storage: storage, opened: opened, lockFile: lockFile)
        } catch {
            storage.close()
            throw error
        }
    }

    /// The lock file beside the store, through which this handle coordinates with handles in other
    /// processes (``LockFile``). Nil on a read-only file system, where no writer can exist. A reader
    /// that may not create or write the lock file falls back to a shared lock on the store, which
    /// keeps writers out while it is open (and waits up to `patience` for one to finish).
    private static func openLockFile(_ path: String, storage: FileStorage, readOnly: Bool, patience: Duration) throws(SealKVError) -> LockFile? {
        let fileID = storage.storeFileID()
        guard let fileID else { return nil }   // no header: recovery reports what the file is
        do throws(SealKVError) {
            return try LockFile.open(forStore: path, fileID: fileID, storeMode: storage.mode)
        } catch where readOnly && (error.code == .permissionDenied || error.code == .readOnly) {
            try storage.lock(patience: patience)
            return nil
        }
    }

    /// Claims a reader slot holding the newest commit the writer published, with the same
    /// handshake as every read (see `beginRead`): if the writer published another commit while
    /// the slot was being written, claim that one instead.
    private static func protectPublishedCommit(_ lockFile: LockFile) throws(SealKVError) {
        var published = lockFile.committedTxnID
        while true {
            guard lockFile.publishOldest(published, since: ReaderInfo.clock() / 1_000_000) else {
                throw SealKVError(.locked, "every slot of '\(lockFile.path)' is taken by live processes reading the store; close some of them.")
            }
            let again = lockFile.committedTxnID
            if again == published { return }
            published = again
        }
    }

    private static func createFile(at path: String, credential: Credential, options: Options) throws(SealKVError) {
        let (bytes, _) = try StoreCreation.newStore(credential: credential, strength: options.kdf)
        try AtomicFile.create(at: path, contents: bytes)
    }

    /// A store that lives in memory only and never touches the disk; its pages are sealed like a
    /// file's under a random key that dies with the handle.
    public static func inMemory(options: Options = Options()) throws(SealKVError) -> Database {
        let key = SecureBytes.random(count: FileFormat.keySize)
        let credential = try key.withUnsafeBytes { (k) throws(SealKVError) in try Credential.key(k) }
        return try open(storage: MemoryStorage(), credential: credential, options: options, create: true)
    }

    /// Opens a store on any storage backend (memory, recording, fault-injecting). With `create`, an
    /// empty backend is initialised first. With `unlockCache`, keys unwrapped before from the same
    /// meta-slot cleartext with the same credential are not derived again; with
    /// `authenticationCache`, sealed pages that opened before (in recovery and in every read of
    /// the handle) are not decrypted again (``AuthenticationCache``).
    package static func open(storage: any PageStorage, credential: Credential, options: Options, create: Bool = false,
                             unlockCache: UnlockCache? = nil, authenticationCache: AuthenticationCache? = nil) throws(SealKVError) -> Database {
        try options.validate()
        if create && storage.pageCount == 0 {
            let (bytes, _) = try StoreCreation.newStore(credential: credential, strength: options.kdf)
            try bytes.withBytes { (b) throws(SealKVError) in
                try storage.writePages([PageWrite(page: 0, bytes: b.baseAddress!),
                                        PageWrite(page: 1, bytes: b.baseAddress! + FileFormat.pageSize)], sync: true)
            }
        }
        var opened = try Recovery.open(storage: storage, credential: credential,
                                          verifyNewest: !options.deliberateBugs.has(.skipRecoveryCheck), unlockCache: unlockCache,
                                          authenticationCache: authenticationCache)
        try checkFreshness(opened, options)
        if opened.recovery.fellBack { options.recoveryNotice?(opened.recovery) }
        if options.mode != .readOnly { opened = try Recovery.prepareForWriting(opened, storage: storage) }
        return Database(path: nil, options: options, storage: storage, opened: opened, authenticationCache: authenticationCache)
    }

    private static func checkFreshness(_ opened: OpenedStore, _ options: Options) throws(SealKVError) {
        guard opened.state.txnID >= options.minimumTxnID else {
            throw SealKVError(.rolledBack, "the store's newest commit is \(opened.state.txnID), older than the \(options.minimumTxnID) you last saw: the file was rolled back to an older copy (or a newer commit was lost). Restore the newest copy.")
        }
    }
}
