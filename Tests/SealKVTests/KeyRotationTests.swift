@testable import SealKV
import Testing
import Dispatch
import Foundation

@Suite("Password change and rekey")
struct KeyRotationTests {
    func fileStore(_ dir: String) throws -> (Database, String) {
        let path = dir + "/k.sealkv"
        let db = try Database.open(at: path, credential: .password("old"), options: TestSupport.options())
        try db.write { tx in
            for i in 0..<2000 { try tx.put("k\(i)", "value-\(i)") }
            try tx.put("big", [UInt8](repeating: 3, count: 50_000))
            try tx.namespace("ns").put("x", "y", ttl: .seconds(3600))
        }
        return (db, path)
    }

    func open(_ path: String, _ c: Credential) throws -> Database {
        try Database.open(at: path, credential: c, options: TestSupport.options(.openExisting))
    }

    @Test func changePasswordLeavesNoOldWrap() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let (db, path) = try fileStore(dir)
        let before = TestSupport.readFile(path)
        let oldWraps = (0..<2).map { Array(before[($0 * 4096 + 72)..<($0 * 4096 + 144)]) }
        try db.changePassword(from: .password("old"), to: .password("new"))
        #expect(try db.get("k5") == Array("value-5".utf8))
        db.close()
        let after = TestSupport.readFile(path)
        for slot in 0..<2 {
            let wrap = Array(after[(slot * 4096 + 72)..<(slot * 4096 + 144)])
            #expect(!oldWraps.contains(wrap), "slot \(slot) still holds an old wrap")
        }
        do {
            _ = try open(path, .password("old"))
            Issue.record("the old password still opens the store")
        } catch let e as SealKVError {
            #expect(e.code == .wrongCredential)
        }
        let reopened = try open(path, .password("new"))
        #expect(try reopened.get("k1999") == Array("value-1999".utf8))
        try TestSupport.expectClean(reopened)
        reopened.close()
    }

    /// A password change torn at its first meta write leaves one slot under each credential, the new
    /// one torn. The new password must say so (not "damaged, restore a backup"); the old one opens.
    @Test func interruptedPasswordChangeNamesThePreviousPassword() throws {
        let (db, storage) = try TestSupport.memoryStore()
        try db.write { tx in try tx.put("k", "v") }
        let before = storage.snapshot()
        try db.changePassword(from: .password(TestSupport.password), to: .password("new"))
        db.close()
        let after = storage.snapshot()
        let changed = (0..<2).filter { before[($0 * 4096)..<(($0 + 1) * 4096)] != after[($0 * 4096)..<(($0 + 1) * 4096)] }
        #expect(changed.count == 2)
        // The change writes first the slot not holding the newest commit: tear it after its first
        // sector, the other slot as before the change.
        let newest = try TestSupport.reopen(before).recovery.chosenSlot
        for first in changed where first != newest {
            var torn = before
            torn.replaceSubrange((first * 4096)..<(first * 4096 + 512), with: after[(first * 4096)..<(first * 4096 + 512)])
            let error = #expect(throws: SealKVError.self, "the new password opened a store whose change never completed") {
                try Database.open(storage: MemoryStorage(bytes: torn), credential: .password("new"), options: TestSupport.options(.readOnly))
            }
            #expect(error?.code == .wrongCredential)
            #expect(error?.message.contains("previous password") == true, "\(String(describing: error))")
            let old = try Database.open(storage: MemoryStorage(bytes: torn), credential: .password(TestSupport.password), options: TestSupport.options(.readOnly))
            #expect(try old.get("k") == Array("v".utf8))
        }
    }

    @Test func wrongOldPasswordChangesNothing() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let (db, path) = try fileStore(dir)
        let before = TestSupport.readFile(path)
        do {
            try db.changePassword(from: .password("guess"), to: .password("new"))
            Issue.record("changed the password with a wrong old one")
        } catch let e as SealKVError {
            #expect(e.code == .wrongCredential)
        }
        #expect(throws: SealKVError.self) { try db.rekey(credential: .password("guess")) }
        #expect(TestSupport.readFile(path) == before)
        try db.put("still", "writable")
        db.close()
        #expect(try open(path, .password("old")).get("still") == Array("writable".utf8))
    }

    @Test func switchBetweenPasswordAndRawKey() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let (db, path) = try fileStore(dir)
        let key = [UInt8](repeating: 0x5A, count: 32)
        try db.changePassword(from: .password("old"), to: try .key(key))
        db.close()
        let withKey = try open(path, try .key(key))
        try withKey.changePassword(from: try .key(key), to: .password("again"), kdf: TestSupport.fastKDF)
        withKey.close()
        #expect(try open(path, .password("again")).get("k7") == Array("value-7".utf8))
    }

    @Test func rekeyResealsEveryLivePageAndScrubsTheRest() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let (db, path) = try fileStore(dir)
        try db.write { tx in for i in 0..<500 { try tx.delete("k\(i)") } }   // leave free pages behind
        let oldSealer = db.pager.sealer
        let progress = Locked([OperationProgress]())
        let report = try db.rekey(credential: .password("old")) { p in progress.withLock { $0.append(p) } }
        #expect(report.epoch == 2)
        #expect(report.pagesResealed > 20)
        #expect(report.freePagesKept == 0)
        #expect(!progress.withLock { $0 }.isEmpty)
        #expect(try db.get("k1500") == Array("value-1500".utf8))
        try TestSupport.expectClean(db)
        db.close()

        // No page of the file opens under the old data key any more.
        let bytes = TestSupport.readFile(path)
        var opened = 0
        for page in 2..<(bytes.count / 4096) {
            var copy = Array(bytes[(page * 4096)..<((page + 1) * 4096)])
            copy.withUnsafeMutableBytes { $0.baseAddress!.setU32(FileFormat.headerKeyEpoch, 1) }
            if copy.withUnsafeMutableBytes({ oldSealer.open(page: $0.baseAddress!, number: UInt64(page)) }) { opened += 1 }
        }
        #expect(opened == 0, "\(opened) pages still open under the old key")
        let reopened = try open(path, .password("old"))
        #expect(try reopened.read { try $0.namespace("ns").getString("x") } == "y")
        #expect(try reopened.get("big")?.count == 50_000)
        try TestSupport.expectClean(reopened)
        reopened.close()
    }

    /// Pages of the file at `path` (meta slots included) that still open under any of `sealers`.
    func pagesOpening(_ path: String, under sealers: [PageSealer]) -> [Int] {
        pagesOpening(TestSupport.readFile(path), under: sealers)
    }

    /// Pages of the image `bytes` (meta slots included) that still open under any of `sealers`.
    func pagesOpening(_ bytes: [UInt8], under sealers: [PageSealer]) -> [Int] {
        var found: [Int] = []
        for page in 0..<(bytes.count / 4096) {
            for sealer in sealers {
                var copy = Array(bytes[(page * 4096)..<((page + 1) * 4096)])
                let opens = copy.withUnsafeMutableBytes { b in
                    if page < 2 { return sealer.openMeta(page: b.baseAddress!, slot: UInt64(page)) }
                    b.baseAddress!.setU32(FileFormat.headerKeyEpoch, sealer.keys.epoch)
                    return sealer.open(page: b.baseAddress!, number: UInt64(page))
                }
                if opens { found.append(page); break }
            }
        }
        return found
    }

    /// After a rekey, no page of the file (live, free, or past the newest commit's end) may open
    /// under an earlier data key once no reader needs it. Each combination of churn before the
    /// rekeys, and a reader alive or not during each of two rekeys; the pages a reader kept are
    /// overwritten once it has ended (at the next write or close).
    @Test(arguments: [false, true])
    func noPageOpensUnderAnOldKeyAfterRekeys(churn: Bool) throws {
        for readers in [[false], [true], [true, false], [false, true], [true, true], [false, false]] {
            let dir = TestSupport.temporaryDirectory()
            defer { TestSupport.removeTree(dir) }
            let path = dir + "/r.sealkv"
            let db = try Database.open(at: path, credential: .password("pw"), options: TestSupport.options())
            try db.write { tx in for i in 0..<3000 { try tx.put("k\(i)", "value-\(i)") } }
            if churn {
                for round in 0..<5 {
                    try db.write { tx in for i in stride(from: round, to: 3000, by: 5) { try tx.delete("k\(i)") } }
                    try db.write { tx in for i in stride(from: round, to: 3000, by: 5) { try tx.put("k\(i)", "again-\(i)") } }
                }
                try db.write { tx in for i in 0..<1000 { try tx.delete("k\(i)") } }
            }
            var oldSealers: [PageSealer] = []
            for withReader in readers {
                oldSealers.append(db.pager.sealer)
                let report: RekeyReport
                if withReader {
                    let inside = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0), ended = DispatchSemaphore(value: 0)
                    Thread.detachNewThread {
                        try? db.read { tx in
                            _ = try tx.get("k2999")
                            inside.signal()
                            done.wait()
                        }
                        ended.signal()
                    }
                    inside.wait()
                    report = try db.rekey(credential: .password("pw"))
                    done.signal()
                    ended.wait()
                    #expect(report.freePagesKept > 0, "a reader was alive, yet no page was kept for it")
                } else {
                    report = try db.rekey(credential: .password("pw"))
                    #expect(report.freePagesKept == 0)
                    let stale = pagesOpening(path, under: oldSealers)
                    #expect(stale.isEmpty, "readers \(readers), churn \(churn): pages \(stale.prefix(10)) of \(stale.count) still open under an old key right after a rekey with no reader")
                }
            }
            #expect(try db.get("k2999") != nil)
            db.close()
            let stale = pagesOpening(path, under: oldSealers)
            #expect(stale.isEmpty, "readers \(readers), churn \(churn): pages \(stale.prefix(10)) of \(stale.count) (file \(TestSupport.readFile(path).count / 4096) pages) still open under an old key")
            let reopened = try open(path, .password("pw"))
            #expect(try reopened.get("k2999") != nil)
            try TestSupport.expectClean(reopened)
            reopened.close()
        }
    }

    /// Commits after a rotation used to write the old header (old wrap) into metas sealed under the
    /// new key, leaving a store no credential could open.
    @Test func commitsAfterRotationKeepTheNewHeader() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let (db, path) = try fileStore(dir)
        try db.changePassword(from: .password("old"), to: .password("new"))
        try db.put("after-change", "1")
        try db.rekey(credential: .password("new"))
        try db.put("after-rekey", "2")
        try db.changePassword(from: .password("new"), to: .password("third"))
        db.close()
        let reopened = try open(path, .password("third"))
        #expect(try reopened.get("after-rekey") == Array("2".utf8))
        try TestSupport.expectClean(reopened)
        reopened.close()
    }

    @Test func readersKeepWorkingDuringRekey() throws {
        let (db, _) = try TestSupport.memoryStore()
        try db.write { tx in for i in 0..<3000 { try tx.put("k\(i)", "v\(i)") } }
        let started = DispatchSemaphore(value: 0), rekeyed = DispatchSemaphore(value: 0)
        let ok = Locked(false)
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            try! db.read { tx in
                started.signal()
                rekeyed.wait()
                var good = true
                for i in stride(from: 0, to: 3000, by: 7) where try tx.getString("k\(i)") != "v\(i)" { good = false }
                ok.withLock { $0 = good }
            }
        }
        started.wait()
        let report = try db.rekey(credential: .password(TestSupport.password))
        rekeyed.signal()
        group.wait()
        #expect(ok.withLock { $0 })
        #expect(report.freePagesKept > 0)   // the reader's snapshot still reached the old pages
        #expect(try db.get("k2999") == Array("v2999".utf8))
        try TestSupport.expectClean(db)
    }
}
