#if canImport(Glibc)
import Glibc
#endif

extension Database {
    /// Writes a consistent copy of the newest commit to `path` while writers keep committing. The
    /// copy is a page-for-page clone (same file id and data key): it opens with the same credential
    /// and passes `check`. Fails if `path` exists, unless `overwrite`.
    public func backup(to path: String, overwrite: Bool = false, progress: ((OperationProgress) -> Void)? = nil) throws {
        try refuseExisting(path, overwrite: overwrite)
        try read(keepingHeader: true) { tx in
            let state = tx.base
            let header = tx.baseHeader!
            guard let sealer = pager.keys.sealer(for: header.keyEpoch) else {
                throw SealKVError(.conflict, "the store was rekeyed while the backup started; try again.")
            }
            let metas = StoreCreation.metaPages(header: header, state: state, sealer: sealer)
            try AtomicFile.create(at: path, replacing: overwrite) { (fd) throws(SealKVError) in
                var rc = metas.withUnsafeBytes { Syscalls.pwrite(fd, $0.baseAddress!, metas.count, 0) }
                if rc != 0 { throw SealKVError.system("write the backup", path: path, errno: rc) }
                // Pages the snapshot reaches cannot change while it is registered; free pages may,
                // and are never read.
                let batch = 256
                let buffers = (0..<batch).map { _ in pager.buffers.take() }
                defer { for b in buffers { pager.buffers.give(b) } }
                var page = FileFormat.firstDataPage
                while page < state.pageCount {
                    let n = Int(min(UInt64(batch), state.pageCount - page))
                    let numbers = (0..<n).map { page + UInt64($0) }
                    try storage.readPages(numbers, into: Array(buffers[..<n]))
                    for (i, number) in numbers.enumerated() {
                        rc = Syscalls.pwrite(fd, buffers[i], FileFormat.pageSize, number * UInt64(FileFormat.pageSize))
                        if rc != 0 { throw SealKVError.system("write the backup", path: path, errno: rc) }
                    }
                    page += UInt64(n)
                    progress?(OperationProgress(done: Int(page), total: Int(state.pageCount)))
                }
            }
        }
    }

    /// Writes a compacted copy to `path`: only live entries (expired ones are dropped), packed into
    /// full pages in key order. It opens with the same credential and passes `check`. Writers may
    /// keep committing; the copy holds the commit that was newest when it started.
    public func compact(to path: String, overwrite: Bool = false, progress: ((OperationProgress) -> Void)? = nil) throws {
        try refuseExisting(path, overwrite: overwrite)
        try read(keepingHeader: true) { tx in
            let header = tx.baseHeader!
            guard let sealer = pager.keys.sealer(for: header.keyEpoch) else {
                throw SealKVError(.conflict, "the store was rekeyed while compaction started; try again.")
            }
            let total = Int(tx.base.main.entries) + (try tx.namespaces().reduce(0) { $0 + (try tx.namespace($1).count()) })
            var copied = 0
            try AtomicFile.create(at: path, replacing: overwrite) { (fd) throws(SealKVError) in
                let metas = StoreCreation.metaPages(header: header, state: .initial(), sealer: sealer)
                let rc = metas.withUnsafeBytes { Syscalls.pwrite(fd, $0.baseAddress!, metas.count, 0) }
                if rc != 0 { throw SealKVError.system("write the compacted copy", path: path, errno: rc) }
                let storage = try FileStorage(descriptor: dup(fd), path: path)
                let target = Database(path: path, options: Options(mode: .createIfMissing, durability: .noSync, cacheSize: 8 << 20, ioEngine: .posix),
                                      storage: storage,
                                      opened: OpenedStore(header: header, keys: sealer.keys, sealer: sealer, state: .initial(), slot: 0,
                                                          recovery: RecoveryReport(slotTxnIDs: [0, 0], chosenSlot: 0, openedTxnID: 0)))
                defer { target.close() }
                do {
                    for name in [""] + (try tx.namespaces()) {
                        try copyNamespace(name, from: tx, to: target) { copied += $0; progress?(OperationProgress(done: copied, total: total)) }
                    }
                    try target.sync()
                } catch let e as SealKVError {
                    throw e
                } catch {
                    throw SealKVError(.ioError, "compaction failed: \(error)")
                }
            }
        }
    }

    private func copyNamespace(_ name: String, from tx: ReadTransaction, to target: Database, progress: (Int) -> Void) throws {
        let cursor = Cursor(transaction: tx, tree: TreeID(namespace: name))
        var more = try cursor.first()
        if !name.isEmpty { _ = try target.write { try $0.createNamespace(name) } }
        while more {
            // Batches keep memory bounded; keys arrive in order, so pages fill completely.
            var n = 0
            try target.write { out in
                while more && n < 20_000 {
                    let key = cursor.key!
                    let value = try cursor.value()!
                    try out.put(key, value, namespace: name, expiry: cursor.expiration)
                    n += 1
                    more = try cursor.next()
                }
            }
            progress(n)
        }
    }

    private func refuseExisting(_ path: String, overwrite: Bool) throws(SealKVError) {
        if !overwrite && access(path, F_OK) == 0 {
            throw SealKVError(.fileExists, "'\(path)' already exists; choose another path or allow overwriting.")
        }
        if let own = self.path, own == path {
            throw SealKVError(.invalidArgument, "the copy cannot replace the open store itself; write it elsewhere, then move it.")
        }
    }
}
