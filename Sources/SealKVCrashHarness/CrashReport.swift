/// A state that broke a promise.
public struct CrashViolation: Sendable, CustomStringConvertible {
    /// Which promise a crash state broke.
    public enum Kind: String, Sendable, CaseIterable {
        /// The state did not open although its store's creation was acknowledged.
        case openFailed = "open-failed"
        /// It opened at a commit older than the last acknowledged (or, without sync, synced) one.
        case lostCommit = "lost-commit"
        /// It opened at a commit that was never issued, or never acknowledged in this run.
        case phantomCommit = "phantom-commit"
        /// A page the recovered commit reaches is not the one that commit wrote.
        case damagedPage = "damaged-page"
        /// The store's full check found a problem (or could not run).
        case checkFailed = "check-failed"
        /// The recovered commit's contents are not what was acknowledged for it.
        case contentsDiffer = "contents-differ"
        /// A child process of the kill mode failed for another reason than being killed.
        case childFailed = "child-failed"
        /// A reader process beside the writer failed to read a snapshot, or saw it change.
        case readerFailed = "reader-failed"
        /// The fault mode's own run failed before any fault was judged.
        case harnessError = "harness-error"
        /// An injected fault was swallowed: every call of the workload succeeded.
        case faultSwallowed = "fault-swallowed"
        /// An injected fault surfaced as another error than the one it should map to.
        case wrongError = "wrong-error"
        /// A commit succeeded after a failed write or sync: the handle was not poisoned.
        case notPoisoned = "not-poisoned"
    }

    /// The broken promise.
    public let kind: Kind
    /// Reproduces the state with `CrashHarness.replay(_:)` or `sealkv crashtest --replay`.
    public let replayID: String
    /// What was found, in words.
    public let message: String
    /// `[kind] replay-id: message`.
    public var description: String { "[\(kind.rawValue)] \(replayID): \(message)" }
}

/// What a run explored and found.
public struct CrashReport: Sendable {
    /// Page writes in the workload's trace.
    public var traceWrites = 0
    /// Bytes those writes carried.
    public var traceBytes = 0
    /// Sync barriers in the trace (epochs end at each).
    public var barriers = 0
    /// The most unsynced writes and resizes any epoch held.
    public var largestUnsyncedSet = 0
    /// Commits the workload made.
    public var commits = 0
    /// Size of the store at the end of the workload's first run, in bytes.
    public var storeBytes = 0
    /// States generated, by class: "barrier", "subset", "prefix", "omission", "sampled",
    /// "torn", "compound".
    public var generated: [String: Int] = [:]
    /// States evaluated (generated, less duplicates), by class.
    public var unique: [String: Int] = [:]
    /// Epochs small enough to explore every subset of.
    public var exhaustiveEpochs = 0
    /// Epochs explored by prefixes, omissions and samples.
    public var sampledEpochs = 0
    /// Seconds spent judging states.
    public var evaluationSeconds = 0.0
    /// Seconds of the whole run, the workload included.
    public var totalSeconds = 0.0
    /// Every broken promise found.
    public var violations: [CrashViolation] = []

    /// Unique states checked per second of evaluation.
    public var statesPerSecond: Double { evaluationSeconds > 0 ? Double(unique.values.reduce(0, +)) / evaluationSeconds : 0 }
    /// Unique states evaluated, over every class.
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
