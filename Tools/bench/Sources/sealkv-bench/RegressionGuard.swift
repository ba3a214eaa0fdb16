import Foundation

/// A small, fast subset (SealKV only, 100,000 keys, median of 3 runs) compared with the figures
/// recorded in `Tools/bench/baseline.json`. A metric more than `tolerance` below its baseline fails
/// the guard. The machine is noisy, so the tolerance is wide: this catches a hot path made much
/// slower, not a few percent. Recording takes the median of `recordRuns` runs, so one lucky or
/// unlucky run does not become the baseline.
enum RegressionGuard {
    static let keys = 100_000
    static let runs = 3
    static let recordRuns = 9
    static let tolerance = 0.30
    static let metrics = ["fill", "batch-updates", "hot-reads", "hot-scan", "durable-puts", "cold-reads"]

    static var baselinePath: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../baseline.json").standardized.path
    }

    static func run(record: Bool) throws {
        var measurements: [[Measurement]] = []
        let count = record ? recordRuns : runs
        for r in 1...count {
            FileHandle.standardError.write(Data("guard run \(r)/\(count)...\n".utf8))
            measurements.append([try runChild("sealkv", keys: keys, only: Set(metrics))])
        }
        let summary = Summary(measurements, engines: ["sealkv"], keys: keys)
        let current = summary.values["sealkv"]!.filter { metrics.contains($0.key) }
        if record {
            let data = try JSONSerialization.data(withJSONObject: current, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: baselinePath))
            print("recorded the baseline in \(baselinePath)")
            return
        }
        guard let data = FileManager.default.contents(atPath: baselinePath),
              let baseline = try JSONSerialization.jsonObject(with: data) as? [String: Double] else {
            throw BenchError("no baseline at \(baselinePath); record one with --guard --record")
        }
        var failed: [String] = []
        print("metric           baseline      now   change")
        for metric in metrics {
            let was = baseline[metric] ?? 0, now = current[metric] ?? 0
            let change = was > 0 ? now / was - 1 : 0
            print(metric.padding(toLength: 14, withPad: " ", startingAt: 0) + String(format: " %10.0f %10.0f %+7.1f%%", was, now, change * 100))
            if change < -tolerance { failed.append(metric) }
        }
        if !failed.isEmpty {
            throw BenchError("slower than the baseline by more than \(Int(tolerance * 100))%: \(failed.joined(separator: ", "))")
        }
        print("no metric more than \(Int(tolerance * 100))% below the baseline")
    }
}
