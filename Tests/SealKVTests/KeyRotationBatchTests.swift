@testable import SealKV
import Testing
import Foundation

/// A rekey re-seals in bounded batches, each its own commit: the file must not double, every state
/// between batches must open with all its data, and a rekey interrupted there must finish.
extension KeyRotationTests {
    /// The entries `fill` writes, to compare stores against.
    static func fill(_ db: Database) throws -> [String: [UInt8]] {
        var model: [String: [UInt8]] = [:]
        try db.write { tx in
            for i in 0..<3000 {
                let value = Array("value-\(i)-".utf8) + [UInt8](repeating: UInt8(i % 251), count: i % 200)
                try tx.put("k\(i)", value)
                model["k\(i)"] = value
            }
            let big = [UInt8]((0..<60_000).map { UInt8($0 % 253) })
            try tx.put("big", big)
            model["big"] = big
            for i in 0..<300 { try tx.namespace("ns").put("n\(i)", "x\(i)", ttl: .seconds(3600)) }
        }
        return model
    }

    static func expectContents(_ db: Database, _ model: [String: [UInt8]], _ what: String) throws {
        try db.read { tx in
            var seen = 0
            try tx.all().forEach { key, value in
                #expect(model[String(decoding: key, as: UTF8.self)] == value, "\(what): key \(String(decoding: key, as: UTF8.self))")
                seen += 1
            }
            #expect(seen == model.count, "\(what): \(seen) entries, expected \(model.count)")
            #expect(try tx.namespace("ns").count() == 300, "\(what): the namespace lost entries")
        }
    }

    @Test func rekeyInBatchesNeitherDoublesTheFileNorLeavesOldPages() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let path = dir + "/b.sealkv"
        let db = try Database.open(at: path, credential: .password("pw"), options: TestSupport.options())
        let model = try Self.fill(db)
        let before = try db.stats()
        let live = Int(before.highWaterMark) - before.freePages - 2   // the meta slots are not re-sealed pages
        let oldSealer = db.pager.sealer
        let report = try db.rekey(credential: .password("pw"), batchPages: 16)
        #expect(report.batches >= live / 16, "\(report.batches) batches for \(live) live pages")
        #expect(!report.resumed)
        #expect(report.pagesResealed >= live, "\(report.pagesResealed) pages re-sealed of \(live) live")
        let after = try db.stats()
        // Each batch reuses what the one before freed: the file grows by a few batches, where
        // re-sealing everything in one commit needed room for every live page twice.
        #expect(after.fileBytes <= before.fileBytes + 64 * 4096, "file grew from \(before.fileBytes) to \(after.fileBytes) bytes (\(live) live pages)")
        #expect(!after.rekeyInProgress)
        try Self.expectContents(db, model, "after the rekey")
        try TestSupport.expectClean(db)
        db.close()
        let stale = pagesOpening(path, under: [oldSealer])
        #expect(stale.isEmpty, "pages \(stale.prefix(10)) of \(stale.count) still open under the old key")
        let reopened = try open(path, .password("pw"))
        try Self.expectContents(reopened, model, "reopened")
        reopened.close()
    }

    /// The store as it is after each batch's commit is what a crash there leaves: it must open with
    /// every entry, take ordinary writes (which carry the old key on), report the rekey as
    /// interrupted, and finish it when `rekey` is called again, under the same new key.
    @Test func everyStateBetweenBatchesOpensAndFinishes() throws {
        let (db, storage) = try TestSupport.memoryStore()
        let model = try Self.fill(db)
        let oldSealer = db.pager.sealer
        let images = Locked<[[UInt8]]>([])
        db.commitObserver.withLock {
            $0 = CommitObserver(willWrite: { _ in }, didPublish: { _ in images.withLock { $0.append(storage.snapshot()) } })
        }
        let report = try db.rekey(credential: .password(TestSupport.password), batchPages: 16)
        db.commitObserver.withLock { $0 = nil }
        let states = images.withLock { $0 }
        #expect(report.batches >= 6 && states.count == report.batches + 2, "\(report.batches) batches, \(states.count) commits")
        for (n, image) in states.enumerated().dropLast(3) {   // the last batch and the two meta rewrites finish it
            let reopened = try TestSupport.reopen(image)
            let what = "after commit \(n + 1) of the rekey"
            #expect(try reopened.stats().rekeyInProgress, "\(what): the store does not say a rekey is unfinished")
            try Self.expectContents(reopened, model, what)
            try reopened.put("written-meanwhile", "yes")
            try TestSupport.expectClean(reopened)
            reopened.close()
            // Reopened after an ordinary commit made in between, the old key is still at hand.
            let again = try TestSupport.reopen(image)
            try again.put("written-meanwhile", "yes")
            let finish = try again.rekey(credential: .password(TestSupport.password), batchPages: 16)
            #expect(finish.resumed && finish.epoch == report.epoch, "\(what): \(finish)")
            #expect(try again.stats().rekeyInProgress == false)
            #expect(try again.get("written-meanwhile") == Array("yes".utf8))
            try Self.expectContents(again, model.merging(["written-meanwhile": Array("yes".utf8)]) { a, _ in a }, "\(what), finished")
            try TestSupport.expectClean(again)
            again.close()
        }
        #expect(try db.stats().rekeyInProgress == false)
        let stale = pagesOpening(storage.snapshot(), under: [oldSealer])
        #expect(stale.isEmpty, "pages \(stale.prefix(10)) of \(stale.count) still open under the old key")
    }
}
