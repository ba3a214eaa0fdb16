import ArgumentParser
import Foundation
import SealKV
import SealKVCrashHarness

/// The kill and fault modes of `sealkv crashtest`, and what the modes share.
extension CrashtestCommand {
    /// The durability modes `--durability` names, with their names.
    func modes() throws -> [(String, Durability)] {
        switch durability {
        case "all": return [("one-sync", .oneSync), ("two-phase", .twoPhase), ("no-sync", .noSync)]
        case "one-sync": return [("one-sync", .oneSync)]
        case "two-phase": return [("two-phase", .twoPhase)]
        case "no-sync": return [("no-sync", .noSync)]
        default: throw ValidationError("unknown durability '\(durability)'; use one-sync, two-phase, no-sync or all.")
        }
    }

    /// The options shared by every mode, for one workload and durability.
    func configuration(_ w: CrashWorkload, _ mode: Durability) throws -> CrashConfiguration {
        var config = CrashConfiguration()
        config.workload = w
        config.operations = try ops
        config.seed = try seed
        config.maxStates = try maxStates
        config.sectorSize = try sector
        config.durability = mode
        return config
    }

    /// `--mode faults`: every fault at every call the workload makes (or `--max-states` of them).
    func runFaults(_ workloads: [CrashWorkload]) throws {
        var violations = 0
        for w in workloads {
            for (name, mode) in try modes() {
                let r = try storeCall { try FaultHarness(try configuration(w, mode)).run() }
                violations += r.violations.count
                let runs = r.runs.values.reduce(0, +)
                if json {
                    print(jsonLine([
                        "run": "\(w.name)/\(name)", "mode": "faults", "runs": r.runs, "callsInCleanRun": r.callsInCleanRun,
                        "imagesChecked": r.imagesChecked, "seconds": r.seconds,
                        "violations": r.violations.map { ["kind": $0.kind.rawValue, "replay": $0.replayID, "message": $0.message] },
                    ] as [String: Any]))
                    continue
                }
                let calls = r.callsInCleanRun.keys.sorted().map { "\($0) \(r.runs[$0] ?? 0)/\(r.callsInCleanRun[$0]!)" }.joined(separator: ", ")
                print("\(w.name)/\(name): \(runs) runs with one fault each (runs/calls: \(calls)); \(r.imagesChecked) images reopened and checked in \(String(format: "%.1f", r.seconds)) s")
                print("  violations: \(r.violations.isEmpty ? "none" : "\(r.violations.count)")")
                for v in r.violations.prefix(5) { print("    \(v)") }
            }
        }
        if violations > 0 { throw ToolFailure("\(violations) violation(s) found", exitCode: 1) }
    }

    /// `--mode kill`: child processes on a real file, killed with SIGKILL at random moments.
    func runKills(_ workloads: [CrashWorkload]) throws {
        let directory = dir ?? (ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp") + "/sealkv-crashtest-\(getpid())"
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var violations = 0
        for w in workloads {
            for (name, mode) in try modes() {
                let ops = try self.ops
                var harness = KillHarness(try configuration(w, mode),
                                          childCommand: [executable, "crashtest", "--workload", w.name, "--ops", "\(ops)", "--durability", name,
                                                         "--write-engine", writeEngineName],
                                          directory: directory)
                harness.rounds = try rounds
                harness.readerProcesses = try readers
                let bar = ProgressBar("\(w.name)/\(name)", unit: "kills")
                harness.progress = { done, total in bar.update(done: done, total: total) }
                let r = try storeCall { try harness.run() }
                bar.finish()
                violations += r.violations.count
                if json {
                    print(jsonLine([
                        "run": "\(w.name)/\(name)", "mode": "kill", "rounds": r.rounds, "killed": r.killed, "completed": r.completed,
                        "acknowledgedCommits": r.acknowledgedCommits, "recoveredUnacknowledged": r.recoveredUnacknowledged, "seconds": r.seconds,
                        "readerSnapshots": r.readerSnapshots, "readerSnapshotsCompared": r.readerSnapshotsCompared, "readersKilled": r.readersKilled,
                        "violations": r.violations.map { ["kind": $0.kind.rawValue, "replay": $0.replayID, "message": $0.message] },
                    ] as [String: Any]))
                    continue
                }
                print("\(w.name)/\(name): \(r.rounds) child processes, \(r.killed) killed, \(r.completed) finished first; \(r.acknowledgedCommits) acknowledged commits reported, \(r.recoveredUnacknowledged) reopened at the unacknowledged one; \(r.readerSnapshots) snapshots read beside the writers (\(r.readerSnapshotsCompared) compared, \(r.readersKilled) readers killed); \(String(format: "%.1f", r.seconds)) s")
                print("  violations: \(r.violations.isEmpty ? "none" : "\(r.violations.count)")")
                for v in r.violations.prefix(5) { print("    \(v)") }
            }
        }
        rmdir(directory)
        if violations > 0 { throw ToolFailure("\(violations) violation(s) found", exitCode: 1) }
    }
}
