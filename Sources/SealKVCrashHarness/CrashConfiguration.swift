import SealKV

/// What to explore.
public struct CrashConfiguration: Sendable {
    /// The workload.
    public var workload: CrashWorkload = .mixed
    /// Operations the workload runs.
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
    /// Random subsets drawn per sampled epoch.
    public var samplesPerEpoch = 48
    /// Torn variants (one write torn at sector granularity) drawn per epoch.
    public var tornPerEpoch = 16
    /// Crash states of the first run that are reopened, committed to and crashed again.
    public var compoundCrashes = 6
    /// Run the store's full checker and compare logical contents on every Nth state (1: all; 0: never).
    /// The default oracle is page-identity, equivalent but far cheaper (see Docs/CRASH-TESTING.md).
    public var fullCheckEvery = 0
    /// Deliberate bugs to switch on in the store (to prove the harness finds them).
    package var deliberateBugs: DeliberateBugs = []

    /// Defaults: the mixed workload, 200 operations, seed 1, one-fsync.
    /// Kill mode: how the child processes' commits write and sync (the other modes record the
    /// writes in memory, whatever the engine).
    public var writeEngine: WriteEngine = .automatic
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
