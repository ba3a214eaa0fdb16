@testable @_spi(Fuzzing) import SealKV
import Foundation
import Testing

/// The fuzz targets' entry points, run on seeds from a real store and on seeded mutations of them,
/// in the ordinary test run (and under the sanitizers). With SEALKV_FUZZ_CORPUS=1 the seeds are
/// written to Tools/fuzz/corpus, which is how the committed corpus was made.
@Suite("Fuzz entry points")
struct FuzzEntryPointTests {
    /// Plaintext of every live page of a small store with every page kind, and the open target's seed.
    static func seeds() throws -> (pages: [[UInt8]], image: [UInt8]) {
        let (db, _) = try TestSupport.memoryStore()
        try db.write { tx in
            for i in 0..<200 { try tx.put("key-\(i)", Array("value \(i)".utf8)) }
            try tx.namespace("ns").put("big", [UInt8](repeating: 7, count: 6_000))
            try tx.namespace("ns").put("ttl", "x", ttl: .seconds(600))
        }
        try db.write { tx in for i in stride(from: 0, to: 200, by: 4) { try tx.delete("key-\(i)") } }
        let state = try db.read { $0.base }
        var pages: [[UInt8]] = []
        var image = [UInt8](repeating: 0, count: FileFormat.pageSize)
        image.withUnsafeMutableBytes { state.store(to: $0.baseAddress!) }
        image = Array(image[FileFormat.metaTxnID..<FileFormat.metaRekeyPreviousEpoch])
        var data = [UInt8](repeating: 0, count: Int(state.pageCount - FileFormat.firstDataPage) * FileFormat.pageSize)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: FileFormat.pageSize, alignment: 16)
        defer { buffer.deallocate() }
        for info in try db.pageMap() where info.kind != .free && info.kind != .meta {
            guard let link = info.link else { continue }
            try db.pager.load(link, into: buffer, epochs: db.shared.withLock { $0.epochRule })
            let plain = Array(UnsafeRawBufferPointer(start: buffer, count: FileFormat.pageSize))
            pages.append(plain)
            let at = Int(info.number - FileFormat.firstDataPage) * FileFormat.pageSize
            data.replaceSubrange(at..<(at + FileFormat.pageSize), with: plain)
        }
        db.close()
        return (pages, image + data)
    }

    @Test func entryPointsSurviveSeedsAndMutations() throws {
        let (pages, image) = try Self.seeds()
        #expect(pages.count >= 5)
        if ProcessInfo.processInfo.environment["SEALKV_FUZZ_CORPUS"] != nil {
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Tools/fuzz/corpus").standardized.path
            for (i, p) in pages.enumerated() { try Data(p).write(to: URL(fileURLWithPath: "\(root)/page/seed-\(i)")) }
            try Data(image).write(to: URL(fileURLWithPath: "\(root)/open/seed-store"))
        }
        var rng = SeededRandom(seed: 0xF022)
        for p in pages {
            FuzzEntryPoints.decodePage(p)
            for _ in 0..<100 {
                var m = p
                for _ in 0..<Int.random(in: 1...8, using: &rng) { m[Int.random(in: m.indices, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
                FuzzEntryPoints.decodePage(m)
            }
        }
        // The seed must reach past recovery, or the open target mostly tests the error paths.
        let outcome = FuzzEntryPoints.openPlaintextImage(image)
        #expect(outcome.opened && outcome.checkedClean, "the open target's seed does not open cleanly: \(outcome)")
        #expect(outcome.entriesRead == 150 + 2)
        let committed = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Tools/fuzz/corpus/open/seed-store").standardized
        let seed = try #require(FileManager.default.contents(atPath: committed.path))
        let committedOutcome = FuzzEntryPoints.openPlaintextImage(Array(seed))
        #expect(committedOutcome.opened && committedOutcome.checkedClean && committedOutcome.entriesRead > 0,
                "the committed seed \(committed.path) does not open cleanly: \(committedOutcome)")
        for _ in 0..<100 {
            var m = image
            for _ in 0..<Int.random(in: 1...4, using: &rng) { m[Int.random(in: m.indices, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            FuzzEntryPoints.openPlaintextImage(m)
        }
    }
}
