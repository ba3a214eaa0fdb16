import ArgumentParser
import Foundation
import SealKV
import SealKVCrashHarness

/// `sealkv crashtest`: explore crash states of a workload and check every one.
struct CrashtestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crashtest",
        abstract: "Crash a workload at every persistence point and check recovery (exit 1 on any violation).",
        discussion: """
        --mode states (the default) replays the workload's writes into crash states in memory; nothing \
        touches the disk. --mode faults fails each write, sync and file extension in turn, in memory. \
        --mode kill runs the workload in child processes on a real file under --dir and kills each \
        with SIGKILL. See Docs/CRASH-TESTING.md.
        """)

    @Option(help: "states, kill or faults.") var mode = "states"
    @Option(name: .customLong("rounds"), parsing: .unconditional, help: "Kill mode: child processes to start and kill (1 to 1000000).") var roundsText = "20"
    @Option(help: "Kill mode: folder for the store file (default: a new folder under $TMPDIR or /tmp).") var dir: String?
    @Option(help: .hidden) var killChild: String?
    @Option(help: .hidden) var readerChild: String?
    @Option(name: .customLong("readers"), parsing: .unconditional, help: "Kill mode: reader processes to run beside the writers, checking every snapshot they read (0 to 64).") var readersText = "1"
    @Option(name: .customLong("write-engine"), help: "Kill mode: how the writer processes write and sync: automatic, pwritev or io-uring.") var writeEngineName = "automatic"
    @Option(name: .customLong("credential-index"), parsing: .unconditional, help: .hidden) var credentialIndexText = "0"

    @Option(help: "Workload: mixed, namespaces, shrink, rotation, bulk, concurrent (four writer threads), or all.") var workload = "all"
    @Option(name: .customLong("ops"), parsing: .unconditional, help: "Operations per workload run (1 to 10000000).") var opsText = "200"
    @Option(name: .customLong("seed"), parsing: .unconditional, help: "Seed of the workload and of the sampled states.") var seedText = "1"
    @Option(name: .customLong("max-states"), parsing: .unconditional, help: "Stop after this many states per run (0: no limit).") var maxStatesText = "0"
    @Option(name: .customLong("sector"), parsing: .unconditional, help: "Sector size for torn writes, in bytes: 512, 1024, 2048 or 4096.") var sectorText = "512"
    @Option(help: "Durability mode: one-sync, two-phase, no-sync, or all.") var durability = "all"
    @Option(name: .customLong("full-check-every"), parsing: .unconditional, help: "Also run the full checker on every Nth state (0: never).") var fullCheckEveryText = "100"
    @Option(help: "Reproduce one state from a violation's replay id.") var replay: String?
    @Flag(help: "JSON output.") var json = false

    var rounds: Int { get throws { try NumericArgument.integer(roundsText, "--rounds", in: 1...1_000_000, unit: "processes") } }
    var readers: Int { get throws { try NumericArgument.integer(readersText, "--readers", in: 0...64, unit: "processes") } }
    var credentialIndex: Int { get throws { try NumericArgument.integer(credentialIndexText, "--credential-index", in: 0...1_000) } }
    var ops: Int { get throws { try NumericArgument.integer(opsText, "--ops", in: 1...10_000_000, unit: "operations") } }
    var seed: UInt64 { get throws { try NumericArgument.integer(seedText, "--seed", in: 0...UInt64.max) } }
    var maxStates: Int { get throws { try NumericArgument.integer(maxStatesText, "--max-states", in: 0...Int.max, unit: "states", note: "0: no limit") } }
    var fullCheckEvery: Int { get throws { try NumericArgument.integer(fullCheckEveryText, "--full-check-every", in: 0...Int.max, unit: "states", note: "0: never") } }
    var sector: Int {
        get throws {
            let size = try NumericArgument.integer(sectorText, "--sector", in: 512...4096, unit: "bytes")
            guard [512, 1024, 2048, 4096].contains(size) else {
                throw ToolFailure("--sector: \(size) is not a sector size; give 512, 1024, 2048 or 4096.", exitCode: 2)
            }
            return size
        }
    }

    var writeEngine: WriteEngine {
        get throws {
            switch writeEngineName {
            case "automatic": return .automatic
            case "pwritev": return .pwritev
            case "io-uring": return .ioUring
            default: throw ToolFailure("--write-engine: '\(writeEngineName)' is not a write engine; give automatic, pwritev or io-uring.", exitCode: 2)
            }
        }
    }

    /// Refuses numbers (and names) out of range before anything runs, in one line.
    func checkRanges() throws {
        _ = try (rounds, readers, credentialIndex, ops, seed, maxStates, fullCheckEvery, sector, writeEngine)
    }

    /// `--workload` names none of the built-in workloads: the refusal lists them all.
    private var unknownWorkload: ValidationError {
        let names = CrashWorkload.builtIn.map(\.name)
        return ValidationError("unknown workload '\(workload)'; use \(names.dropLast().joined(separator: ", ")), \(names.last!) or all.")
    }

    func run() throws {
        try checkRanges()
        if let readerChild {
            try storeCall { try KillHarness.readerChild(path: readerChild, credentialIndex: credentialIndex) }
            return
        }
        if let dir, killChild == nil {
            switch try FileKind.of(dir) {
            case .directory?: break
            case nil: throw ToolFailure("--dir '\(dir)' does not exist; create the folder first.", exitCode: 2)
            case let kind?: throw ToolFailure("--dir '\(dir)' is \(kind.phrase), not a folder.", exitCode: 2)
            }
        }
        guard ["states", "kill", "faults"].contains(mode) else { throw ValidationError("unknown mode '\(mode)'; use states, kill or faults.") }
        if let killChild {
            var config = CrashConfiguration()
            config.workload = try CrashWorkload.named(workload) ?? { throw unknownWorkload }()
            config.operations = try ops
            config.seed = try seed
            config.durability = try modes().first!.1
            config.writeEngine = try writeEngine
            try storeCall { try KillHarness.child(path: killChild, credentialIndex: credentialIndex, configuration: config) }
            return
        }
        if let replay {
            let report = try storeCall { try CrashHarness.replay(replay, operations: self.ops) }
            emit([("replay", report)])
            if !report.violations.isEmpty { throw ToolFailure("the state violates the store's promises", exitCode: 1) }
            return
        }
        let workloads = workload == "all" ? CrashWorkload.builtIn : try [CrashWorkload.named(workload) ?? { throw unknownWorkload }()]
        if mode == "faults" { return try runFaults(workloads) }
        if mode == "kill" { return try runKills(workloads) }
        var results: [(String, CrashReport)] = []
        let bar = ProgressBar("crashtest", unit: "states")
        for w in workloads {
            for (name, mode) in try modes() {
                var config = try configuration(w, mode)
                config.fullCheckEvery = try fullCheckEvery
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
                    "violations": r.violations.map { ["kind": $0.kind.rawValue, "replay": $0.replayID, "message": $0.message] },
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
            for v in r.violations { byKind[v.kind.rawValue, default: 0] += 1 }
            for (k, n) in byKind.sorted(by: { $0.key < $1.key }) { print("    \(k): \(n)") }
            for v in r.violations.prefix(5) { print("    \(v)") }
        }
    }
}
