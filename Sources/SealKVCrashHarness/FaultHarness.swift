import SealKV
#if canImport(Glibc)
import Glibc
#endif

/// An I/O fault the fault mode injects into one call of the storage.
public enum IOFault: String, CaseIterable, Sendable {
    /// A page-write call fails with EIO; none of its pages reach the file.
    case writeError = "write-error"
    /// A page-write call writes a prefix of its pages, the last of them torn at a sector, then
    /// fails with EIO (a short write the store cannot complete).
    case shortWrite = "short-write"
    /// A sync fails with EIO after its writes reached the file (so whether they are durable is
    /// unknown: the durable image keeps the previous state, the written image has them).
    case syncError = "sync-error"
    /// Growing the file fails with ENOSPC.
    case noSpace = "no-space"

    /// The error code the store must report for this fault.
    var expectedCode: SealKVError.Code { self == .noSpace ? .noSpace : .ioError }
}

/// A memory backend that fails one chosen call. It keeps two images: everything written (what a
/// reopen by the same machine sees) and everything synced (what survives a power cut).
final class FaultInjectingStorage: PageStorage, @unchecked Sendable {
    private(set) var written: [UInt8] = []
    private(set) var durable: [UInt8] = []
    private let armed: (fault: IOFault, call: Int)?
    private let sectorSize: Int
    /// Calls seen so far, by the fault that would hit them.
    private(set) var calls: [IOFault: Int] = [:]
    /// Whether the armed fault has been injected.
    private(set) var fired = false

    init(armed: (fault: IOFault, call: Int)?, sectorSize: Int = 512) {
        self.armed = armed
        self.sectorSize = sectorSize
    }

    var pageCount: UInt64 { UInt64(written.count / FileFormat.pageSize) }
    var engineName: String { "fault-injecting" }

    /// Counts a call of the kinds in `kinds` and says whether the armed fault hits it.
    private func hits(_ kinds: [IOFault]) -> IOFault? {
        var hit: IOFault? = nil
        for kind in kinds {
            calls[kind, default: 0] += 1
            if !fired, let armed, armed.fault == kind, armed.call == calls[kind] { hit = kind }
        }
        if hit != nil { fired = true }
        return hit
    }

    private func put(_ page: UInt64, _ bytes: UnsafeRawPointer, count: Int = FileFormat.pageSize) {
        let start = Int(page) * FileFormat.pageSize
        if start + FileFormat.pageSize > written.count {
            written.append(contentsOf: [UInt8](repeating: 0, count: start + FileFormat.pageSize - written.count))
        }
        written.withUnsafeMutableBytes { ($0.baseAddress! + start).copyMemory(from: bytes, byteCount: count) }
    }

    func readPage(_ number: UInt64, into buffer: UnsafeMutableRawPointer) throws(SealKVError) {
        guard number < pageCount else { throw SealKVError(.corrupted, "page \(number) lies beyond the end of the store.", page: number) }
        written.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress! + Int(number) * FileFormat.pageSize, byteCount: FileFormat.pageSize) }
    }

    func writePages(_ writes: [PageWrite], sync: Bool) throws(SealKVError) {
        switch hits(sync ? [.writeError, .shortWrite, .syncError] : [.writeError, .shortWrite]) {
        case .writeError:
            throw SealKVError.system("write \(writes.count) pages of", path: "fault-injected", errno: EIO)
        case .shortWrite:
            // Half the batch, the last page of it torn after its first sector.
            let keep = max(1, writes.count / 2)
            for (i, w) in writes.prefix(keep).enumerated() { put(w.page, w.bytes, count: i == keep - 1 ? sectorSize : FileFormat.pageSize) }
            throw SealKVError.system("write \(writes.count) pages of", path: "fault-injected", errno: EIO)
        case .syncError:
            for w in writes { put(w.page, w.bytes) }
            throw SealKVError.system("write and sync", path: "fault-injected", errno: EIO)
        default:
            for w in writes { put(w.page, w.bytes) }
            if sync { durable = written }
        }
    }

    func sync() throws(SealKVError) {
        if hits([.syncError]) != nil { throw SealKVError.system("sync", path: "fault-injected", errno: EIO) }
        durable = written
    }

    func resize(toPages pages: UInt64) throws(SealKVError) {
        if pages > pageCount, hits([.noSpace]) != nil {
            throw SealKVError.system("extend", path: "fault-injected", errno: ENOSPC)
        }
        let size = Int(pages) * FileFormat.pageSize
        if size < written.count { written.removeLast(written.count - size) } else { written.append(contentsOf: [UInt8](repeating: 0, count: size - written.count)) }
    }

    func close() {}
}

/// What a fault run promised: the digest of every acknowledged commit, the newest acknowledged and
/// the newest synced.
final class FaultJournal: WorkloadJournal, @unchecked Sendable {
    var credentials: [Credential]
    var digests: [UInt64: UInt64] = [:]
    var acknowledged: Int64 = -1
    var synced: Int64 = -1
    /// The newest commit the store began to write (one call, such as `rekey`, may make several).
    let issued = Locked<Int64>(-1)

    /// Follows the commits `database` issues.
    func observe(_ database: Database) {
        database.commitObserver.withLock {
            $0 = CommitObserver(willWrite: { [issued] txn in issued.withLock { $0 = max($0, Int64(txn)) } }, didPublish: { _ in })
        }
    }

    init(credential: Credential) { credentials = [credential] }

    func acknowledge(_ database: Database) throws {
        let txn = database.currentTxnID
        digests[txn] = try Recorder.digest(database)
        acknowledged = Int64(txn)
    }

    func synced(_ database: Database) { synced = Int64(database.currentTxnID) }
}

/// What the fault mode explored and found.
public struct FaultReport: Sendable {
    /// Runs made, by fault: one per call the fault could hit (or a seeded sample of them).
    public var runs: [String: Int] = [:]
    /// Calls of each kind in a fault-free run of the workload.
    public var callsInCleanRun: [String: Int] = [:]
    /// Reopened images checked (written and durable, per run).
    public var imagesChecked = 0
    /// Seconds of the whole run.
    public var seconds = 0.0
    /// Every broken promise found.
    public var violations: [CrashViolation] = []
}

/// I/O fault mode: runs the workload once per call that a fault could hit, fails that call, and
/// checks the promises: the failing call reports a typed error, the handle refuses further commits,
/// and both the written and the durable image reopen at a commit no older than the last
/// acknowledged (or, without sync, synced) one, pass the full check, and hold exactly its contents.
public struct FaultHarness {
    /// The workload and durability the faults are injected into.
    public let configuration: CrashConfiguration

    /// A fault-mode harness for `configuration`; `run()` injects every fault at every call.
    public init(_ configuration: CrashConfiguration) {
        self.configuration = configuration
    }

    func options() -> Options {
        var o = Options(durability: configuration.durability, cacheSize: 1 << 20, ioEngine: .posix)
        o.deliberateBugs = configuration.deliberateBugs
        return o
    }

    /// Explores every fault at every call (sampled down to `maxStates` runs when that is set).
    public func run() throws -> FaultReport {
        let started = ContinuousClock.now
        var report = FaultReport()
        let clean = FaultInjectingStorage(armed: nil)
        _ = try runWorkload(on: clean)
        for fault in IOFault.allCases { report.callsInCleanRun[fault.rawValue] = clean.calls[fault, default: 0] }

        var rng = SeededGenerator(seed: configuration.seed ^ 0xFA17)
        let perFault = configuration.maxStates > 0 ? max(1, configuration.maxStates / IOFault.allCases.count) : Int.max
        for fault in IOFault.allCases {
            let total = clean.calls[fault, default: 0]
            guard total > 0 else { continue }
            var chosen = Array(1...total)
            if chosen.count > perFault {
                chosen.shuffle(using: &rng)
                chosen = Array(chosen.prefix(perFault)).sorted()
            }
            for call in chosen {
                report.runs[fault.rawValue, default: 0] += 1
                let id = "\(configuration.replayPrefix):\(fault.rawValue):\(call)"
                for (kind, message) in evaluate(fault, call: call, report: &report) {
                    report.violations.append(CrashViolation(kind: kind, replayID: id, message: message))
                }
            }
        }
        report.seconds = seconds(ContinuousClock.now - started)
        return report
    }

    /// Runs the workload to its end or its first error; returns the journal and the error.
    func runWorkload(on storage: FaultInjectingStorage) throws -> (FaultJournal, Database?, (any Error)?) {
        let credential = try HarnessCredentials.key(0)
        let journal = FaultJournal(credential: credential)
        let db: Database
        do {
            db = try Database.open(storage: storage, credential: credential, options: options(), create: true)
        } catch {
            return (journal, nil, error)
        }
        journal.observe(db)
        do {
            try journal.acknowledge(db)
            let context = WorkloadContext(database: db, random: SeededGenerator(seed: configuration.seed), operations: configuration.operations, journal: journal)
            try configuration.workload.run(context)
        } catch {
            return (journal, db, error)
        }
        return (journal, db, nil)
    }

    /// One run with `fault` armed at `call`; returns the violations found.
    func evaluate(_ fault: IOFault, call: Int, report: inout FaultReport) -> [(CrashViolation.Kind, String)] {
        let storage = FaultInjectingStorage(armed: (fault, call), sectorSize: configuration.sectorSize)
        let outcome: (FaultJournal, Database?, (any Error)?)
        do { outcome = try runWorkload(on: storage) } catch { return [(.harnessError, "\(error)")] }
        let (journal, db, failure) = outcome
        defer { db?.close() }
        var found: [(CrashViolation.Kind, String)] = []
        guard storage.fired else { return [] }   // this run took another path and never reached the call
        guard let failure else {
            return [(.faultSwallowed, "\(fault.rawValue) at call \(call) was injected, yet every call of the workload succeeded")]
        }
        guard let error = failure as? SealKVError, error.code == fault.expectedCode else {
            return [(.wrongError, "\(fault.rawValue) at call \(call) surfaced as \(failure), not a SealKV \(fault.expectedCode) error")]
        }
        if let db {
            do {
                try db.write { tx in try tx.put("after-the-fault", "must not commit") }
                found.append((.notPoisoned, "a commit after the failed \(fault.rawValue) succeeded; the handle must refuse further commits"))
            } catch let e as SealKVError where e.code == .poisoned {
            } catch {
                found.append((.notPoisoned, "a commit after the failed \(fault.rawValue) failed with \(error), not a poisoned-handle error"))
            }
        }
        // The written image is what this machine sees on reopening; the durable one survives a power cut.
        let d = configuration.durability == .noSync ? journal.synced : journal.acknowledged
        // Without sync nothing is promised before `sync()` returns, on either image.
        for (name, image, floor) in [("written", storage.written, d), ("durable", storage.durable, d)] {
            report.imagesChecked += 1
            if let problem = checkImage(image, floor: floor, journal: journal) {
                found.append((problem.0, "\(name) image after \(fault.rawValue) at call \(call): \(problem.1)"))
            }
        }
        return found
    }

    /// Opens an image and checks it against the journal's promises.
    func checkImage(_ image: [UInt8], floor: Int64, journal: FaultJournal) -> (CrashViolation.Kind, String)? {
        var lastError: (any Error)? = nil
        for credential in journal.credentials.reversed() {
            do {
                var o = options()
                o.mode = .readOnly
                let db = try Database.open(storage: RecordingStorage(bytes: image), credential: credential, options: o)
                defer { db.close() }
                let k = Int64(db.currentTxnID)
                if k < floor { return (.lostCommit, "opened at commit \(k), but commit \(floor) was acknowledged") }
                let issued = max(0, journal.acknowledged, journal.issued.withLock { $0 })   // creation issues commit 0
                if k > issued { return (.phantomCommit, "opened at commit \(k); the newest issued was \(issued)") }
                let report = try db.check()
                if !report.isClean { return (.checkFailed, "\(report.problems.prefix(3))") }
                if let expected = journal.digests[UInt64(k)], try Recorder.digest(db) != expected {
                    return (.contentsDiffer, "commit \(k) opened with contents other than those acknowledged")
                }
                return nil
            } catch {
                // Try every credential of the run: an interrupted password change can leave a store
                // that only the previous one opens.
                lastError = error
            }
        }
        if floor < 0 { return nil }   // the store's creation was never acknowledged
        return (.openFailed, "\(lastError.map { "\($0)" } ?? "no credential opened it")")
    }

}
