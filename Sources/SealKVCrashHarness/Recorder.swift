import SealKV

/// What the store promised at one acknowledged commit: its roots, and the exact bytes of every
/// page reachable from them (captured right after the commit, when a full check passed on them).
struct CommitReference {
    var txnID: UInt64
    /// Sealed bytes of every reachable data page, by page number.
    var pages: [UInt64: [UInt8]]
    /// The highest page number among them (0 when there are none).
    var highestPage: UInt64
    /// A digest of the logical contents (every namespace, key, value and expiry).
    var digest: UInt64
}

/// Records a workload's run: the trace (through the storage), the references of every
/// acknowledged commit, and the credentials in force.
final class Recorder: WorkloadJournal, @unchecked Sendable {
    let storage: RecordingStorage
    var references: [UInt64: CommitReference] = [:]
    var credentials: [Credential]

    init(storage: RecordingStorage, credential: Credential) {
        self.storage = storage
        credentials = [credential]
    }

    /// A capture that failed inside the observer, reported when the workload step returns.
    var captureError: (any Error)?

    /// Follows `db`'s commits: an "issued" mark before each one's first write, a reference after it.
    func observe(_ db: Database) {
        let observer = CommitObserver(
            willWrite: { [storage] txnID in storage.mark(.issued(txnID)) },
            didPublish: { [unowned self, unowned db] txnID in
                do {
                    self.references[txnID] = try self.capture(db)
                } catch {
                    if self.captureError == nil { self.captureError = error }
                }
            })
        db.commitObserver.withLock { $0 = observer }
    }

    func synced(_ database: Database) {
        storage.mark(.synced(database.currentTxnID))
    }

    /// Records that everything committed so far was acknowledged (a call to the store returned).
    func acknowledge(_ db: Database) throws {
        if let e = captureError { throw e }
        let now = db.currentTxnID
        if references[now] == nil { references[now] = try capture(db) }
        storage.mark(.acknowledged(now))
    }

    /// The reachable pages and logical digest of the newest commit. Fails if the full check does not
    /// pass: every later comparison relies on this reference being sound.
    func capture(_ db: Database) throws -> CommitReference {
        let (report, map) = try db.checkAndMapPages()
        guard report.isClean else {
            throw SealKVError(.corrupted, "the store failed its full check right after commit \(report.txnID): \(report.problems.prefix(3))")
        }
        var pages: [UInt64: [UInt8]] = [:]
        for info in map where [PageCategory.branch, .leaf, .catalog, .overflow].contains(info.kind) {
            pages[info.number] = storage.page(info.number)
        }
        return CommitReference(txnID: report.txnID, pages: pages, highestPage: pages.keys.max() ?? 0, digest: try Self.digest(db))
    }

    /// A hash of every namespace's entries in order (names, keys, values, expiry flags): each item
    /// is its length, then its bytes eight at a time, each word through a step that is a bijection of
    /// the running hash, so two contents differing in one word never collide. Compared only within
    /// one binary (parent and child processes run the same one).
    static func digest(_ db: Database) throws -> UInt64 {
        var h: UInt64 = 0
        try db.read { tx in h = try digest(of: tx) }
        return h
    }

    /// ``digest(_:)`` of one snapshot.
    static func digest(of tx: ReadTransaction) throws -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func step(_ word: UInt64) {
            h = (h ^ word) &* 0x9E37_79B9_7F4A_7C15
            h ^= h >> 29
        }
        // Hashed in place: no array per item.
        func mix(_ bytes: UnsafeRawBufferPointer) {
            step(UInt64(bytes.count))
            var i = 0
            while i + 8 <= bytes.count {
                step(UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)))
                i += 8
            }
            var tail: UInt64 = 0
            for j in i..<bytes.count { tail |= UInt64(bytes[j]) << (8 * UInt64(j - i)) }
            step(tail)
        }
        func mix(_ bytes: [UInt8]) { bytes.withUnsafeBytes { mix($0) } }
        for name in [""] + (try tx.namespaces()) {
            mix(Array(name.utf8))
            // One pass of a cursor: it skips expired entries as `all()` does, and the expiry of the
            // entry it rests on is the one `timeToLive` would look up again from the root.
            let cursor = try tx.namespace(name).cursor()
            var on = try cursor.first()
            while on, let key = cursor.key, let value = try cursor.value() {
                mix(key)
                mix(value)
                withUnsafeBytes(of: cursor.expiration == nil ? UInt8(0) : UInt8(1)) { mix($0) }
                on = try cursor.next()
            }
        }
        return h
    }
}
