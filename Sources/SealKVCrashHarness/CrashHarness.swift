import SealKV
#if canImport(Glibc)
import Glibc
#endif

/// What to explore.
public struct CrashConfiguration: Sendable {
    /// The workload and its operation budget.
    public var workload: CrashWorkload = .mixed
    public var operations = 200
    /// Seed of the workload's generator and of the sampled crash states.
    public var seed: UInt64 = 1
    /// Durability mode of the store under test.
    public var durability: Durability = .oneSync
    /// Stop after this many crash states (0: no limit).
    public var maxStates = 0
    /// Torn writes tear at this sector size (bytes; divides 4096).
    public var sectorSize = 512
    /// Epochs with at most this many unsynced writes are explored exhaustively (every subset).
    public var exhaustiveLimit = 12
    /// Random subsets and torn variants drawn per sampled epoch.
    public var samplesPerEpoch = 48
    public var tornPerEpoch = 16
    /// Crash states of the first run that are reopened, committed to and crashed again.
    public var compoundCrashes = 6
    /// Run the store's full checker and compare logical contents on every Nth state (1: all; 0: never).
    /// The default oracle is page-identity, equivalent but far cheaper (see Docs/CRASH-TESTING.md).
    public var fullCheckEvery = 0
    /// Deliberate bugs to switch on in the store (to prove the harness finds them).
    package var deliberateBugs: DeliberateBugs = []

    /// Defaults: the mixed workload, 200 operations, seed 1, one-fsync.
    public init() {}
}

extension CrashConfiguration {
    /// The start of every replay id of this configuration: "workload:seed:durability", the
    /// durability as 1 (one-sync), 2 (two-phase) or 0 (no-sync).
    var replayPrefix: String {
        let code = switch durability {
        case .oneSync: "1"
        case .twoPhase: "2"
        case .noSync: "0"
        }
        return "\(workload.name):\(seed):\(code)"
    }
}

/// A state that broke a promise.
public struct CrashViolation: Sendable, CustomStringConvertible {
    /// "open-failed", "lost-commit", "phantom-commit", "damaged-page", "check-failed", "contents-differ".
    public let kind: String
    /// Reproduces the state with `CrashHarness.replay(_:)` or `sealkv crashtest --replay`.
    public let replayID: String
    public let message: String
    public var description: String { "[\(kind)] \(replayID): \(message)" }
}

/// What a run explored and found.
public struct CrashReport: Sendable {
    public var traceWrites = 0
    public var traceBytes = 0
    public var barriers = 0
    public var largestUnsyncedSet = 0
    public var commits = 0
    /// Size of the store at the end of the workload's first run, in bytes.
    public var storeBytes = 0
    /// States generated and unique (after skipping duplicates), by class: "barrier", "subset",
    /// "prefix", "omission", "sampled", "torn", "compound".
    public var generated: [String: Int] = [:]
    public var unique: [String: Int] = [:]
    public var exhaustiveEpochs = 0
    public var sampledEpochs = 0
    public var evaluationSeconds = 0.0
    public var totalSeconds = 0.0
    public var violations: [CrashViolation] = []

    /// Unique states checked per second of evaluation.
    public var statesPerSecond: Double { evaluationSeconds > 0 ? Double(unique.values.reduce(0, +)) / evaluationSeconds : 0 }
    public var totalStates: Int { unique.values.reduce(0, +) }

    mutating func merge(_ other: CrashReport) {
        traceWrites += other.traceWrites
        traceBytes += other.traceBytes
        barriers += other.barriers
        largestUnsyncedSet = max(largestUnsyncedSet, other.largestUnsyncedSet)
        commits += other.commits
        for (k, v) in other.generated { generated[k, default: 0] += v }
        for (k, v) in other.unique { unique[k, default: 0] += v }
        exhaustiveEpochs += other.exhaustiveEpochs
        sampledEpochs += other.sampledEpochs
        evaluationSeconds += other.evaluationSeconds
        totalSeconds += other.totalSeconds
        violations += other.violations
    }
}

/// Explores crash states of a workload's trace and checks each against the store's promises: open
/// succeeds, the recovered commit lies between the last acknowledged (or, without sync, the last
/// synced) commit and the last issued one, and it is exactly that commit, every reachable page
/// intact. Then some states are reopened, committed to and crashed again.
public struct CrashHarness {
    public let configuration: CrashConfiguration
    /// Called with (states done, states budget or 0) as the exploration proceeds.
    public var progress: ((Int, Int) -> Void)?

    public init(_ configuration: CrashConfiguration) {
        self.configuration = configuration
    }

    /// Every crash state is an image of the same store: unwrap each data key once, not per state.
    let unlockCache = UnlockCache()

    func options() -> Options {
        var o = Options(durability: configuration.durability, cacheSize: 1 << 20, ioEngine: .posix)
        o.deliberateBugs = configuration.deliberateBugs
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
            let k = try Recovery.open(storage: storage, credential: credential, unlockCache: unlockCache).state.txnID
            storage.mark(.issued(k))
            storage.mark(.acknowledged(k))
            storage.mark(.synced(k))
            db = try Database.open(storage: storage, credential: credential, options: options())
        }
        defer { db.close() }
        recorder.observe(db)
        try recorder.acknowledge(db)
        let context = WorkloadContext(database: db, random: SeededGenerator(seed: seed), operations: operations, journal: recorder)
        try configuration.workload.run(context)
        return recorder
    }

    /// Evaluates every crash state of a recorded trace.
    func explore(_ recorder: Recorder, path: String, budget: inout Budget, compoundSources: Int,
                 only: (epoch: Int, state: Int)? = nil) -> CrashReport {
        var report = CrashReport()
        let events = recorder.storage.events
        let images = recorder.storage.images
        report.traceWrites = images.count
        report.traceBytes = images.count * FileFormat.pageSize
        report.commits = recorder.references.count
        var durable = recorder.storage.initialBytes
        var pending: [Int] = []
        var issued: Int64 = -1, acknowledged: Int64 = -1, synced: Int64 = -1
        var epoch = 0
        var seen = Set<Int>()
        var passing: [(String, OverlayStorage)] = []
        var rng = SeededGenerator(seed: configuration.seed &* 0x9E37_79B9 &+ stableHash(path))
        let evaluationStart = ContinuousClock.now

        func finishEpoch() {
            if only == nil || only!.epoch == epoch {
                let d = configuration.durability == .noSync ? synced : acknowledged
                let states = enumerate(pending.count, epoch: epoch, path: path)
                let epochBase = EpochBase(durable)
                report.largestUnsyncedSet = max(report.largestUnsyncedSet, pending.count)
                if pending.count <= configuration.exhaustiveLimit { report.exhaustiveEpochs += 1 } else { report.sampledEpochs += 1 }
                for (index, state) in states.enumerated() where !budget.exhausted {
                    if let only, only.state != index { continue }
                    let cls = path == "-" ? state.cls : "compound"
                    report.generated[cls, default: 0] += 1
                    let overlay = apply(state, pending: pending, events: events, images: images, base: durable)
                    guard seen.insert(signature(state, pending: pending, events: events, overlay: overlay)).inserted else { continue }
                    report.unique[cls, default: 0] += 1
                    budget.used += 1
                    let id = "\(configuration.replayPrefix):\(path):\(epoch):\(index)"
                    let full = configuration.fullCheckEvery > 0 && budget.used % configuration.fullCheckEvery == 0
                    switch judge(overlay, base: epochBase, d: d, i: issued, recorder: recorder, fullCheck: full || only != nil) {
                    case .violation(let kind, let message):
                        report.violations.append(CrashViolation(kind: kind, replayID: id, message: message))
                    case .opened:
                        if compoundSources > 0 && passing.count < 64 && Int.random(in: 0..<16, using: &rng) == 0 {
                            passing.append((id, overlay))
                        }
                    case .neverCreated:
                        break
                    }
                    if budget.used % 512 == 0 { progress?(budget.used, budget.limit) }
                }
            }
            // The barrier: everything issued so far is durable.
            for idx in pending { applyDurably(events[idx], images: images, to: &durable) }
            pending.removeAll()
            epoch += 1
        }

        for (idx, event) in events.enumerated() {
            switch event {
            case .issued(let t): issued = max(issued, Int64(t))
            case .acknowledged(let t): acknowledged = max(acknowledged, Int64(t))
            case .synced(let t): synced = max(synced, Int64(t))
            case .write, .resize: pending.append(idx)
            case .sync:
                report.barriers += 1
                finishEpoch()
            }
        }
        finishEpoch()   // the crash at the very end, with whatever was never synced
        report.evaluationSeconds = seconds(ContinuousClock.now - evaluationStart)

        // Compound crashes: reopen some passing states, commit more, crash again.
        if compoundSources > 0 && only == nil {
            for (n, (id, overlay)) in passing.prefix(compoundSources).enumerated() where !budget.exhausted {
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
                    report.violations.append(CrashViolation(kind: "open-failed", replayID: id, message: "reopening the state to continue failed: \(error)"))
                }
            }
        }
        return report
    }

    /// One crash state of an epoch: which of its events persisted, and possibly one torn write.
    struct State {
        var cls: String
        var persisted: [Bool]
        /// The index (within the epoch) of a torn write and each sector's source: 0 old, 1 new,
        /// 2 zeros, 3 garbage.
        var torn: (write: Int, sectors: [UInt8])? = nil
    }

    /// The states of an epoch with `n` unsynced events, in a deterministic order.
    func enumerate(_ n: Int, epoch: Int, path: String) -> [State] {
        var rng = SeededGenerator(seed: configuration.seed ^ (UInt64(epoch) &* 0x2545_F491_4F6C_DD1D) ^ UInt64(truncatingIfNeeded: stableHash(path)))
        var states: [State] = [State(cls: "barrier", persisted: Array(repeating: false, count: n))]
        guard n > 0 else { return states }
        if n <= configuration.exhaustiveLimit {
            for mask in 1..<(1 << n) {
                states.append(State(cls: "subset", persisted: (0..<n).map { mask & (1 << $0) != 0 }))
            }
        } else {
            for p in 1...n { states.append(State(cls: "prefix", persisted: (0..<n).map { $0 < p })) }
            for j in 0..<n { states.append(State(cls: "omission", persisted: (0..<n).map { $0 != j })) }
            for _ in 0..<configuration.samplesPerEpoch {
                states.append(State(cls: "sampled", persisted: (0..<n).map { _ in Bool.random(using: &rng) }))
            }
        }
        let sectors = FileFormat.pageSize / configuration.sectorSize
        for _ in 0..<configuration.tornPerEpoch {
            var persisted = (0..<n).map { _ in Bool.random(using: &rng) }
            let write = Int.random(in: 0..<n, using: &rng)
            persisted[write] = true
            var pattern = (0..<sectors).map { _ in UInt8.random(in: 0...3, using: &rng) }
            if pattern.allSatisfy({ $0 == 1 }) { pattern[0] = 0 }
            states.append(State(cls: "torn", persisted: persisted, torn: (write, pattern)))
        }
        return states
    }

    /// The crash state's storage: the durable base plus the persisted events of the epoch.
    func apply(_ state: State, pending: [Int], events: [TraceEvent], images: [[UInt8]], base: [UInt8]) -> OverlayStorage {
        let overlay = OverlayStorage(base: base, overlay: [:], pages: UInt64(base.count / FileFormat.pageSize))
        for (i, idx) in pending.enumerated() where state.persisted[i] {
            switch events[idx] {
            case .write(let page, let image):
                if let torn = state.torn, torn.write == i {
                    overlay.overlay[page] = tear(old: overlay.page(page), new: images[image], pattern: torn.sectors, seed: UInt64(idx))
                } else {
                    overlay.overlay[page] = images[image]
                }
                overlay.pages = max(overlay.pages, page + 1)
            case .resize(let pages):
                overlay.pages = pages
                overlay.overlay = overlay.overlay.filter { $0.key < pages }
            default: break
            }
        }
        return overlay
    }

    func tear(old: [UInt8], new: [UInt8], pattern: [UInt8], seed: UInt64) -> [UInt8] {
        var out = new
        var rng = SeededGenerator(seed: seed)
        let s = configuration.sectorSize
        for (i, source) in pattern.enumerated() {
            let range = (i * s)..<((i + 1) * s)
            switch source {
            case 0: out.replaceSubrange(range, with: old[range])
            case 2: out.replaceSubrange(range, with: repeatElement(0, count: s))
            case 3: out.replaceSubrange(range, with: (0..<s).map { _ in UInt8.random(in: 0...255, using: &rng) })
            default: break
            }
        }
        return out
    }

    /// Identity of a state for skipping duplicates: for each changed page, which event (or torn
    /// pattern) produced it, and the file's size.
    func signature(_ state: State, pending: [Int], events: [TraceEvent], overlay: OverlayStorage) -> Int {
        var h = Hasher()
        h.combine(overlay.pages)
        var source: [UInt64: Int] = [:]
        for (i, idx) in pending.enumerated() where state.persisted[i] {
            if case .write(let page, _) = events[idx] {
                source[page] = (state.torn?.write == i) ? -(idx + 1) * 1_000_003 - state.torn!.sectors.reduce(0) { $0 * 4 + Int($1) } : idx
            }
        }
        for (page, src) in source.sorted(by: { $0.key < $1.key }) where page < overlay.pages {
            h.combine(page)
            h.combine(src)
        }
        return h.finalize()
    }

    func applyDurably(_ event: TraceEvent, images: [[UInt8]], to bytes: inout [UInt8]) {
        switch event {
        case .write(let page, let image):
            let end = (Int(page) + 1) * FileFormat.pageSize
            if end > bytes.count { bytes.append(contentsOf: [UInt8](repeating: 0, count: end - bytes.count)) }
            bytes.replaceSubrange((Int(page) * FileFormat.pageSize)..<end, with: images[image])
        case .resize(let pages):
            let size = Int(pages) * FileFormat.pageSize
            if size < bytes.count { bytes.removeLast(bytes.count - size) } else { bytes.append(contentsOf: [UInt8](repeating: 0, count: size - bytes.count)) }
        default: break
        }
    }

    /// What the oracle concluded about one state.
    enum Verdict {
        case opened
        /// Open failed, legitimately: the store's creation was never acknowledged.
        case neverCreated
        case violation(String, String)
    }

    /// The oracle.
    func judge(_ state: OverlayStorage, base: EpochBase, d: Int64, i: Int64, recorder: Recorder, fullCheck: Bool) -> Verdict {
        switch judgeState(state, base: base, d: d, i: i, recorder: recorder, fullCheck: fullCheck) {
        case .some(("never-created", _)): return .neverCreated
        case .some(let (kind, message)): return .violation(kind, message)
        case .none: return .opened
        }
    }

    private func judgeState(_ state: OverlayStorage, base: EpochBase, d: Int64, i: Int64, recorder: Recorder, fullCheck: Bool) -> (String, String)? {
        var opened: OpenedStore? = nil
        var openedWith: Credential? = nil
        var lastError: SealKVError? = nil
        for credential in recorder.credentials.reversed() {
            do throws(SealKVError) {
                opened = try Recovery.open(storage: state, credential: credential,
                                              verifyNewest: !configuration.deliberateBugs.has(.skipRecoveryCheck), unlockCache: unlockCache)
                openedWith = credential
                break
            } catch {
                // Try every credential of the run: a crash during a password change can leave a
                // store only the previous credential opens (the change was not acknowledged).
                if lastError == nil || lastError!.code == .wrongCredential { lastError = error }
            }
        }
        guard let opened else {
            if d < 0 { return ("never-created", "") }   // the store's creation was never acknowledged
            return ("open-failed", "open failed with commit \(d) acknowledged: \(lastError?.message ?? "?")")
        }
        let k = Int64(opened.state.txnID)
        if k < d { return ("lost-commit", "recovered commit \(k), but commit \(d) was acknowledged\(configuration.durability == .noSync ? " and synced" : "")") }
        if k > i { return ("phantom-commit", "recovered commit \(k), which was never issued (last issued \(i))") }
        guard let reference = recorder.references[UInt64(k)] else {
            return ("phantom-commit", "recovered commit \(k), which was never acknowledged in this run")
        }
        if opened.state.pageCount > state.pages {
            return ("damaged-page", "commit \(k) needs \(opened.state.pageCount) pages; the file holds \(state.pages)")
        }
        if let page = base.firstDifference(reference, in: state) {
            return ("damaged-page", "page \(page), reachable from recovered commit \(k), differs from what that commit wrote (a full check would fail)")
        }
        if fullCheck {
            do {
                let db = try Database.open(storage: RecordingStorage(bytes: state.materialize()), credential: openedWith!, options: options())
                defer { db.close() }
                let report = try db.check()
                if !report.isClean { return ("check-failed", "full check: \(report.problems.prefix(3))") }
                let digest = try Recorder.digest(db)
                if digest != reference.digest { return ("contents-differ", "contents differ from commit \(k)") }
            } catch {
                return ("check-failed", "full check could not run: \(error)")
            }
        }
        return nil
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
