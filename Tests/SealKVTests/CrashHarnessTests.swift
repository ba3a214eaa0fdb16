@testable import SealKV
@testable import SealKVCrashHarness
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("Crash harness")
struct CrashHarnessTests {
    static let operations = getenv("SEALKV_LONG") != nil ? 400 : 48

    func run(_ workload: CrashWorkload, _ durability: Durability = .oneSync, operations: Int = Self.operations, seed: UInt64 = 3,
             bugs: DeliberateBugs = [], maxStates: Int = 0, fullCheckEvery: Int = 50) throws -> CrashReport {
        var config = CrashConfiguration()
        config.workload = workload
        config.durability = durability
        config.operations = operations
        config.seed = seed
        config.deliberateBugs = bugs
        config.maxStates = maxStates
        config.fullCheckEvery = fullCheckEvery
        return try CrashHarness(config).run()
    }

    /// Each epoch's states lie over that epoch's durable image, so none is a duplicate of another
    /// epoch's: every epoch's barrier state (nothing of it persisted) is checked.
    @Test func everyEpochsBarrierStateIsChecked() throws {
        var config = CrashConfiguration()
        config.operations = 16
        config.seed = 3
        config.compoundCrashes = 0
        let report = try CrashHarness(config).run()
        #expect(report.generated["barrier"] ?? 0 > 10)
        #expect(report.unique["barrier"] == report.generated["barrier"], "barrier states \(report.unique["barrier"] ?? 0) of \(report.generated["barrier"] ?? 0)")
    }

    /// A file cut and grown again reads zeros where it was cut, not the bytes it held before; and
    /// such a state is not taken for a duplicate of one that was never cut.
    @Test func aStateCutAndGrownAgainReadsZeros() throws {
        let page = FileFormat.pageSize
        let base = DurableImage(bytes: (0..<(4 * page)).map { UInt8(truncatingIfNeeded: $0 % 251 + 1) },
                                identities: [10, 11, 12, 13])
        let state = OverlayStorage(base: base, pages: 4)
        state.resize(to: 2)
        state.write(3, [UInt8](repeating: 9, count: page), identity: 20)
        let zeros = [UInt8](repeating: 0, count: page)
        #expect(state.pages == 4)
        #expect(state.page(2) == zeros)
        var read = [UInt8](repeating: 1, count: page)
        try read.withUnsafeMutableBytes { try state.readPage(2, into: $0.baseAddress!) }
        #expect(read == zeros)
        #expect(state.contentIdentity(ofPage: 2) == ContentIdentity.zeros)
        #expect(state.contentIdentity(ofPage: 1) == 11)
        #expect(Array(state.materialize()[(2 * page)..<(3 * page)]) == zeros)

        let harness = CrashHarness(CrashConfiguration())
        let events: [TraceEvent] = [.resize(pages: 2), .write(page: 3, image: 0)]
        let cut = CrashHarness.CrashState(cls: "subset", persisted: [true, true])
        let uncut = CrashHarness.CrashState(cls: "subset", persisted: [false, true])
        #expect(harness.signature(cut, pending: [0, 1], events: events, pages: 4)
                != harness.signature(uncut, pending: [0, 1], events: events, pages: 4))
    }

    /// Recovery skips reading a page whose storage names bytes that opened before, so every name a
    /// crash state gives must mean the same bytes in every state and trace, and recovery must use them.
    @Test func contentIdentitiesNameExactBytes() throws {
        var config = CrashConfiguration()
        config.workload = .mixed
        config.operations = 48
        config.seed = 3
        let harness = CrashHarness(config)
        let recorder = try harness.record(initial: [], seed: 3, operations: 48)
        let events = recorder.storage.events, images = recorder.storage.images
        var durable = recorder.storage.initialImage
        var pending: [Int] = []
        var named: [UInt64: [UInt64: [UInt8]]] = [:]
        var checked = 0, epoch = 0
        func checkStates() {
            for state in harness.enumerate(pending.count, epoch: epoch, path: "-").prefix(40) {
                let overlay = harness.apply(state, pending: pending, events: events, images: images, base: durable, trace: recorder.storage.trace)
                for page in 0..<overlay.pages {
                    guard let id = overlay.contentIdentity(ofPage: page) else { continue }
                    let bytes = overlay.page(page)
                    if let known = named[id]?[page] {
                        let same = known == bytes
                        #expect(same, "identity \(id) names two contents of page \(page)")
                    } else {
                        named[id, default: [:]][page] = bytes
                    }
                    checked += 1
                }
            }
            epoch += 1
        }
        for (idx, event) in events.enumerated() {
            switch event {
            case .write, .resize: pending.append(idx)
            case .sync:
                checkStates()
                for i in pending { durable.apply(events[i], images: images, trace: recorder.storage.trace) }
                pending.removeAll()
            default: break
            }
        }
        checkStates()
        #expect(checked > 10_000, "only \(checked) named pages checked")
        // And the exploration does use them: most pages of most walks are not read again.
        var budget = CrashHarness.Budget(limit: 0)
        _ = harness.explore(recorder, path: "-", budget: &budget, compoundSources: 0)
        let counts = harness.authenticationCache.verifiedCounts
        #expect(counts.hits > 10 * counts.misses, "verified pages: \(counts)")
    }

    /// The CI configuration: every workload, two seeds, each durability mode — about 250,000 crash
    /// states in all (each case must reach 34,000, so never fewer than 100,000), none may violate.
    /// The full checker and a logical comparison run on every 200th state besides the page oracle.
    @Test(arguments: [Durability.oneSync, .twoPhase, .noSync])
    func correctStoreHasNoViolations(durability: Durability) throws {
        var states = 0
        for workload in CrashWorkload.all {
            for seed: UInt64 in [3, 4] {
                let report = try run(workload, durability, seed: seed, fullCheckEvery: 200)
                #expect(report.violations.isEmpty, "\(workload.name) \(durability) seed \(seed): \(report.violations.prefix(3))")
                #expect(report.totalStates > 200, "\(workload.name) seed \(seed): only \(report.totalStates) states")
                #expect(report.unique["compound", default: 0] > 0 || durability == .noSync)
                states += report.totalStates
            }
        }
        #expect(states >= 34_000, "\(durability): only \(states) crash states explored")
        print("crash harness, \(durability): \(states) states, every workload, seeds 3 and 4, no violation")
    }

    /// Fault mode: every fault at every call of every workload, in the sync modes and without sync
    /// (`bulk` included: its commits' failing calls include the background writer's batches).
    @Test(arguments: [Durability.oneSync, .noSync])
    func everyIOFaultIsReportedAndLosesNothing(durability: Durability) throws {
        for workload in CrashWorkload.builtIn {
            var config = CrashConfiguration()
            config.workload = workload
            config.durability = durability
            config.operations = 30
            let report = try FaultHarness(config).run()
            #expect(report.violations.isEmpty, "\(workload.name) \(durability): \(report.violations.prefix(3))")
            for fault in IOFault.allCases where fault != .noSpace {
                #expect(report.runs[fault.rawValue, default: 0] > 3, "\(workload.name): \(fault) was hardly tried")
            }
        }
    }

    /// The fault oracle can fail: acknowledging commits without syncing them loses them from the
    /// durable image.
    @Test func faultModeCatchesAnUnsyncedAcknowledgement() throws {
        var config = CrashConfiguration()
        config.workload = .namespaces
        config.operations = 30
        config.deliberateBugs = .skipCommitSync
        let report = try FaultHarness(config).run()
        #expect(report.violations.contains { $0.kind == .lostCommit })
    }

    /// The kill oracle can fail: a file that lacks the acknowledged commit, or holds other contents.
    @Test func killOracleCatchesLossAndDifference() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let path = dir + "/k.sealkv"
        var o = Options(durability: .oneSync)
        o.kdf = TestSupport.fastKDF
        let db = try Database.open(at: path, credential: HarnessCredentials.key(0), options: o)
        try db.write { tx in try tx.put("a", "1") }
        let digest = try Recorder.digest(db)
        db.close()
        let harness = KillHarness(CrashConfiguration(), childCommand: [], directory: dir)
        guard case .success(let ok) = harness.verify(path: path, acknowledged: 1, issued: 1, digests: [1: digest], credentials: 0) else {
            Issue.record("a sound file failed verification")
            return
        }
        #expect(ok.txn == 1)
        guard case .failure(let lost) = harness.verify(path: path, acknowledged: 2, issued: 2, digests: [:], credentials: 0),
              case .failure(let differ) = harness.verify(path: path, acknowledged: 1, issued: 1, digests: [1: digest ^ 1], credentials: 0) else {
            Issue.record("the kill oracle accepted a lost commit or other contents")
            return
        }
        #expect(lost.kind == .lostCommit)
        #expect(differ.kind == .contentsDiffer)
    }

    /// A harness that cannot fail proves nothing: each deliberate bug must produce violations.
    @Test(arguments: [
        ("skipCommitSync", DeliberateBugs.skipCommitSync),
        ("reuseFreedPagesInSameCommit", .reuseFreedPagesInSameCommit),
        ("skipRecoveryCheck", .skipRecoveryCheck),
        ("truncateBeforeDurable", .truncateBeforeDurable),
    ])
    func deliberateBugsAreCaught(name: String, bug: DeliberateBugs) throws {
        let workload: CrashWorkload = bug == .truncateBeforeDurable ? .shrink : .mixed
        let report = try run(workload, bugs: bug)
        #expect(!report.violations.isEmpty, "\(name) went unnoticed over \(report.totalStates) states")
    }
}
