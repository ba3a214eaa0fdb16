@testable import SealKV
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A small store with every page kind (meta, branch, leaf, catalog, overflow, expiry index, free-list
/// tree, free pages), and what each of its commits held.
struct TamperFixture {
    typealias Contents = [String: [[UInt8]: [UInt8]]]   // namespace -> key -> value
    let bytes: [UInt8]
    /// Logical contents of every commit, by txnid.
    let commits: [UInt64: Contents]
    /// Every value ever written at each (namespace, key).
    let written: [String: [[UInt8]: Set<[UInt8]>]]
    /// Pages reachable from the newest commit, by number, with their kind.
    let reachable: [UInt64: String]

    static func make() throws -> TamperFixture {
        let storage = MemoryStorage()
        let db = try Database.open(storage: storage, credential: .password(TestSupport.password),
                                   options: TestSupport.options(), create: true)
        var commits: [UInt64: Contents] = [:]
        var written: [String: [[UInt8]: Set<[UInt8]>]] = [:]
        func record() throws {
            var c: Contents = [:]
            try db.read { tx in
                for name in [""] + (try tx.namespaces()) {
                    var entries: [[UInt8]: [UInt8]] = [:]
                    for (k, v) in try tx.namespace(name).all() { entries[k] = v }
                    c[name] = entries
                }
            }
            commits[db.currentTxnID] = c
        }
        func put(_ tx: WriteTransaction, _ ns: String, _ k: String, _ v: [UInt8], ttl: Duration? = nil) throws {
            let n = try tx.namespace(ns)
            if let ttl { try n.put(k, v, ttl: ttl) } else { try n.put(k, v) }
            written[ns, default: [:]][Array(k.utf8), default: []].insert(v)
        }
        try record()
        try db.write { tx in
            for i in 0..<300 { try put(tx, "", "key-\(i)", Array("value \(i) ".utf8) + [UInt8](repeating: UInt8(i & 0xFF), count: 40 + i % 60)) }
        }
        try record()
        try db.write { tx in
            for i in 0..<40 { try put(tx, "alpha", "a\(i)", Array("alpha \(i)".utf8)) }
            try put(tx, "alpha", "big", [UInt8](repeating: 0xAB, count: 9_000))
            for i in 0..<10 { try put(tx, "beta", "b\(i)", Array("beta \(i)".utf8), ttl: .seconds(86_400)) }
        }
        try record()
        try db.write { tx in
            for i in stride(from: 0, to: 300, by: 3) { try tx.delete("key-\(i)") }
        }
        try record()
        var reachable: [UInt64: String] = [:]
        for info in try db.pageMap() where info.kind != .free { reachable[info.number] = info.kind.rawValue }
        db.close()
        return TamperFixture(bytes: storage.snapshot(), commits: commits, written: written, reachable: reachable)
    }

    /// How one damaged file was received.
    enum Outcome: String, CaseIterable {
        case detectedAtOpen = "detected at open"
        case detectedAtCheck = "detected at check"
        case fellBack = "opened an earlier intact commit"
        case unreachable = "in bytes no commit reaches (free pages, the older meta slot)"
        case silentlyAccepted = "silently accepted"
    }

    /// Opens `damaged`, checks it and reads everything; `page` is the page the damage is in.
    func evaluate(_ damaged: [UInt8], page: UInt64) -> Result<Outcome, TamperFailure> {
        let db: Database
        do {
            // A small cache: the cache is mlocked at open, and a test that opens millions of stores
            // should not spend its time in the kernel.
            db = try Database.open(storage: MemoryStorage(bytes: damaged), credential: .password(TestSupport.password),
                                   options: TestSupport.options(.readOnly, cacheSize: 64 << 10))
        } catch let e {
            if e.message.contains(TestSupport.password) { return .failure(TamperFailure("an error message holds the password: \(e.message)")) }
            return .success(.detectedAtOpen)
        }
        defer { db.close() }
        // Whatever check says, no read may return a value never written at that key.
        let wrong = readsOnlyWrittenValues(db)
        if let wrong { return .failure(wrong) }
        let report: CheckReport
        do { report = try db.check() } catch { return .success(.detectedAtCheck) }
        if !report.isClean {
            let named = report.problems.contains { $0.page != nil }
            return named ? .success(.detectedAtCheck) : .failure(TamperFailure("check found problems but named no page: \(report.problems.prefix(2))"))
        }
        let txn = db.currentTxnID
        guard let expected = commits[txn] else { return .failure(TamperFailure("opened commit \(txn), which never existed")) }
        var actual: Contents = [:]
        do {
            try db.read { tx in
                for name in [""] + (try tx.namespaces()) {
                    var entries: [[UInt8]: [UInt8]] = [:]
                    for (k, v) in try tx.namespace(name).all() { entries[k] = v }
                    actual[name] = entries
                }
            }
        } catch {
            return .failure(TamperFailure("check passed but reading failed: \(error)"))
        }
        guard actual == expected else { return .failure(TamperFailure("check passed but commit \(txn)'s contents differ")) }
        let newest = commits.keys.max()!
        if txn < newest {
            // Damage to the newest commit looks like a torn commit: the store opens the one before,
            // and must say so.
            guard db.recovery.fellBack || db.recovery.slotTxnIDs.contains(where: { $0 == nil }) else {
                return .failure(TamperFailure("opened commit \(txn) instead of \(newest) without reporting a fallback"))
            }
            return .success(.fellBack)
        }
        // A damaged meta slot that recovery did not need is a named warning of the check.
        if page < FileFormat.firstDataPage {
            return report.warnings.contains { $0.page == page } ? .success(.detectedAtCheck) : .success(.silentlyAccepted)
        }
        return .success(reachable[page] == nil ? .unreachable : .silentlyAccepted)
    }

    private func readsOnlyWrittenValues(_ db: Database) -> TamperFailure? {
        do {
            try db.read { tx in
                for name in [""] + (try tx.namespaces()) {
                    for (k, v) in try tx.namespace(name).all() {
                        guard written[name]?[k]?.contains(v) == true else {
                            throw TamperFailure("read '\(String(decoding: k, as: UTF8.self))' in '\(name)' as a value never written there")
                        }
                    }
                }
            }
        } catch let f as TamperFailure {
            return f
        } catch {
            // A typed error on a damaged page is the right answer.
        }
        return nil
    }
}

struct TamperFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

@Suite("Hostile files")
struct TamperTests {
    /// Every bit flipped, and every byte set to 0x00 and to 0xFF, one at a time — with
    /// SEALKV_TAMPER=full (see Docs/SECURITY-TESTING.md); otherwise a seeded sample of 3,000.
    @Test func everyMutationIsDetectedOrHarmless() throws {
        let fixture = try TamperFixture.make()
        let full = ProcessInfo.processInfo.environment["SEALKV_TAMPER"] == "full"
        var mutations: [(offset: Int, kind: Int)] = []   // kind 0-7: flip that bit; 8: 0x00; 9: 0xFF
        if full {
            for offset in fixture.bytes.indices { for kind in 0..<10 { mutations.append((offset, kind)) } }
        } else {
            var rng = SeededRandom(seed: 0x7A3)
            for _ in 0..<3000 { mutations.append((Int.random(in: fixture.bytes.indices, using: &rng), Int.random(in: 0..<10, using: &rng))) }
        }
        struct Tally {
            var counts: [TamperFixture.Outcome: Int] = [:]
            var unchanged = 0
            var failures: [String] = []
            var silent: [Int] = []
        }
        // Two workers, each taking every other slice of the mutations.
        let workers = 2
        let mutationList = mutations
        let tallies = Locked([Tally](repeating: Tally(), count: workers))
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            var t = Tally()
            for (offset, kind) in mutationList.enumerated().filter({ $0.offset % workers == w }).map(\.element) {
                var damaged = fixture.bytes
                switch kind {
                case 0..<8: damaged[offset] ^= UInt8(1 << kind)
                case 8: damaged[offset] = 0x00
                default: damaged[offset] = 0xFF
                }
                if damaged[offset] == fixture.bytes[offset] { t.unchanged += 1; continue }
                switch fixture.evaluate(damaged, page: UInt64(offset / FileFormat.pageSize)) {
                case .success(let outcome):
                    t.counts[outcome, default: 0] += 1
                    if outcome == .silentlyAccepted { t.silent.append(offset) }
                case .failure(let f):
                    t.failures.append("offset \(offset) kind \(kind): \(f)")
                }
            }
            tallies.withLock { $0[w] = t }
        }
        var counts: [TamperFixture.Outcome: Int] = [:]
        var unchanged = 0
        var failures: [String] = []
        var silent: [Int] = []
        for t in tallies.withLock({ $0 }) {
            for (k, v) in t.counts { counts[k, default: 0] += v }
            unchanged += t.unchanged
            failures += t.failures
            silent += t.silent
        }
        let tried = mutations.count - unchanged
        let summary = TamperFixture.Outcome.allCases.map { "\($0.rawValue): \(counts[$0, default: 0])" }.joined(separator: ", ")
        print("tamper (\(full ? "exhaustive" : "sample")): \(fixture.bytes.count / FileFormat.pageSize) pages, \(tried) mutations tried; \(summary)")
        #expect(failures.isEmpty, "\(failures.count) failures, first: \(failures.prefix(3))")
        #expect(silent.isEmpty, "silently accepted at offsets \(silent.prefix(10))")
        #expect(counts[.detectedAtOpen, default: 0] + counts[.detectedAtCheck, default: 0] + counts[.fellBack, default: 0] > tried / 4)
    }
}

/// An attacker who holds the file and the same password's other stores moves, copies and rolls back
/// pages. Each is detected; a rollback of the whole file is detected when the caller supplies the
/// last txnid it saw.
@Suite("Splice and rollback attacks")
struct SpliceTests {
    func store(_ fill: Int) throws -> (Database, MemoryStorage) {
        let (db, storage) = try TestSupport.memoryStore()
        try db.write { tx in for i in 0..<fill { try tx.put("k\(i)", "value \(i) of a store") } }
        return (db, storage)
    }

    /// Opens `bytes` read-only, checks it, and says whether the damage was caught: the open fails,
    /// or recovery reports that it refused the newest commit (damage to a commit's own pages looks
    /// exactly like a torn commit, so the store opens the one before and says so in
    /// `Database.recovery`), or the full check fails.
    func caught(_ bytes: [UInt8], minimumTxnID: UInt64 = 0) -> Bool {
        var o = TestSupport.options(.readOnly)
        o.minimumTxnID = minimumTxnID
        guard let db = try? Database.open(storage: MemoryStorage(bytes: bytes), credential: .password(TestSupport.password), options: o) else { return true }
        defer { db.close() }
        if db.recovery.fellBack { return db.recovery.refusedReason?.contains("page") == true }
        guard let report = try? db.check() else { return true }
        return !report.isClean
    }

    func page(_ bytes: [UInt8], _ n: Int) -> ArraySlice<UInt8> { bytes[(n * 4096)..<((n + 1) * 4096)] }

    @Test func swappedPagesAreDetected() throws {
        let (db, storage) = try store(600)
        let live = try db.pageMap().filter { $0.kind == .leaf || $0.kind == .branch }.map { Int($0.number) }
        db.close()
        let bytes = storage.snapshot()
        #expect(live.count >= 3)
        for (a, b) in zip(live, live.dropFirst()) {
            var swapped = bytes
            let pa = page(bytes, a), pb = page(bytes, b)
            swapped.replaceSubrange((a * 4096)..<((a + 1) * 4096), with: pb)
            swapped.replaceSubrange((b * 4096)..<((b + 1) * 4096), with: pa)
            let detected = caught(swapped)
            #expect(detected, "swapping pages \(a) and \(b) went unnoticed")
        }
    }

    @Test func pageFromAnotherStoreWithTheSamePasswordIsDetected() throws {
        let (db1, s1) = try store(600)
        let (db2, s2) = try store(600)   // same password, same keys and values, same page layout
        let live = try db1.pageMap().filter { $0.kind != .free && $0.kind != .meta }.map { Int($0.number) }
        db1.close(); db2.close()
        let mine = s1.snapshot(), theirs = s2.snapshot()
        for n in live where n * 4096 < theirs.count {
            var spliced = mine
            spliced.replaceSubrange((n * 4096)..<((n + 1) * 4096), with: page(theirs, n))
            let detected = caught(spliced)
            #expect(detected, "page \(n) copied from another store went unnoticed")
        }
        // Both meta slots from the other store: its own key, so ours opens nothing of it... and the
        // other store's metas cannot vouch for our pages.
        var metas = mine
        metas.replaceSubrange(0..<8192, with: theirs[0..<8192])
        let detected = caught(metas)
        #expect(detected, "both meta slots copied from another store went unnoticed")
    }

    @Test func pageRolledBackToAnOlderVersionIsDetected() throws {
        let (db, storage) = try store(600)
        let old = storage.snapshot()
        try db.write { tx in for i in stride(from: 0, to: 600, by: 7) { try tx.put("k\(i)", "changed") } }
        let live = try db.pageMap().filter { $0.kind != .free && $0.kind != .meta }.map { Int($0.number) }
        db.close()
        let new = storage.snapshot()
        var tried = 0
        for n in live where (n + 1) * 4096 <= old.count && page(old, n) != page(new, n) {
            var rolled = new
            rolled.replaceSubrange((n * 4096)..<((n + 1) * 4096), with: page(old, n))
            let detected = caught(rolled)
            #expect(detected, "page \(n) rolled back went unnoticed")
            tried += 1
        }
        #expect(tried > 0)
    }

    @Test func wholeFileRollbackIsDetectedOnlyWithTheLastSeenTxnID() throws {
        let (db, storage) = try store(100)
        let old = storage.snapshot()
        try db.write { tx in try tx.put("k1", "changed") }
        let last = db.currentTxnID
        db.close()
        // The whole file, or both meta slots, put back to an earlier copy: a consistent old store.
        var metasOnly = storage.snapshot()
        metasOnly.replaceSubrange(0..<8192, with: old[0..<8192])
        for (name, rolled) in [("whole file", old), ("both metas", metasOnly)] {
            if name == "whole file" {
                let detected = caught(rolled)
                #expect(!detected, "an old but intact store is indistinguishable without a txnid")
            }
            let error = #expect(throws: SealKVError.self, "\(name) rolled back was accepted with minimumTxnID") {
                var o = TestSupport.options(.readOnly)
                o.minimumTxnID = last
                _ = try Database.open(storage: MemoryStorage(bytes: rolled), credential: .password(TestSupport.password), options: o)
            }
            // Old metas over new pages: either the old commit is intact (rolled back) or it is not (corrupted).
            #expect(error?.code == .rolledBack || (name == "both metas" && error?.code == .corrupted))
        }
    }
}
