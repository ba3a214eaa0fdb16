import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// SplitMix64: the same seed gives the same keys and choices in every engine's child.
struct Mix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Key `i`: 16 bytes scattered over the key space (a hash of i), so fills arrive in random order.
func key(_ i: Int) -> [UInt8] {
    var m = Mix(state: UInt64(i) &* 0x2545_F491_4F6C_DD1D)
    let a = m.next(), b = m.next()
    return withUnsafeBytes(of: a.bigEndian) { Array($0) } + withUnsafeBytes(of: b.bigEndian) { Array($0) }
}

/// A 100-byte value for key `i` in round `round`.
func value(_ i: Int, _ round: Int) -> [UInt8] {
    var m = Mix(state: UInt64(i) ^ (UInt64(round) << 40))
    var out = [UInt8](repeating: 0, count: 100)
    for j in stride(from: 0, to: 96, by: 8) {
        let x = m.next()
        withUnsafeBytes(of: x) { out.replaceSubrange(j..<(j + 8), with: $0) }
    }
    return out
}

/// What one child measured for one engine.
struct Measurement: Codable {
    var engine: String
    var keys: Int
    /// Operations per second by workload (entries per second for scans).
    var rates: [String: Double] = [:]
    var fileBytesAfterFill: UInt64 = 0
    var fileBytesAfterDelete: UInt64 = 0
    var peakRSSBytes: UInt64 = 0
}

/// The workloads, in the order they run on one store.
enum Workload {
    static let names = ["fill", "batch-updates", "hot-reads", "hot-scan", "durable-puts",
                        "writers-1", "writers-4", "writers-16", "writers-64",
                        "writers-1-fsyncs", "writers-4-fsyncs", "writers-16-fsyncs", "writers-64-fsyncs",
                        "readers-1", "readers-2", "reader-process", "cold-reads", "cold-scan", "cold-scan-no-readahead"]
    /// Writer counts of the concurrent-writer workload; the peers, which cannot share a sync between
    /// transactions, run 1 and 16 only.
    static let writerCounts = [1, 4, 16, 64]

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

    static func timed(_ body: () throws -> Void) rethrows -> Double {
        let start = ContinuousClock.now
        try body()
        return seconds(ContinuousClock.now - start)
    }

    /// The fill's entries: keys 0..<n, each with its first value.
    static func fillPairs(_ n: Int) -> [([UInt8], [UInt8])] { (0..<n).map { (key($0), value($0, 0)) } }

    /// Fills a fresh store of `engine` in `directory` as ``run(engine:keys:directory:only:)`` does
    /// and reports its tree's shape (nil for engines without one).
    static func treeShape(engine name: String, keys n: Int, directory: String) throws -> TreeShape? {
        let engine = try Engines.open(name, directory: directory)
        defer { engine.close() }
        try engine.put(fillPairs(n))
        return try engine.treeShape()
    }

    /// Runs every workload on a fresh store of `engine` in `directory`.
    static func run(engine name: String, keys n: Int, directory: String, only: Set<String>? = nil) throws -> Measurement {
        var m = Measurement(engine: name, keys: n)
        func wanted(_ workload: String) -> Bool { (only?.contains(workload) ?? true) && Engines.runs(workload, on: name) }
        var rng = Mix(state: 42)
        var engine = try Engines.open(name, directory: directory)
        let files = engine.files
        func sumFiles() -> UInt64 { files.reduce(0) { $0 + fileSize($1) } }
        // Close and release the old handle before opening the next, so two never hold memory at once.
        func reopen(cold: Bool, readAhead: Bool = true, measure: () -> Void = {}) throws {
            engine.close()
            engine = Closed()
            measure()
            if cold { for f in files { dropFromOSCache(f) } }
            engine = try Engines.open(name, directory: directory, readAhead: readAhead)
        }

        // fill: every key in one transaction.
        let pairs = fillPairs(n)
        m.rates["fill"] = Double(n) / (try timed { try engine.put(pairs) })
        try reopen(cold: false, measure: { m.fileBytesAfterFill = sumFiles() })

        // batch updates: n/1000 transactions of 1000 random overwrites.
        let batches = max(1, n / 1000)
        let updates = (0..<batches).map { b in (0..<1000).map { _ -> ([UInt8], [UInt8]) in let i = Int.random(in: 0..<n, using: &rng); return (key(i), value(i, b + 1)) } }
        if wanted("batch-updates") {
            m.rates["batch-updates"] = Double(batches * 1000) / (try timed { for batch in updates { try engine.put(batch) } })
        }

        // hot random reads: n gets of random existing keys (after a warming scan).
        _ = try engine.scan()
        let probes = (0..<n).map { _ in key(Int.random(in: 0..<n, using: &rng)) }
        if wanted("hot-reads") {
            var found = 0
            m.rates["hot-reads"] = Double(n) / (try timed { for k in probes where try engine.get(k) { found += 1 } })
            guard found == n else { throw BenchError("\(name): \(n - found) of \(n) existing keys were not found") }
        }

        // hot full scan.
        var scanned = 0
        if wanted("hot-scan") {
            m.rates["hot-scan"] = Double(n) / (try timed { scanned = try engine.scan() })
            guard scanned == n else { throw BenchError("\(name): the scan saw \(scanned) entries, not \(n)") }
        }

        // durable single-put transactions.
        let singles = 1000
        if wanted("durable-puts") {
            m.rates["durable-puts"] = Double(singles) / (try timed {
                for j in 0..<singles { let i = Int.random(in: 0..<n, using: &rng); try engine.put([(key(i), value(i, 7_000 + j))]) }
            })
        }

        // concurrent writers, each doing durable single-put transactions, 2 seconds each.
        for writers in writerCounts where wanted("writers-\(writers)") && (name.hasPrefix("sealkv") || writers == 1 || writers == 16) {
            let (commits, syncs) = try concurrentWriters(engine, writers: writers, keys: n)
            m.rates["writers-\(writers)"] = commits
            if let syncs { m.rates["writers-\(writers)-fsyncs"] = syncs }
        }

        // What the automatic write engine chose over the writing workloads (on standard error).
        if let report = engine.writeEngine, report.hasPrefix("automatic") {
            FileHandle.standardError.write(Data("\(name) write engine after the writing workloads: \(report)\n".utf8))
        }

        // concurrent readers with one writer, 2 seconds each.
        for readers in [1, 2] where wanted("readers-\(readers)") {
            m.rates["readers-\(readers)"] = try concurrentReads(engine, readers: readers, keys: n)
        }

        // a reader in another process (read-only handle) beside this process's writer.
        if wanted("reader-process") && Engines.multiProcess.contains(name) {
            m.rates["reader-process"] = try readerInAnotherProcess(engine, name: name, directory: directory, keys: n)
        }

        // cold random reads and a cold scan: OS cache dropped and the store reopened.
        if wanted("cold-reads") {
            try reopen(cold: true)
            let coldProbes = (0..<max(1000, n / 50)).map { _ in key(Int.random(in: 0..<n, using: &rng)) }
            m.rates["cold-reads"] = Double(coldProbes.count) / (try timed { for k in coldProbes { _ = try engine.get(k) } })
        }
        if wanted("cold-scan") {
            try reopen(cold: true)
            m.rates["cold-scan"] = Double(n) / (try timed { scanned = try engine.scan() })
            guard scanned == n else { throw BenchError("\(name): the cold scan saw \(scanned) entries, not \(n)") }
        }
        // The same cold scan with SealKV's read-ahead off, to show what it is worth.
        if wanted("cold-scan-no-readahead") && name.hasPrefix("sealkv") {
            try reopen(cold: true, readAhead: false)
            m.rates["cold-scan-no-readahead"] = Double(n) / (try timed { scanned = try engine.scan() })
            guard scanned == n else { throw BenchError("\(name): the cold scan saw \(scanned) entries, not \(n)") }
        }

        // delete half the keys, then the size of the files.
        try engine.delete((0..<n).filter { $0 % 2 == 0 }.map { key($0) })
        engine.close()
        m.fileBytesAfterDelete = sumFiles()
        m.peakRSSBytes = peakRSS()
        return m
    }

    /// Durable single-put transactions per second, all writers together, and syncs per second
    /// (for engines that count them), over 2 seconds.
    static func concurrentWriters(_ engine: any Engine, writers: Int, keys n: Int) throws -> (commits: Double, syncs: Double?) {
        final class Handles: @unchecked Sendable { let all: [any EngineWriter]; init(_ h: [any EngineWriter]) { all = h } }
        let handles = Handles(try (0..<writers).map { _ in try engine.makeWriter() })
        let run = TimedRun(threads: writers)
        let syncsBefore = engine.syncCalls
        let group = DispatchGroup()
        let start = ContinuousClock.now
        for w in 0..<writers {
            let thread = Thread {
                var rng = Mix(state: UInt64(w + 1) * 104_729)
                var done = 0
                while !run.stopped {
                    let i = Int.random(in: 0..<n, using: &rng)
                    do { try handles.all[w].put(key(i), value(i, 20_000 + done)) } catch {
                        run.fail(error)
                        break
                    }
                    done += 1
                }
                run.record(done, thread: w)
                group.leave()
            }
            group.enter()
            thread.start()
        }
        usleep(2_000_000)
        run.stop()
        group.wait()
        let elapsed = seconds(ContinuousClock.now - start)
        for h in handles.all { h.close() }
        if let e = run.error { throw e }
        var syncs: Double? = nil
        if let before = syncsBefore, let after = engine.syncCalls { syncs = Double(after - before) / elapsed }
        return (Double(run.total) / elapsed, syncs)
    }

    /// Reads per second of a read-only handle in a child process, while this process commits
    /// 100-key batches: how the store serves a reader process beside a writer process.
    static func readerInAnotherProcess(_ engine: any Engine, name: String, directory: String, keys n: Int) throws -> Double {
        let run = TimedRun(threads: 0)
        let group = DispatchGroup()
        commitBatches(to: engine, keys: n, seed: 4242, firstRound: 30_000, until: run, in: group)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        process.arguments = ["--reader-child", name, "--keys", "\(n)", "--dir", directory]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        run.stop()
        group.wait()
        if let e = run.error { throw e }
        guard process.terminationStatus == 0, let rate = Double(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw BenchError("the \(name) reader process failed (status \(process.terminationStatus))")
        }
        return rate
    }

    /// The reader process's side: opens the store read-only, reads random keys for 2 seconds (each
    /// get its own read transaction) and returns gets per second.
    static func readFromThisProcess(_ name: String, directory: String, keys n: Int) throws -> Double {
        let reader = try Engines.openReadOnly(name, directory: directory)
        defer { reader.close() }
        var rng = Mix(state: 777)
        var done = 0, found = 0
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .seconds(2) {
            for _ in 0..<64 where try reader.get(key(Int.random(in: 0..<n, using: &rng))) { found += 1 }
            done += 64
        }
        guard found == done else { throw BenchError("\(name) reader process: \(done - found) of \(done) existing keys were not found") }
        return Double(done) / seconds(ContinuousClock.now - start)
    }

    /// Reads per second, all readers together, while a writer commits 100-key batches.
    static func concurrentReads(_ engine: any Engine, readers: Int, keys n: Int) throws -> Double {
        let run = TimedRun(threads: readers)
        let handles = try (0..<readers).map { _ in try engine.makeReader() }
        final class Box: @unchecked Sendable { let handles: [any EngineReader]; init(_ h: [any EngineReader]) { handles = h } }
        let box = Box(handles)
        let group = DispatchGroup()
        for r in 0..<readers {
            DispatchQueue.global().async(group: group) {
                var rng = Mix(state: UInt64(r + 1) * 7919)
                var done = 0
                while !run.stopped {
                    for _ in 0..<64 { _ = try? box.handles[r].get(key(Int.random(in: 0..<n, using: &rng))) }
                    done += 64
                }
                run.record(done, thread: r)
            }
        }
        commitBatches(to: engine, keys: n, seed: 99, firstRound: 10_000, until: run, in: group)
        let start = ContinuousClock.now
        usleep(2_000_000)
        run.stop()
        group.wait()
        let elapsed = seconds(ContinuousClock.now - start)
        for h in handles { h.close() }
        if let e = run.error { throw e }
        return Double(run.total) / elapsed
    }

    /// The writer beside readers: commits batches of 100 random overwrites on a thread of its own
    /// until `run` stops (an error stops it too, and is kept in `run`).
    static func commitBatches(to engine: any Engine, keys n: Int, seed: UInt64, firstRound: Int, until run: TimedRun, in group: DispatchGroup) {
        final class Box: @unchecked Sendable { let engine: any Engine; init(_ e: any Engine) { engine = e } }
        let box = Box(engine)
        DispatchQueue.global().async(group: group) {
            var rng = Mix(state: seed)
            var round = firstRound
            while !run.stopped {
                let batch = (0..<100).map { _ -> ([UInt8], [UInt8]) in let i = Int.random(in: 0..<n, using: &rng); return (key(i), value(i, round)) }
                do { try box.engine.put(batch) } catch { run.fail(error); break }
                round += 1
            }
        }
    }
}

/// What the threads of a timed workload share: when to stop, the first error, a count per thread.
final class TimedRun: @unchecked Sendable {
    private let lock = NSLock()
    private var stopRequested = false
    private var firstError: (any Error)?
    private var counts: [Int]

    init(threads: Int) { counts = Array(repeating: 0, count: threads) }

    var stopped: Bool { lock.withLock { stopRequested } }
    var error: (any Error)? { lock.withLock { firstError } }
    var total: Int { lock.withLock { counts.reduce(0, +) } }
    func stop() { lock.withLock { stopRequested = true } }
    /// Keeps the first error and stops every thread.
    func fail(_ error: any Error) { lock.withLock { if firstError == nil { firstError = error }; stopRequested = true } }
    func record(_ count: Int, thread: Int) { lock.withLock { counts[thread] = count } }
}

/// A placeholder between closing one handle and opening the next.
final class Closed: Engine {
    func put(_ pairs: [([UInt8], [UInt8])]) throws { throw BenchError("closed") }
    func delete(_ keys: [[UInt8]]) throws { throw BenchError("closed") }
    func get(_ key: [UInt8]) throws -> Bool { throw BenchError("closed") }
    func scan() throws -> Int { throw BenchError("closed") }
    func makeReader() throws -> any EngineReader { throw BenchError("closed") }
    func makeWriter() throws -> any EngineWriter { throw BenchError("closed") }
    func close() {}
    var files: [String] { [] }
}
