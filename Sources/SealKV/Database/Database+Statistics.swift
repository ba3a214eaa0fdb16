extension Database {
    /// The store's vital signs: its size, entries per namespace, free pages, cache figures, live
    /// readers and keys. Cheap: it runs as a reader and reads only the catalog and the free-page
    /// tree, never the data (``check(readBatch:progress:)-98gjx`` counts pages by kind, reading them all).
    public func stats() throws -> Statistics {
        let (state, entries, freePages) = try read { (tx) throws -> (CommitState, [String: UInt64], Int) in
            var entries: [String: UInt64] = ["": tx.mainTree.entries]
            for name in try tx.namespaces() { entries[name] = try tx.tree(named: name)?.entries ?? 0 }
            let free = try FreePageTree.load(from: tx, pageCount: tx.base.pageCount).pageCount
            return (tx.base, entries, free)
        }
        let now = ReaderInfo.clock()
        let (readers, header) = shared.withLock { s in
            let own = s.readers.values.map {
                (started: $0.started, reader: Statistics.Reader(txnID: $0.txnID, age: .nanoseconds(Int64(now - min(now, $0.started))), processID: nil))
            }
            let others = s.otherReaders().map { slot in
                let started = slot.since &* 1_000_000
                return (started: started, reader: Statistics.Reader(txnID: slot.txnID, age: .nanoseconds(Int64(now - min(now, started))), processID: slot.pid))
            }
            return ((own + others).sorted { $0.started < $1.started }.map(\.reader), s.header)
        }
        return Statistics(
            txnID: state.txnID,
            highWaterMark: state.pageCount,
            fileBytes: storage.pageCount * UInt64(FileFormat.pageSize),
            depth: state.main.depth,
            entries: entries,
            freePages: freePages,
            cacheCapacityPages: pager.cache.capacity,
            cachedPages: pager.cache.count,
            cacheHits: pager.cache.hits,
            cacheMisses: pager.cache.misses,
            lockedBytes: pager.cache.lockedBytes + pager.buffers.lockedBytes,
            readers: readers,
            ioEngine: storage.engineName,
            writeEngine: storage.writeEngineName,
            formatVersion: Int(header.version),
            keyEpoch: header.keyEpoch,
            rekeyInProgress: state.rekey != nil,
            keyDerivation: header.kdfAlgorithm == FileFormat.kdfArgon2id
                ? "argon2id (\(header.strength.opsLimit) passes, \(header.strength.memLimit >> 20) MiB)" : "raw 256-bit key",
            durability: options.durability,
            syncCalls: storage.syncCalls,
            recovery: recovery)
    }
}
