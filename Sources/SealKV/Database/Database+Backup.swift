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
            // A copy made while a rekey is in progress carries the previous key too, as the store does.
            let previous = state.rekey.flatMap { pager.keys.sealer(for: $0.previousEpoch)?.keys }
            let metas = StoreCreation.metaPages(header: header, state: state, sealer: sealer, previous: previous)
            try AtomicFile.create(at: path, replacing: overwrite) { (fd) throws(SealKVError) in
                var rc: Int32 = 0
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
                // The meta pages last: a copy cut short has none, so it cannot open as a store.
                rc = metas.withUnsafeBytes { Syscalls.pwrite(fd, $0.baseAddress!, metas.count, 0) }
                if rc != 0 { throw SealKVError.system("write the backup", path: path, errno: rc) }
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
                // Room for the meta pages, which stay zero until the copy is complete.
                let rc = Syscalls.ftruncate(fd, 2 * UInt64(FileFormat.pageSize))
                if rc != 0 { throw SealKVError.system("write the compacted copy", path: path, errno: rc) }
                let metas = StoreCreation.metaPages(header: header, state: .initial(), sealer: sealer)
                let storage = MetaDeferringStorage(try FileStorage(descriptor: dup(fd), path: path), metaPages: metas)
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
                    try storage.writeHeldMetaPages()
                    // Expired entries are not copied: the estimate made at the start may be high.
                    progress?(OperationProgress(done: copied, total: copied))
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

/// A file being built whose meta pages are held in memory until ``writeHeldMetaPages()``: until
/// then the file holds no meta page, so a copy cut short (by a kill or a crash) never opens as a
/// store that looks complete.
private final class MetaDeferringStorage: PageStorage, @unchecked Sendable {
    private let base: FileStorage
    /// The newest image of each meta page written so far (used by one writer at a time).
    private var held: [UInt64: [UInt8]] = [:]

    /// Wraps `base`, holding `metaPages` (both slots, back to back) as the initial meta pages.
    init(_ base: FileStorage, metaPages: [UInt8]) {
        self.base = base
        for slot in 0..<Int(FileFormat.firstDataPage) {
            held[UInt64(slot)] = Array(metaPages[(slot * FileFormat.pageSize)..<((slot + 1) * FileFormat.pageSize)])
        }
    }

    var pageCount: UInt64 { base.pageCount }
    var engineName: String { base.engineName }
    var writeEngineName: String { base.writeEngineName }

    func readPage(_ number: UInt64, into buffer: UnsafeMutableRawPointer) throws(SealKVError) {
        if let image = held[number] {
            image.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: FileFormat.pageSize) }
        } else {
            try base.readPage(number, into: buffer)
        }
    }

    func writePages(_ writes: [PageWrite], sync: Bool) throws(SealKVError) {
        for w in writes where w.page < FileFormat.firstDataPage {
            held[w.page] = Array(UnsafeRawBufferPointer(start: w.bytes, count: FileFormat.pageSize))
        }
        try base.writePages(writes.filter { $0.page >= FileFormat.firstDataPage }, sync: sync)
    }

    func startWriteback(_ writes: [PageWrite]) { base.startWriteback(writes.filter { $0.page >= FileFormat.firstDataPage }) }
    func sync() throws(SealKVError) { try base.sync() }
    func resize(toPages pages: UInt64) throws(SealKVError) { try base.resize(toPages: pages) }
    func close() { base.close() }

    /// Writes the held meta pages and syncs: the file becomes a store.
    func writeHeldMetaPages() throws(SealKVError) {
        for (page, image) in held.sorted(by: { $0.key < $1.key }) {
            try image.withBytes { (b) throws(SealKVError) in try base.writePages([PageWrite(page: page, bytes: b.baseAddress!)], sync: false) }
        }
        try base.sync()
    }
}
