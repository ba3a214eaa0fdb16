@testable import SealKV
import Testing
import Dispatch
import Synchronization

@Suite("Backup and compaction")
struct BackupTests {
    @Test func hotBackupWhileAWriterCommits() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let db = try Database.open(at: dir + "/src.sealkv", credential: .password("p"), options: TestSupport.options())
        try db.write { tx in for i in 0..<20_000 { try tx.put("k\(i)", "v\(i)-0") } }
        let stop = Atomic<Bool>(false)
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            var round = 1
            while !stop.load(ordering: .relaxed) {
                try! db.write { tx in for i in stride(from: round % 7, to: 20_000, by: 7) { try tx.put("k\(i)", "v\(i)-\(round)") } }
                round += 1
            }
        }
        for n in 0..<3 {
            try db.backup(to: dir + "/backup\(n).sealkv")
        }
        stop.store(true, ordering: .relaxed)
        group.wait()
        for n in 0..<3 {
            let copy = try Database.open(at: dir + "/backup\(n).sealkv", credential: .password("p"), options: TestSupport.options(.openExisting))
            try TestSupport.expectClean(copy)
            // A consistent snapshot: every key present, each holding a value some commit wrote.
            let all = try copy.read { try $0.all().map { $0 } }
            #expect(all.count == 20_000)
            copy.close()
        }
        #expect(throws: SealKVError.self) { try db.backup(to: dir + "/backup0.sealkv") }
        try db.backup(to: dir + "/backup0.sealkv", overwrite: true)
        db.close()
    }

    @Test func compactKeepsOnlyLiveDataPacked() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let clock = ManualClock()
        var options = TestSupport.options()
        options.clock = clock.reading
        let db = try Database.open(at: dir + "/src.sealkv", credential: .password("p"), options: options)
        var rng = SeededRandom(seed: 11)
        try db.write { tx in
            for _ in 0..<30_000 {
                let k = (0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) }
                try tx.put(k, [UInt8](repeating: 7, count: 100))
            }
            for i in 0..<100 { try tx.namespace("temp").put("t\(i)", "x", ttl: .seconds(10)) }
            try tx.namespace("keep").put("big", [UInt8](repeating: 1, count: 100_000))
            try tx.namespace("keep").put("later", "y", ttl: .seconds(1000))
        }
        // Delete every other key scattered through the tree: pages stay half full.
        let keys = try db.read { try Array($0.keys()) }
        try db.write { tx in for (i, k) in keys.enumerated() where i % 2 == 0 { try tx.delete(k) } }
        clock.advance(.seconds(20))
        let sourceSize = try db.stats().highWaterMark
        let progress = Locked(0)
        try db.compact(to: dir + "/compact.sealkv") { p in progress.withLock { $0 = p.done } }
        db.close()
        let copy = try Database.open(at: dir + "/compact.sealkv", credential: .password("p"), options: options)
        try TestSupport.expectClean(copy)
        let stats = try copy.stats()
        #expect(stats.entries[""] == 15_000)
        #expect(stats.entries["temp"] == 0)
        #expect(try copy.namespace("keep").get("big")?.count == 100_000)
        #expect(try copy.read { try $0.namespace("keep").timeToLive("later") } != nil)
        #expect(stats.highWaterMark * 10 < sourceSize * 7, "compacted to \(stats.highWaterMark) pages from \(sourceSize)")
        #expect(progress.withLock { $0 } >= 15_000)
        copy.close()
    }
}
