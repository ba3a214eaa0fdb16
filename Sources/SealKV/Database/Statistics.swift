/// A snapshot of a store's vital signs, as `Database.stats()` reports them.
public struct Statistics: Sendable {
    /// A read transaction alive at the time of the call.
    public struct Reader: Sendable {
        /// The commit its snapshot shows.
        public let txnID: UInt64
        /// How long it has been running.
        public let age: Duration
    }

    /// The newest commit.
    public let txnID: UInt64
    /// Pages in use or free below the high-water mark (including the two meta pages).
    public let pageCount: UInt64
    /// Bytes of the file (at least `pageCount` pages; growth is preallocated in chunks).
    public let fileBytes: UInt64
    /// Pages by kind: "meta", "branch", "leaf", "catalog", "overflow", "free".
    public let pagesByKind: [String: Int]
    /// Levels of the default namespace's tree.
    public let depth: UInt32
    /// Entries per namespace ("" is the default namespace).
    public let entries: [String: UInt64]
    /// Free pages (reusable now or once older snapshots end).
    public let freePages: Int
    /// Decrypted pages the cache can hold, and how many it holds now.
    public let cacheCapacityPages: Int
    public let cachedPages: Int
    /// Cache lookups that hit and missed since open.
    public let cacheHits: UInt64
    public let cacheMisses: UInt64
    /// Bytes of decrypted-page memory that mlock accepted (best effort; bounded by RLIMIT_MEMLOCK).
    public let lockedBytes: Int
    /// Live read transactions, oldest first.
    public let readers: [Reader]
    /// "io_uring", "posix" or "memory".
    public let ioEngine: String
    /// The on-disk format version.
    public let formatVersion: Int
    /// The data key's epoch (1, plus one per rekey).
    public let keyEpoch: UInt32
    /// How the credential becomes a key, e.g. "argon2id (3 passes, 256 MiB)" or "raw 256-bit key".
    public let keyDerivation: String
    /// How commits reach the disk.
    public let durability: Durability
    /// What opening found: whether recovery refused a torn or damaged newest commit.
    public let recovery: RecoveryReport
}

extension Database {
    /// Counts pages by kind (by walking every tree, as `check` does) and reports cache, reader and
    /// file figures. Runs as a reader.
    public func stats() throws -> Statistics {
        let report = try check()
        let now = ReaderInfo.clock()
        let (readers, header) = shared.withLock { s in
            (s.readers.values.sorted { $0.started < $1.started }.map {
                Statistics.Reader(txnID: $0.txnID, age: .nanoseconds(Int64(now - min(now, $0.started))))
            }, s.header)
        }
        return Statistics(
            txnID: report.txnID,
            pageCount: report.pageCount,
            fileBytes: storage.pageCount * UInt64(FileFormat.pageSize),
            pagesByKind: report.pagesByKind,
            depth: report.depth,
            entries: report.entries,
            freePages: report.pagesByKind["free", default: 0],
            cacheCapacityPages: pager.cache.capacity,
            cachedPages: pager.cache.count,
            cacheHits: pager.cache.hits,
            cacheMisses: pager.cache.misses,
            lockedBytes: pager.cache.lockedBytes + pager.buffers.lockedBytes,
            readers: readers,
            ioEngine: storage.engineName,
            formatVersion: Int(FileFormat.formatVersion),
            keyEpoch: header.keyEpoch,
            keyDerivation: header.kdfAlgorithm == FileFormat.kdfArgon2id
                ? "argon2id (\(header.strength.opsLimit) passes, \(header.strength.memLimit >> 20) MiB)" : "raw 256-bit key",
            durability: options.durability,
            recovery: recovery)
    }
}
