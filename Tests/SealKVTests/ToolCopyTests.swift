import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `compact` and `backup` killed with SIGKILL at random moments: the output is either absent or
/// complete, what a killed run leaves behind never opens as a store, and the next copy made in the
/// folder removes it, but not the temporary of a copy still running.
@Suite("sealkv tool: killed copies")
struct ToolCopyTests {
    static let entries = 30_000

    /// The temporaries in `dir` (this version's and earlier versions' names).
    static func temporaries(in dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { $0.hasPrefix(".sealkv-partial-") || $0.hasPrefix(".sealkv-new-") }.map { dir + "/" + $0 }
    }

    /// Entries a copy holds, by a full check (nil if it does not pass).
    static func checkedEntries(_ f: ToolFixture, _ path: String) throws -> Int? {
        let r = try f.run(["check", path, "--json"])
        guard r.status == 0, let report = try? JSONSerialization.jsonObject(with: Data(r.stdout)) as? [String: Any] else { return nil }
        return (report["entries"] as? [String: Int])?[""]
    }

    /// Starts `command`, waits until its temporary appears, lets it run a random while, kills it.
    static func startAndKill(_ f: ToolFixture, _ command: [String], upTo milliseconds: UInt32, using rng: inout SeededRandom) throws -> ToolProcess.Result {
        let running = try ToolProcess.start((command + ["--key-file", f.keyFile]).map { Array($0.utf8) })
        let deadline = Date().addingTimeInterval(60)
        while running.isRunning && temporaries(in: f.dir).isEmpty && Date() < deadline { usleep(500) }
        usleep(UInt32.random(in: 0...milliseconds, using: &rng) * 1000)
        running.signal(SIGKILL)
        return running.finish(timeout: 60)
    }

    @Test func killedCopiesLeaveNothingThatPassesForAStore() throws {
        let f = ToolFixture()
        let store = try f.store("s.sealkv", lines: ToolFixture.lines(Self.entries, valueSize: 900))
        var rng = SeededRandom(seed: 3)
        var killed = 0
        for round in 0..<12 {
            let command = round % 2 == 0 ? "compact" : "backup"
            let out = f.path("out\(round).sealkv")
            let r = try Self.startAndKill(f, [command, store, out], upTo: command == "compact" ? 700 : 120, using: &rng)
            if r.status == 128 + SIGKILL { killed += 1 }
            if FileManager.default.fileExists(atPath: out) {
                #expect(try Self.checkedEntries(f, out) == Self.entries, "\(command) round \(round): an incomplete copy at \(out)")
            }
        }
        #expect(killed >= 6, "only \(killed) of 12 runs were killed while running")
        let leftovers = Self.temporaries(in: f.dir)
        #expect(!leftovers.isEmpty, "no kill left a temporary behind: the test did not kill mid-copy")
        for temporary in leftovers {
            let opened = try f.run(["get", temporary, "key-0000001"])
            #expect(opened.status == 2 && opened.err.contains("not a SealKV store"), "\(temporary) opens: \(opened.status) \(opened.err)")
        }
        // The next copy in the folder removes what the killed ones left.
        try f.run(["backup", store, f.path("final.sealkv")]).expect(0, "backup after the kills")
        #expect(Self.temporaries(in: f.dir).isEmpty, "left behind: \(Self.temporaries(in: f.dir))")
        #expect(try Self.checkedEntries(f, f.path("final.sealkv")) == Self.entries)
    }

    /// A copy that is running keeps its temporary while another copy cleans the folder.
    @Test func aRunningCopyKeepsItsTemporary() throws {
        let f = ToolFixture()
        let store = try f.store("s.sealkv", lines: ToolFixture.lines(Self.entries, valueSize: 900))
        let compact = try ToolProcess.start(["compact", store, f.path("c.sealkv"), "--key-file", f.keyFile].map { Array($0.utf8) })
        let deadline = Date().addingTimeInterval(60)
        while compact.isRunning && Self.temporaries(in: f.dir).isEmpty && Date() < deadline { usleep(500) }
        #expect(compact.isRunning, "the compaction ended before the test could watch it")
        try f.run(["backup", store, f.path("b.sealkv")]).expect(0, "backup beside a running compaction")
        compact.finish(timeout: 120).expect(0, "the compaction")
        #expect(try Self.checkedEntries(f, f.path("c.sealkv")) == Self.entries)
        #expect(Self.temporaries(in: f.dir).isEmpty)
    }
}
