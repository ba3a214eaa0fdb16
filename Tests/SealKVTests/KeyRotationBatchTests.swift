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
        for (n, image) in states.enumerated().dropLast(2) {   // the two meta rewrites after the last batch finish it
            let reopened = try TestSupport.reopen(image)
            let what = "after commit \(n + 1) of the rekey"
            #expect(try reopened.stats().rekeyInProgress, "\(what): the store does not say a rekey is unfinished")
            try Self.expectContents(reopened, model, what)
            try reopened.put("written-meanwhile", "yes")
            try TestSupport.expectClean(reopened)
            reopened.close()
            // Reopened after an ordinary commit made in between, the old key is still at hand.
            let againStorage = MemoryStorage(bytes: image)
            let again = try Database.open(storage: againStorage, credential: .password(TestSupport.password), options: TestSupport.options())
            try again.put("written-meanwhile", "yes")
            let finish = try again.rekey(credential: .password(TestSupport.password), batchPages: 16)
            #expect(finish.resumed && finish.epoch == report.epoch, "\(what): \(finish)")
            #expect(try again.stats().rekeyInProgress == false)
            #expect(try again.get("written-meanwhile") == Array("yes".utf8))
            try Self.expectContents(again, model.merging(["written-meanwhile": Array("yes".utf8)]) { a, _ in a }, "\(what), finished")
            try TestSupport.expectClean(again)
            again.close()
            // Including the last batch's image: a crash there, before the free pages were
            // overwritten, must still say the rekey is unfinished, and finishing it overwrites them.
            let stale = pagesOpening(againStorage.snapshot(), under: [oldSealer])
            #expect(stale.isEmpty, "\(what), finished: pages \(stale.prefix(10)) of \(stale.count) still open under the old key")
        }
        #expect(try db.stats().rekeyInProgress == false)
        let stale = pagesOpening(storage.snapshot(), under: [oldSealer])
        #expect(stale.isEmpty, "pages \(stale.prefix(10)) of \(stale.count) still open under the old key")
    }

    /// From a shell: `stat` says a rekey was interrupted and how to finish it, `rekey` finishes it
    /// and says so, and `check` accepts the store at every step.
    @Test func theToolFinishesAnInterruptedRekey() throws {
        let (db, storage) = try TestSupport.memoryStore()
        _ = try Self.fill(db)
        let images = Locked<[[UInt8]]>([])
        db.commitObserver.withLock {
            $0 = CommitObserver(willWrite: { _ in }, didPublish: { _ in images.withLock { $0.append(storage.snapshot()) } })
        }
        try db.rekey(credential: .password(TestSupport.password), batchPages: 16)
        db.close()
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let path = dir + "/store.sealkv"
        let image = images.withLock { $0[1] }
        #expect(FileManager.default.createFile(atPath: path, contents: Data(image), attributes: [.posixPermissions: 0o600]))
        let env = ["SEALKV_PASSWORD": TestSupport.password]
        let stat = try Tool.run(["stat", path], environment: env)
        #expect(stat.status == 0 && stat.stdout.contains("a rekey was interrupted") && stat.stdout.contains("sealkv rekey"), "\(stat.stdout) \(stat.stderr)")
        #expect(try Tool.run(["check", path], environment: env).status == 0)
        let rekey = try Tool.run(["rekey", path], environment: env)
        #expect(rekey.status == 0 && rekey.stderr.contains("finished an interrupted rekey"), "\(rekey.stderr)")
        let after = try Tool.run(["stat", path], environment: env)
        #expect(after.status == 0 && !after.stdout.contains("interrupted"), "\(after.stdout) \(after.stderr)")
        #expect(try Tool.run(["check", path], environment: env).status == 0)
    }

    /// A leaf holding several large values: each overflow chain beyond the first waits for the next
    /// batch, so a batch holds its budget plus at most one chain, not every chain of the leaf.
    @Test func aLeafOfLargeValuesSpreadsOverBatches() throws {
        let (db, _) = try TestSupport.memoryStore()
        let values = (0..<6).map { i in [UInt8]((0..<40_000).map { UInt8(($0 + i) % 251) }) }
        try db.write { tx in for (i, v) in values.enumerated() { try tx.put("v\(i)", v) } }
        let report = try db.rekey(credential: .password(TestSupport.password), batchPages: 4)
        #expect(report.batches >= values.count, "\(report.batches) batches for \(values.count) chains of ten pages")
        for (i, v) in values.enumerated() { #expect(try db.get("v\(i)") == v) }
        try TestSupport.expectClean(db)
    }

    /// Many namespaces (a catalog of more than one level) holding overflow values and entries with
    /// a time to live (an expiry index of more than one level), re-sealed in small batches.
    @Test func manyNamespacesWithLargeValuesAndExpiries() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let path = dir + "/ns.sealkv"
        let db = try Database.open(at: path, credential: .password("pw"), options: TestSupport.options())
        try db.write { tx in
            for n in 0..<150 {
                let ns = try tx.namespace("namespace-\(n)")
                try ns.put("big", [UInt8](repeating: UInt8(n), count: 5_000 + n))
                for k in 0..<20 { try ns.put("k\(k)", "v\(n)-\(k)", ttl: .seconds(3600 + k)) }
            }
        }
        let oldSealer = db.pager.sealer
        let report = try db.rekey(credential: .password("pw"), batchPages: 8)
        #expect(report.batches > 10)
        try db.read { (tx) throws -> Void in
            for n in stride(from: 0, to: 150, by: 7) {
                #expect(try tx.namespace("namespace-\(n)").get("big")?.count == 5_000 + n)
                #expect(try tx.namespace("namespace-\(n)").getString("k19") == "v\(n)-19")
            }
        }
        try TestSupport.expectClean(db)
        db.close()
        let stale = pagesOpening(path, under: [oldSealer])
        #expect(stale.isEmpty, "pages \(stale.prefix(10)) of \(stale.count) still open under the old key")
    }

    /// Reads enforce the snapshot's key epochs: a page sealed under a key the handle still holds
    /// (for older snapshots) is refused for a snapshot that does not allow it, even with the tag its
    /// parent expects; while a rekey is in progress, the previous key is allowed for old pages only.
    @Test func readsRefuseAPageUnderAKeyTheirSnapshotDoesNotAllow() throws {
        let fileID = randomBytes(count: FileFormat.fileIDSize)
        let old = PageSealer(keys: DataKeys(dataKey: SecureBytes.random(count: FileFormat.keySize), epoch: 1), fileID: fileID)
        let new = PageSealer(keys: DataKeys(dataKey: SecureBytes.random(count: FileFormat.keySize), epoch: 2), fileID: fileID)
        let pager = Pager(storage: MemoryStorage(), sealer: new, cacheBytes: 1 << 20)
        pager.keys.add(old)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: FileFormat.pageSize, alignment: 16)
        defer { buffer.deallocate() }
        func sealedLeaf(txn: UInt64) -> PageLink {
            buffer.initializeMemory(as: UInt8.self, repeating: 0, count: FileFormat.pageSize)
            let cell = Array("k".utf8).withUnsafeBytes { k in Array("v".utf8).withUnsafeBytes { v in NodeBuilder.leafCell(key: k, value: v) } }
            NodeBuilder.build(buffer, kind: .leaf, txnID: txn, cells: [cell][...])
            return PageLink(page: 7, txnID: txn, tag: old.seal(page: buffer, number: 7))
        }
        let after = KeyEpochRule(current: 2, rekey: nil)
        let during = KeyEpochRule(current: 2, rekey: RekeyProgress(previousEpoch: 1, startedAfter: 10))
        for (rule, txn, allowed) in [(after, UInt64(5), false), (during, UInt64(5), true), (during, UInt64(11), false)] {
            let link = sealedLeaf(txn: txn)
            do {
                try pager.authenticate(link, buffer: buffer, epochs: rule)
                #expect(allowed, "a page of transaction \(txn) under epoch 1 was accepted by \(rule)")
            } catch {
                #expect(!allowed, "a page of transaction \(txn) under epoch 1 was refused by \(rule): \(error)")
                #expect(error.message.contains("key epoch 1"), "\(error.message)")
            }
        }
    }
}
