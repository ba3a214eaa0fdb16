import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// sealkv-bench: the same workloads on SealKV, LMDB, SQLite and SQLCipher, each engine in a child
/// process of its own (a clean RSS figure, and SQLite and SQLCipher never share one), several
/// rounds, medians and ratios in one table.
///
///     sealkv-bench [--keys N] [--runs R] [--engines sealkv,sealkv-pwritev,sealkv-uring-writes,lmdb,sqlite,sqlcipher] [--only W1,W2] [--write-docs]
///     sealkv-bench --guard [--record]       regression guard against Tools/bench/baseline.json
///     sealkv-bench --child ENGINE --keys N --dir D   (internal: one engine, one JSON line)
///     sealkv-bench --child ENGINE --keys N --dir D --shape   (internal: the tree after the fill)
///     sealkv-bench --reader-child ENGINE --keys N --dir D    (internal: reads from another process)
struct Arguments {
    var keys = 1_000_000
    var runs = 3
    var engines = Engines.all
    var writeDocs = false
    var child: String? = nil
    var directory: String? = nil
    var guardMode = false
    var record = false
    /// With `child`: fill, then report the tree's shape instead of running the workloads.
    var shape = false
    /// Workloads to run (the fill always runs: the others start from it); nil runs them all.
    var only: Set<String>? = nil
    /// Read-only random gets for 2 seconds on the store in `directory`, beside its writer.
    var readerChild: String? = nil

    init(_ args: [String]) throws {
        var i = 0
        func value() throws -> String {
            i += 1
            guard i < args.count else { throw BenchError("\(args[i - 1]) needs a value") }
            return args[i]
        }
        while i < args.count {
            switch args[i] {
            case "--keys": keys = Int(try value()) ?? keys
            case "--runs": runs = Int(try value()) ?? runs
            case "--engines": engines = try value().split(separator: ",").map(String.init)
            case "--write-docs": writeDocs = true
            case "--child": child = try value()
            case "--dir": directory = try value()
            case "--guard": guardMode = true
            case "--record": record = true
            case "--shape": shape = true
            case "--reader-child": readerChild = try value()
            case "--only":
                let names = Set(try value().split(separator: ",").map(String.init))
                let unknown = names.subtracting(Workload.names)
                guard unknown.isEmpty else { throw BenchError("unknown workload \(unknown.sorted().joined(separator: ", ")); known: \(Workload.names.joined(separator: ", "))") }
                only = names
            case "-h", "--help":
                print("usage: sealkv-bench [--keys N] [--runs R] [--engines sealkv,lmdb,sqlite,sqlcipher] [--only WORKLOADS] [--write-docs] | --guard [--record]")
                exit(0)
            default: throw BenchError("unknown argument \(args[i])")
            }
            i += 1
        }
    }
}

/// Runs one engine in a child process and returns what it measured.
func runChild(_ engine: String, keys: Int, only: Set<String>? = nil) throws -> Measurement {
    let data = try childOutput(engine, keys: keys, extra: only.map { ["--only", $0.sorted().joined(separator: ",")] } ?? [])
    return try JSONDecoder().decode(Measurement.self, from: data)
}

/// The shape of `engine`'s tree after the fill, from a child process of its own (so reading it
/// cannot change what the measured runs see: asking LMDB for it in the measuring process raised
/// that process's peak RSS by 170 MB).
func treeShapeFromChild(_ engine: String, keys: Int) throws -> TreeShape? {
    try JSONDecoder().decode(TreeShape?.self, from: try childOutput(engine, keys: keys, extra: ["--shape"]))
}

/// Runs `sealkv-bench --child engine` with `extra` arguments in a fresh folder; its standard output.
func childOutput(_ engine: String, keys: Int, extra: [String]) throws -> Data {
    let directory = NSTemporaryDirectory() + "sealkv-bench-\(getpid())-\(engine)"
    try? FileManager.default.removeItem(atPath: directory)
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
    process.arguments = ["--child", engine, "--keys", "\(keys)", "--dir", directory] + extra
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw BenchError("the \(engine) child failed (status \(process.terminationStatus))") }
    return data
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? 0 : s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// Medians over runs, per engine and metric.
struct Summary {
    var engines: [String]
    var keys: Int
    var runs: Int
    var values: [String: [String: Double]] = [:]   // engine -> metric -> median
    /// The tree after the fill, per engine that has one (the keys and their order are fixed, so
    /// one fill tells).
    var shapes: [String: TreeShape] = [:]

    init(_ measurements: [[Measurement]], engines: [String], keys: Int) {
        self.engines = engines
        self.keys = keys
        runs = measurements.count
        for e in engines {
            let mine = measurements.compactMap { $0.first { $0.engine == e } }
            var v: [String: Double] = [:]
            for w in Workload.names {
                let rates = mine.compactMap { $0.rates[w] }
                if !rates.isEmpty { v[w] = median(rates) }
            }
            v["size-after-fill"] = median(mine.map { Double($0.fileBytesAfterFill) })
            v["size-after-delete"] = median(mine.map { Double($0.fileBytesAfterDelete) })
            v["peak-rss"] = median(mine.map { Double($0.peakRSSBytes) })
            values[e] = v
        }
    }

    static let sizeMetrics = ["size-after-fill", "size-after-delete", "peak-rss"]

    func format(_ metric: String, _ x: Double) -> String {
        if Self.sizeMetrics.contains(metric) { return String(format: "%.1f MB", x / 1e6) }
        return x >= 100 ? Self.grouped(Int(x.rounded())) : String(format: "%.1f", x)
    }

    /// `n` with thousands separated by commas.
    static func grouped(_ n: Int) -> String {
        String(String(n).reversed().enumerated().map { $0.offset > 0 && $0.offset % 3 == 0 ? "\($0.element)," : "\($0.element)" }.reversed().joined())
    }

    /// SealKV / peer: above 1 is better for SealKV (for sizes, peer / SealKV, so the same holds).
    func ratio(_ metric: String, _ peer: String, of engine: String = "sealkv") -> Double? {
        guard let s = values[engine]?[metric], let p = values[peer]?[metric], s > 0, p > 0 else { return nil }
        return Self.sizeMetrics.contains(metric) ? p / s : s / p
    }

    var markdown: String {
        let peers = engines.filter { !$0.hasPrefix("sealkv") }
        // With default options beside the tuned configuration: their ratio to LMDB too.
        let defaultsColumn = engines.contains("sealkv-defaults") && engines.contains("lmdb")
        // io_uring writes against pwritev: above 1, io_uring was faster.
        let uringColumn = engines.contains("sealkv-uring-writes") && engines.contains("sealkv-pwritev")
        func row(_ cells: [String]) -> String { "| " + cells.joined(separator: " | ") + " |\n" }
        var out = row(["workload"] + engines + peers.map { "SealKV/\($0)" } + (defaultsColumn ? ["defaults/lmdb"] : [])
                      + (uringColumn ? ["uring/pwritev"] : []))
        out += "|---|" + String(repeating: "---:|", count: engines.count + peers.count + (defaultsColumn ? 1 : 0) + (uringColumn ? 1 : 0)) + "\n"
        for metric in Workload.names + Self.sizeMetrics {
            let rates = engines.map { e in values[e]?[metric].map { format(metric, $0) } ?? "–" }
            var ratios = peers.map { ratio(metric, $0).map { String(format: "%.2fx", $0) } ?? "–" }
            if defaultsColumn { ratios.append(ratio(metric, "lmdb", of: "sealkv-defaults").map { String(format: "%.2fx", $0) } ?? "–") }
            if uringColumn { ratios.append(ratio(metric, "sealkv-pwritev", of: "sealkv-uring-writes").map { String(format: "%.2fx", $0) } ?? "–") }
            out += row([metric] + rates + ratios)
        }
        let trees = engines.compactMap { e in shapes[e].map { t in
            "\(e) depth \(t.depth), \(Self.grouped(t.branchPages)) branch and \(Self.grouped(t.leafPages)) leaf pages (\(String(format: "%.1f", t.childrenPerBranch)) children per branch)"
        } }
        if !trees.isEmpty { out += "\nB+tree after the fill: " + trees.joined(separator: "; ") + ".\n" }
        return out
    }

    /// A bar chart of SealKV's ratio to each peer per workload, on a log scale.
    var svg: String {
        let peers = engines.filter { !$0.hasPrefix("sealkv") }
        let metrics = Workload.names + Self.sizeMetrics
        let colors = ["lmdb": "#4e79a7", "sqlite": "#59a14f", "sqlcipher": "#e15759"]
        let rowHeight = 12 * max(1, peers.count) + 10
        let width = 760, left = 150, plot = 560, height = 50 + metrics.count * rowHeight
        func x(_ r: Double) -> Double { Double(left) + Double(plot) * (log10(min(max(r, 0.01), 100)) + 2) / 4 }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" font-family=\"sans-serif\" font-size=\"11\">\n"
        s += "<text x=\"10\" y=\"16\" font-size=\"13\">SealKV / peer (log scale; right of 1x is better for SealKV), \(keys) keys, median of \(runs)</text>\n"
        for tick in [0.01, 0.1, 1.0, 10.0, 100.0] {
            s += "<line x1=\"\(x(tick))\" y1=\"26\" x2=\"\(x(tick))\" y2=\"\(height - 10)\" stroke=\"\(tick == 1 ? "#000" : "#ccc")\"/>"
            s += "<text x=\"\(x(tick) - 10)\" y=\"\(height - 1)\">\(tick < 1 ? String(tick) : String(Int(tick)))x</text>\n"
        }
        for (row, metric) in metrics.enumerated() {
            let y0 = 32 + row * rowHeight
            s += "<text x=\"10\" y=\"\(y0 + rowHeight / 2)\">\(metric)</text>\n"
            for (j, peer) in peers.enumerated() {
                guard let r = ratio(metric, peer) else { continue }
                let a = x(1), b = x(r)
                s += "<rect x=\"\(min(a, b))\" y=\"\(y0 + j * 12)\" width=\"\(max(1, abs(b - a)))\" height=\"10\" fill=\"\(colors[peer] ?? "#999")\"/>"
                s += "<text x=\"\(max(a, b) + 3)\" y=\"\(y0 + j * 12 + 9)\" font-size=\"9\">\(String(format: "%.2f", r)) vs \(peer)</text>\n"
            }
        }
        return s + "</svg>\n"
    }
}

func machine() -> String {
    let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.split(separator: "\n").first { $0.hasPrefix("model name") }
        .map { String($0.split(separator: ":", maxSplits: 1)[1]).trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
    let mem = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8))?.split(separator: "\n").first.map(String.init) ?? ""
    return "\(ProcessInfo.processInfo.activeProcessorCount) cores (\(cpu)), \(mem.replacingOccurrences(of: "  ", with: ""))"
}

func main() throws {
    let args = try Arguments(Array(CommandLine.arguments.dropFirst()))
    if let engine = args.readerChild, let directory = args.directory {
        print(try Workload.readFromThisProcess(engine, directory: directory, keys: args.keys))
        return
    }
    if let engine = args.child {
        let directory = args.directory ?? NSTemporaryDirectory()
        if args.shape {
            FileHandle.standardOutput.write(try JSONEncoder().encode(try Workload.treeShape(engine: engine, keys: args.keys, directory: directory)))
            return
        }
        let m = try Workload.run(engine: engine, keys: args.keys, directory: directory, only: args.only)
        FileHandle.standardOutput.write(try JSONEncoder().encode(m))
        return
    }
    if args.guardMode { return try RegressionGuard.run(record: args.record) }
    var all: [[Measurement]] = []
    for run in 1...args.runs {
        var round: [Measurement] = []
        for engine in args.engines {
            FileHandle.standardError.write(Data("run \(run)/\(args.runs): \(engine), \(args.keys) keys...\n".utf8))
            round.append(try runChild(engine, keys: args.keys, only: args.only))
        }
        all.append(round)
    }
    var summary = Summary(all, engines: args.engines, keys: args.keys)
    for engine in args.engines where Engines.bTrees.contains(engine) {
        FileHandle.standardError.write(Data("tree shape: \(engine), \(args.keys) keys...\n".utf8))
        summary.shapes[engine] = try treeShapeFromChild(engine, keys: args.keys)
    }
    print("\(args.keys) keys (16-byte scattered keys, 100-byte values), median of \(args.runs) runs; rates are operations per second")
    print(summary.markdown)
    if args.writeDocs {
        guard args.only == nil else { throw BenchError("--write-docs records every workload; drop --only") }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../..").standardized.path
        let docs = root + "/Docs/BENCHMARKS.md"
        let begin = "<!-- embedded-benchmark:begin -->", end = "<!-- embedded-benchmark:end -->"
        var text = try String(contentsOfFile: docs, encoding: .utf8)
        let date = ISO8601DateFormatter().string(from: Date()).prefix(10)
        let section = """
        \(begin)
        Generated by `make bench` (`swift run -c release --package-path Tools/bench sealkv-bench --keys \(args.keys) --runs \(args.runs) --write-docs`) on \(date), \(machine()).
        Rates are operations per second (entries per second for scans); each engine runs in its own child process; medians of \(args.runs) runs. Ratios are SealKV/peer (for sizes and RSS, peer/SealKV), so above 1 favours SealKV.

        \(summary.markdown)
        ![SealKV against its peers](benchmarks.svg)
        \(end)
        """
        if let a = text.range(of: begin), let b = text.range(of: end) {
            text.replaceSubrange(a.lowerBound..<b.upperBound, with: section)
        } else {
            text += "\n" + section + "\n"
        }
        try text.write(toFile: docs, atomically: true, encoding: .utf8)
        try summary.svg.write(toFile: root + "/Docs/benchmarks.svg", atomically: true, encoding: .utf8)
        FileHandle.standardError.write(Data("wrote Docs/BENCHMARKS.md and Docs/benchmarks.svg\n".utf8))
    }
}

do {
    try main()
} catch {
    FileHandle.standardError.write(Data("sealkv-bench: \(error)\n".utf8))
    exit(1)
}
