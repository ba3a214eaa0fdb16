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
             bugs: DeliberateBugs = [], maxStates: Int = 0) throws -> CrashReport {
        var config = CrashConfiguration()
        config.workload = workload
        config.durability = durability
        config.operations = operations
        config.seed = seed
        config.deliberateBugs = bugs
        config.maxStates = maxStates
        config.fullCheckEvery = 50
        return try CrashHarness(config).run()
    }

    @Test(arguments: [Durability.oneSync, .twoPhase, .noSync])
    func correctStoreHasNoViolations(durability: Durability) throws {
        for workload in CrashWorkload.all {
            let report = try run(workload, durability)
            #expect(report.violations.isEmpty, "\(workload.name) \(durability): \(report.violations.prefix(3))")
            #expect(report.totalStates > 200, "\(workload.name): only \(report.totalStates) states")
            #expect(report.unique["compound", default: 0] > 0 || durability == .noSync)
        }
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
