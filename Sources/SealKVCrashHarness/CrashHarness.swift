import SealKV
#if canImport(Glibc)
import Glibc
#endif

/// Explores crash states of a workload's trace and checks each against the store's promises: open
/// succeeds, the recovered commit lies between the last acknowledged (or, without sync, the last
/// synced) commit and the last issued one, and it is exactly that commit, every reachable page
/// intact. Then some states are reopened, committed to and crashed again.
public struct CrashHarness {
    /// What this harness explores.
    public let configuration: CrashConfiguration
    /// Called with (states done, states budget or 0) as the exploration proceeds.
    public var progress: ((Int, Int) -> Void)?

    /// A harness for `configuration`; ``run()`` explores it.
    public init(_ configuration: CrashConfiguration) {
        self.configuration = configuration
    }

    /// Every crash state is an image of the same store: unwrap each data key once, not per state.
    let unlockCache = UnlockCache()
    /// Most crash states share most of their sealed pages: decrypt each distinct page once (see
    /// ``AuthenticationCache`` for why the outcome is the same).
    let authenticationCache = AuthenticationCache()
    /// The full checks' own cache: it never goes by the states' names, only by whole sealed bytes,
    /// so a full check's open and contents digest decrypt only pages no full check opened before
    /// (and its `check` decrypts every page regardless).
    let fullCheckCache = AuthenticationCache(capacity: 2_048, remembersNames: false)

    func options() -> Options {
        var o = Options(durability: configuration.durability, cacheSize: 1 << 20, ioEngine: .posix)
        o.deliberateBugs = configuration.deliberateBugs
        return o
    }

    /// The full check's open: the smallest cache (16 pages), since it reads every page once and
    /// most of its cost was mapping, locking and wiping a larger one for each checked state.
    func fullCheckOptions() -> Options {
        var o = options()
        o.cacheSize = 16 * FileFormat.pageSize
        return o
    }

    /// Runs the workload, explores its crash states and compound crashes, and reports.
    public func run() throws -> CrashReport {
        let started = ContinuousClock.now
        var budget = Budget(limit: configuration.maxStates)
        let recorder = try record(initial: [], seed: configuration.seed, operations: configuration.operations)
        var report = explore(recorder, path: "-", budget: &budget, compoundSources: configuration.compoundCrashes)
        report.storeBytes = Int(recorder.storage.pageCount) * FileFormat.pageSize
        report.totalSeconds = seconds(ContinuousClock.now - started)
        return report
    }

    struct Budget {
        var limit: Int
        var used = 0
        var exhausted: Bool { limit > 0 && used >= limit }
    }

    /// Runs the workload on a recording store (created empty, or reopened from `initial`).
    func record(initial: [UInt8], credential: Credential? = nil, seed: UInt64, operations: Int) throws -> Recorder {
        let storage = RecordingStorage(bytes: initial)
        let credential = try credential ?? HarnessCredentials.key(0)
        let recorder = Recorder(storage: storage, credential: credential)
        let db: Database
        if initial.isEmpty {
            storage.mark(.issued(0))
            db = try Database.open(storage: storage, credential: credential, options: options(), create: true)
        } else {
            // The initial image is durable, so the commit it recovers to is acknowledged (and synced)
            // before opening it for writing writes anything.
            let recovered = try Recovery.open(storage: storage, credential: credential, unlockCache: unlockCache)
            let k = recovered.state.txnID
            storage.mark(.issued(k))
            storage.mark(.acknowledged(k))
            storage.mark(.synced(k))
            // After a fallback, the writable open retires the refused slot with an empty commit
            // numbered past the refused one: issued by the open itself.
            if let refused = recovered.recovery.refusedTxnID { storage.mark(.issued(max(k, refused) + 1)) }
            db = try Database.open(storage: storage, credential: credential, options: options())
        }
        defer { db.close() }
        recorder.observe(db)
        try recorder.acknowledge(db)
        // That empty commit has the recovered commit's pages and contents: until it is durable,
        // a crash may recover either.
        let recoveredTxnID = db.recovery.openedTxnID
        if !initial.isEmpty, recorder.references[recoveredTxnID] == nil, var same = recorder.references[db.currentTxnID] {
            same.txnID = recoveredTxnID
            recorder.references[recoveredTxnID] = same
        }
        let context = WorkloadContext(database: db, random: SeededGenerator(seed: seed), operations: operations, journal: recorder)
        try configuration.workload.run(context)
        return recorder
    }

    /// Where an exploration of one trace stands: the durable image so far, the epoch's unsynced
    /// events, the commit watermarks the trace has reached, and the states seen.
    struct Exploration {
        var durable: DurableImage
        var pending: [Int] = []
        var issued: Int64 = -1, acknowledged: Int64 = -1, synced: Int64 = -1
        var epoch = 0
        /// The signatures of this epoch's states checked so far.
        var seen = Set<Int>()
        var signatureScratch = SignatureScratch()
        /// Passing states kept to reopen, commit to and crash again.
        var passing: [(id: String, overlay: OverlayStorage)] = []
        var random: SeededGenerator
        var report = CrashReport()
    }

    /// Evaluates every crash state of a recorded trace, then (with `compoundSources`) crashes some
    /// passing states again after more commits. With `only`, evaluates just that state.
    func explore(_ recorder: Recorder, path: String, budget: inout Budget, compoundSources: Int,
                 only: (epoch: Int, state: Int)? = nil) -> CrashReport {
        var x = Exploration(durable: recorder.storage.initialImage,
                            random: SeededGenerator(seed: configuration.seed &* 0x9E37_79B9 &+ stableHash(path)))
        let events = recorder.storage.events
        x.report.traceWrites = recorder.storage.images.count
        x.report.traceBytes = recorder.storage.images.count * FileFormat.pageSize
        x.report.commits = recorder.references.count
        let evaluationStart = ContinuousClock.now
        for (idx, event) in events.enumerated() {
            switch event {
            case .issued(let t): x.issued = max(x.issued, Int64(t))
            case .acknowledged(let t): x.acknowledged = max(x.acknowledged, Int64(t))
            case .synced(let t): x.synced = max(x.synced, Int64(t))
            case .write, .resize: x.pending.append(idx)
            case .sync:
                x.report.barriers += 1
                finishEpoch(&x, recorder: recorder, path: path, budget: &budget, keepPassing: compoundSources > 0, only: only)
            }
        }
        // The crash at the very end, with whatever was never synced.
        finishEpoch(&x, recorder: recorder, path: path, budget: &budget, keepPassing: compoundSources > 0, only: only)
        x.report.evaluationSeconds = seconds(ContinuousClock.now - evaluationStart)
        if compoundSources > 0 && only == nil {
            exploreCompounds(from: x.passing.prefix(compoundSources), recorder: recorder, path: path, budget: &budget, into: &x.report)
        }
        return x.report
    }

    /// Judges every state of the epoch that ends here, then makes its events durable.
    private func finishEpoch(_ x: inout Exploration, recorder: Recorder, path: String, budget: inout Budget,
                             keepPassing: Bool, only: (epoch: Int, state: Int)?) {
        let events = recorder.storage.events, images = recorder.storage.images
        if only == nil || only!.epoch == x.epoch {
            let d = configuration.durability == .noSync ? x.synced : x.acknowledged
            let states = enumerate(x.pending.count, epoch: x.epoch, path: path)
            let epochBase = EpochBase(x.durable.bytes)
            x.report.largestUnsyncedSet = max(x.report.largestUnsyncedSet, x.pending.count)
            if x.pending.count <= configuration.exhaustiveLimit { x.report.exhaustiveEpochs += 1 } else { x.report.sampledEpochs += 1 }
            for (index, state) in states.enumerated() where !budget.exhausted {
                if let only, only.state != index { continue }
                let cls = path == "-" ? state.cls : "compound"
                x.report.generated[cls, default: 0] += 1
                let pages = pageCount(state, pending: x.pending, events: events, basePages: x.durable.pageCount)
                guard x.seen.insert(signature(state, pending: x.pending, events: events, pages: pages, scratch: &x.signatureScratch)).inserted else { continue }
                let overlay = apply(state, pending: x.pending, events: events, images: images, base: x.durable, trace: recorder.storage.trace)
                x.report.unique[cls, default: 0] += 1
                budget.used += 1
                let id = "\(configuration.replayPrefix):\(path):\(x.epoch):\(index)"
                let full = configuration.fullCheckEvery > 0 && budget.used % configuration.fullCheckEvery == 0
                switch judge(overlay, base: epochBase, d: d, i: x.issued, recorder: recorder, fullCheck: full || only != nil) {
                case .violation(let kind, let message):
                    x.report.violations.append(CrashViolation(kind: kind, replayID: id, message: message))
                case .opened:
                    if keepPassing && x.passing.count < 64 && Int.random(in: 0..<16, using: &x.random) == 0 {
                        x.passing.append((id, overlay))
                    }
                case .neverCreated:
                    break
                }
                if budget.used % 512 == 0 { progress?(budget.used, budget.limit) }
            }
        }
        // The barrier: everything issued so far is durable.
        for idx in x.pending { x.durable.apply(events[idx], images: images, trace: recorder.storage.trace) }
        x.pending.removeAll()
        // A signature names a state by its epoch's events over that epoch's durable image: the
        // next epoch has another image, so its states are never duplicates of these.
        x.seen.removeAll()
        x.epoch += 1
    }

    /// Compound crashes: reopens each passing state, commits more, and explores that trace too.
    private func exploreCompounds(from passing: ArraySlice<(id: String, overlay: OverlayStorage)>, recorder: Recorder, path: String,
                                  budget: inout Budget, into report: inout CrashReport) {
        for (n, (id, overlay)) in passing.enumerated() where !budget.exhausted {
            let childPath = path == "-" ? "c\(n)" : path + ".c\(n)"
            do {
                // The state may open only with an earlier credential (a password change it lost).
                let credential = recorder.credentials.reversed().first { c in
                    (try? Recovery.open(storage: overlay, credential: c, unlockCache: unlockCache)) != nil
                }
                let child = try record(initial: overlay.materialize(), credential: credential,
                                       seed: configuration.seed &+ UInt64(n + 1) &* 7919, operations: max(12, configuration.operations / 8))
                report.merge(explore(child, path: childPath, budget: &budget, compoundSources: 0))
            } catch {
                report.violations.append(CrashViolation(kind: .openFailed, replayID: id, message: "reopening the state to continue failed: \(error)"))
            }
        }
    }

    // MARK: Replay

    /// Re-runs the workload and evaluates only the state a violation's replay id names, with the
    /// full check. Byte contents differ between runs (fresh nonces and keys); which writes persisted
    /// does not.
    public static func replay(_ id: String, workloads: [CrashWorkload] = CrashWorkload.builtIn, operations: Int) throws -> CrashReport {
        let parts = id.split(separator: ":").map(String.init)
        guard parts.count == 6, let workload = workloads.first(where: { $0.name == parts[0] }), let seed = UInt64(parts[1]),
              let epoch = Int(parts[4]), let state = Int(parts[5]) else {
            throw SealKVError(.invalidArgument, "'\(id)' is not a replay id (workload:seed:durability:path:epoch:state).")
        }
        var config = CrashConfiguration()
        config.workload = workload
        config.seed = seed
        config.operations = operations
        config.durability = parts[2] == "2" ? .twoPhase : parts[2] == "0" ? .noSync : .oneSync
        config.fullCheckEvery = 1
        let harness = CrashHarness(config)
        var budget = Budget(limit: 0)
        let recorder = try harness.record(initial: [], seed: seed, operations: operations)
        if parts[3] == "-" {
            return harness.explore(recorder, path: "-", budget: &budget, compoundSources: 0, only: (epoch, state))
        }
        // A compound state descends from states the first exploration picked; the picks are
        // deterministic, so exploring again reaches it. Keep only what the id names.
        var report = harness.explore(recorder, path: "-", budget: &budget, compoundSources: config.compoundCrashes)
        report.violations = report.violations.filter { $0.replayID == id }
        return report
    }
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

func stableHash(_ s: String) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return h
}
