#if canImport(Glibc)
import Glibc
#endif

/// How to open a store.
public enum OpenMode: Sendable, Equatable {
    /// Open the store, creating it if the file does not exist (default).
    case createIfMissing
    /// Create a new store; fail if a file exists at the path.
    case createNew
    /// Open an existing store; fail if there is no file.
    case openExisting
    /// Open an existing store for reading only. Writes fail, the file's bytes never change, and
    /// other read-only handles may share the file.
    case readOnly
}

/// Options for opening a store.
public struct Options: Sendable {
    /// Create, open or open read-only.
    public var mode: OpenMode = .createIfMissing
    /// Argon2id cost for a new store made with a password (existing stores keep theirs).
    public var kdf: KDFStrength = .interactive
    /// How commits reach the disk.
    public var durability: Durability = .oneSync
    /// Bytes of decrypted pages to cache, or nil (the default) to size the cache from the store:
    /// a quarter more than the pages in use, at least 64 MiB, growing with the store as it is written,
    /// up to an eighth of the machine's memory (or of the cgroup's limit) and at most 8 GiB.
    /// Memory is taken as pages are cached, not up front. A number fixes the size.
    public var cacheSize: Int? = nil
    /// How batch reads reach the kernel: io_uring, POSIX, or automatic choice.
    public var ioEngine: IOEngine = .automatic
    /// How commits write pages and sync: `pwritev`, io_uring, or automatic choice (``WriteEngine``).
    public var writeEngine: WriteEngine = .automatic
    /// Leaves a cursor reads ahead, in one parallel batch, when the next leaf of a scan is not
    /// cached (0 turns read-ahead off). At most a quarter of the cache is filled this way.
    public var scanReadAhead: Int = 32
    /// Entries whose time to live has run out that each write commit deletes, at most (0: none;
    /// they then stay stored, reading as absent, until ``Database/sweepExpired(limit:)-10mm8``). A commit
    /// with nothing due costs one look at the expiry index's first entry.
    public var expiredEntriesSweptPerCommit = 32
    /// How long a writable open waits for another process's writer to close the store before it
    /// fails with `locked` (readers never wait: they read beside the writer).
    public var lockTimeout: Duration = .seconds(1)
    /// Refuse a store whose newest commit is older than this txnid (0 accepts any). A caller that
    /// remembers the last txnid it saw detects a file rolled back to an older copy, which nothing
    /// inside the file can reveal.
    public var minimumTxnID: UInt64 = 0
    /// Called during open when recovery refused the newest commit (it was torn or damaged) and
    /// opened the one before it, with what recovery found (``RecoveryReport/warning`` says it in
    /// words). It runs before a writable open writes anything, so the refused commit is still in
    /// the file when it is told; a tool prints it, a server logs it.
    public var recoveryNotice: (@Sendable (RecoveryReport) -> Void)? = nil
    /// Open the commit in this meta slot (0 or 1) instead of the newest one, to inspect or check
    /// an older commit. Only with `.readOnly`.
    public var metaSlot: Int? = nil
    /// When false, open the newest meta slot that authenticates without authenticating the pages
    /// its commit wrote (and without falling back): for `check` to report every damaged page of a
    /// store whose newest commit is damaged. Only with `.readOnly`.
    public var verifyNewestCommit = true
    /// The clock for time-to-live, in Unix milliseconds (tests replace it).
    package var clock: @Sendable () -> UInt64 = Options.wallClock
    /// Deliberate bugs for the crash harness's self-tests (debug builds only).
    package var deliberateBugs: DeliberateBugs = []

    static let wallClock: @Sendable () -> UInt64 = {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
    }


    /// Refuses settings that cannot work, before anything is opened or created. A cache larger than
    /// the machine's memory would fail to map (or overflow its size computation) deep inside open.
    func validate() throws(SealKVError) {
        let memory = CacheSizing.physicalMemory()
        if let cacheSize, cacheSize < 0 || (memory > 0 && UInt64(cacheSize) > memory) {
            throw SealKVError(.invalidArgument, "Options.cacheSize is \(cacheSize) bytes, which is negative or more than this machine's \(memory) bytes of memory; choose a smaller cache, or nil to let it size itself.")
        }
        if scanReadAhead < 0 {
            throw SealKVError(.invalidArgument, "Options.scanReadAhead is \(scanReadAhead); use 0 to turn read-ahead off, or a positive number of leaves.")
        }
        if expiredEntriesSweptPerCommit < 0 {
            throw SealKVError(.invalidArgument, "Options.expiredEntriesSweptPerCommit is \(expiredEntriesSweptPerCommit); use 0 to sweep only on request.")
        }
        if lockTimeout < .zero || lockTimeout > .seconds(86_400) {
            throw SealKVError(.invalidArgument, "Options.lockTimeout is \(lockTimeout); use zero (do not wait) up to a day.")
        }
    }

    /// Options with the given fields changed (every public option has a parameter).
    public init(mode: OpenMode = .createIfMissing, kdf: KDFStrength = .interactive, durability: Durability = .oneSync,
                cacheSize: Int? = nil, ioEngine: IOEngine = .automatic, scanReadAhead: Int = 32,
                minimumTxnID: UInt64 = 0, metaSlot: Int? = nil, verifyNewestCommit: Bool = true,
                recoveryNotice: (@Sendable (RecoveryReport) -> Void)? = nil, lockTimeout: Duration = .seconds(1),
                expiredEntriesSweptPerCommit: Int = 32, writeEngine: WriteEngine = .automatic) {
        self.mode = mode
        self.kdf = kdf
        self.durability = durability
        self.cacheSize = cacheSize
        self.ioEngine = ioEngine
        self.scanReadAhead = scanReadAhead
        self.minimumTxnID = minimumTxnID
        self.metaSlot = metaSlot
        self.verifyNewestCommit = verifyNewestCommit
        self.recoveryNotice = recoveryNotice
        self.lockTimeout = lockTimeout
        self.expiredEntriesSweptPerCommit = expiredEntriesSweptPerCommit
        self.writeEngine = writeEngine
    }
}
