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
