import ArgumentParser
import Foundation
import SealKV
import SealKVCrashHarness

/// `sealkv crashtest`: explore crash states of a workload and check every one.
struct CrashtestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crashtest",
        abstract: "Crash a workload at every persistence point and check recovery (exit 1 on any violation).",
        discussion: "Runs in memory; nothing touches the disk. See Docs/CRASH-TESTING.md.")

    @Option(help: "Workload: mixed, namespaces, shrink, rotation, or all.") var workload = "all"
    @Option(help: "Operations per workload run.") var ops = 200
    @Option(help: "Seed of the workload and of the sampled states.") var seed: UInt64 = 1
    @Option(help: "Stop after this many states per run (0: no limit).") var maxStates = 0
    @Option(help: "Sector size for torn writes, in bytes.") var sector = 512
    @Option(help: "Durability mode: one-sync, two-phase, no-sync, or all.") var durability = "all"
    @Option(help: "Also run the full checker on every Nth state (0: never).") var fullCheckEvery = 100
    @Option(help: "Reproduce one state from a violation's replay id.") var replay: String?
    @Flag(help: "JSON output.") var json = false

    func run() throws {
        guard [512, 1024, 2048, 4096].contains(sector) else { throw ValidationError("--sector must be 512, 1024, 2048 or 4096.") }
        if let replay {
            let report = try storeCall { try CrashHarness.replay(replay, operations: ops) }
            emit([("replay", report)])
            if !report.violations.isEmpty { throw ToolFailure("the state violates the store's promises", exitCode: 1) }
            return
        }
        let workloads = workload == "all" ? CrashWorkload.all : try [CrashWorkload.named(workload) ?? {
            throw ValidationError("unknown workload '\(workload)'; use mixed, namespaces, shrink, rotation or all.")
        }()]
        let modes: [(String, Durability)] = try {
            switch durability {
            case "all": return [("one-sync", .oneSync), ("two-phase", .twoPhase), ("no-sync", .noSync)]
            case "one-sync": return [("one-sync", .oneSync)]
            case "two-phase": return [("two-phase", .twoPhase)]
            case "no-sync": return [("no-sync", .noSync)]
            default: throw ValidationError("unknown durability '\(durability)'; use one-sync, two-phase, no-sync or all.")
            }
        }()
        var results: [(String, CrashReport)] = []
        let bar = ProgressBar("crashtest", unit: "states")
        for w in workloads {
            for (name, mode) in modes {
                var config = CrashConfiguration()
                config.workload = w
                config.operations = ops
                config.seed = seed
                config.maxStates = maxStates
                config.sectorSize = sector
                config.durability = mode
                config.fullCheckEvery = fullCheckEvery
                var harness = CrashHarness(config)
                harness.progress = { done, total in bar.update(done: done, total: max(total, done)) }
                results.append(("\(w.name)/\(name)", try storeCall { try harness.run() }))
            }
        }
        bar.finish()
        emit(results)
        let violations = results.reduce(0) { $0 + $1.1.violations.count }
        if violations > 0 { throw ToolFailure("\(violations) violation(s) found", exitCode: 1) }
    }

    func emit(_ results: [(String, CrashReport)]) {
        if json {
            for (name, r) in results {
                print(jsonLine([
                    "run": name, "traceWrites": r.traceWrites, "traceBytes": r.traceBytes, "barriers": r.barriers,
                    "largestUnsyncedSet": r.largestUnsyncedSet, "commits": r.commits, "storeBytes": r.storeBytes, "generated": r.generated, "unique": r.unique,
                    "exhaustiveEpochs": r.exhaustiveEpochs, "sampledEpochs": r.sampledEpochs, "states": r.totalStates,
                    "statesPerSecond": Int(r.statesPerSecond), "seconds": r.totalSeconds,
                    "violations": r.violations.map { ["kind": $0.kind, "replay": $0.replayID, "message": $0.message] },
                ] as [String: Any]))
            }
            return
        }
        for (name, r) in results {
            let classes = r.unique.keys.sorted().map { "\($0) \(r.unique[$0]!)/\(r.generated[$0] ?? 0)" }.joined(separator: ", ")
            print("""
            \(name): \(r.commits) commits on a \(formatBytes(UInt64(r.storeBytes))) store, \(r.traceWrites) writes (\(formatBytes(UInt64(r.traceBytes)))), \(r.barriers) barriers, largest unsynced set \(r.largestUnsyncedSet)
              states unique/generated: \(classes)
              epochs: \(r.exhaustiveEpochs) exhaustive, \(r.sampledEpochs) sampled; \(r.totalStates) states checked at \(Int(r.statesPerSecond))/s
              violations: \(r.violations.isEmpty ? "none" : "\(r.violations.count)")
            """)
            var byKind: [String: Int] = [:]
            for v in r.violations { byKind[v.kind, default: 0] += 1 }
            for (k, n) in byKind.sorted(by: { $0.key < $1.key }) { print("    \(k): \(n)") }
            for v in r.violations.prefix(5) { print("    \(v)") }
        }
    }
}
