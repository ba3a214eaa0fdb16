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
        var scratch = CrashHarness.SignatureScratch()
        #expect(harness.signature(cut, pending: [0, 1], events: events, pages: 4, scratch: &scratch)
                != harness.signature(uncut, pending: [0, 1], events: events, pages: 4, scratch: &scratch))
    }

    /// A signature stands for the bytes a state leaves: two states with the same signature leave
    /// the same file (so no state is skipped for a duplicate that is not one), and without resizes,
    /// states that leave the same file have the same signature (the last write to a page decides,
    /// whatever came before it; each write leaves bytes of its own, as in a recorded trace). Over
    /// random epochs of writes and resizes and random subsets.
    @Test func signaturesStandForTheBytesAStateLeaves() throws {
        let page = FileFormat.pageSize
        let harness = CrashHarness(CrashConfiguration())
        var rng = SeededGenerator(seed: 11)
        let images = (0..<8).map { i in [UInt8](repeating: UInt8(i + 1), count: page) }
        let base = DurableImage(bytes: (0..<(4 * page)).map { UInt8(truncatingIfNeeded: $0 / page + 100) }, identities: [10, 11, 12, 13])
        var scratch = CrashHarness.SignatureScratch()
        var equalBytes = 0, equalSignatures = 0
        for round in 0..<200 {
            let resizing = round % 2 == 1
            // Each write its own image, as in a recorded trace.
            let events: [TraceEvent] = (0..<6).map { i in
                resizing && Int.random(in: 0..<4, using: &rng) == 0 ? .resize(pages: UInt64.random(in: 1...5, using: &rng))
                    : .write(page: UInt64.random(in: 0..<5, using: &rng), image: i)
            }
            let pending = Array(events.indices)
            let states = (0..<12).map { _ in CrashHarness.CrashState(cls: "sampled", persisted: pending.map { _ in Bool.random(using: &rng) }) }
            let seen = states.map { state in
                let pages = harness.pageCount(state, pending: pending, events: events, basePages: base.pageCount)
                let overlay = harness.apply(state, pending: pending, events: events, images: images, base: base, trace: 1)
                return (signature: harness.signature(state, pending: pending, events: events, pages: pages, scratch: &scratch),
                        bytes: overlay.materialize())
            }
            for a in seen.indices {
                for b in seen.indices where a < b {
                    if seen[a].signature == seen[b].signature {
                        equalSignatures += 1
                        #expect(seen[a].bytes == seen[b].bytes, "round \(round): one signature for two files")
                    }
                    if seen[a].bytes == seen[b].bytes {
                        equalBytes += 1
                        if !resizing { #expect(seen[a].signature == seen[b].signature, "round \(round): one file under two signatures") }
                    }
                }
            }
        }
        #expect(equalSignatures > 100 && equalBytes >= equalSignatures, "\(equalSignatures) equal signatures, \(equalBytes) equal files")
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
        // And the exploration does use them: most walks are not run from the start, and most pages
        // of the rest are not read again.
        var budget = CrashHarness.Budget(limit: 0)
        _ = harness.explore(recorder, path: "-", budget: &budget, compoundSources: 0)
        let walks = harness.authenticationCache.walkCounts, pages = harness.authenticationCache.verifiedCounts
        #expect(walks.whole + walks.resumed > 2 * walks.full, "walks: \(walks)")
        #expect(pages.hits > 2 * pages.misses, "verified pages: \(pages)")
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
