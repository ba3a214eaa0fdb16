/// A snapshot of a store's vital signs, as `Database.stats()` reports them.
public struct Statistics: Sendable {
    /// A read transaction alive at the time of the call.
    public struct Reader: Sendable {
        /// The commit its snapshot shows.
        public let txnID: UInt64
        /// How long it has been running.
        public let age: Duration
        /// The process holding it, when it is another handle's (from the lock file: the oldest
        /// snapshot of that handle); nil for this handle's own readers.
        public let processID: Int32?
    }

    /// The newest commit.
    public let txnID: UInt64
    /// The newest commit's high-water mark: every page below it (the two meta pages included) is
    /// in use or free; the file may be longer (``fileBytes``).
    public let highWaterMark: UInt64
    /// Bytes of the file (at least ``highWaterMark`` pages; growth is preallocated in chunks).
    public let fileBytes: UInt64
    /// Levels of the default namespace's tree. (Pages by kind come from ``Database/check(readBatch:progress:)-98gjx``,
    /// which reads every page; these statistics read only the catalog and the free-page tree.)
    public let depth: UInt32
    /// Entries per namespace ("" is the default namespace).
    public let entries: [String: UInt64]
    /// Free pages (reusable now or once older snapshots end).
    public let freePages: Int
    /// Decrypted pages the cache can hold.
    public let cacheCapacityPages: Int
    /// Decrypted pages the cache holds now.
    public let cachedPages: Int
    /// Cache lookups that hit since open.
    public let cacheHits: UInt64
    /// Cache lookups that missed since open.
    public let cacheMisses: UInt64
    /// Bytes of decrypted-page memory that mlock accepted (best effort; bounded by RLIMIT_MEMLOCK).
    public let lockedBytes: Int
    /// Live read transactions, oldest first: this handle's, and the oldest of each other handle
    /// (in this process or another) that the lock file lists.
    public let readers: [Reader]
    /// How batch reads reach the file: "io_uring", "posix" or "memory" (``IOEngine``).
    public let ioEngine: String
    /// How commits write pages and sync (``WriteEngine``): "pwritev", "io_uring", "memory", or for
    /// ``WriteEngine/automatic`` the path it prefers now, how many synced commits took each and how
    /// long they took lately, e.g. "automatic: io_uring now; synced commits: 62 through pwritev
    /// (2140 µs lately), 938 through io_uring (410 µs lately)".
    public let writeEngine: String
    /// The store's on-disk format version (a version 1 store stays so until its data key is
    /// wrapped afresh by a password change or rekey).
    public let formatVersion: Int
    /// The data key's epoch (1, plus one per rekey).
    public let keyEpoch: UInt32
    /// Whether a rekey began and did not finish (it was interrupted): some pages are still sealed
    /// under the previous data key. Calling `rekey` again finishes it.
    public let rekeyInProgress: Bool
    /// How the credential becomes a key, e.g. "argon2id (3 passes, 256 MiB)" or "raw 256-bit key".
    public let keyDerivation: String
    /// How commits reach the disk.
    public let durability: Durability
    /// fdatasync calls this handle has made since it opened (commits that share a group commit
    /// share one; 0 for an in-memory store).
    public let syncCalls: UInt64
    /// What opening found: whether recovery refused a torn or damaged newest commit.
    public let recovery: RecoveryReport
}
