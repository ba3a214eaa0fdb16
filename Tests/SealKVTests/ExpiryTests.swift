@testable import SealKV
import Testing
import Synchronization

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    let millis = Atomic<UInt64>(1_800_000_000_000)
    func advance(_ d: Duration) { millis.add(UInt64(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000), ordering: .relaxed) }
    var reading: @Sendable () -> UInt64 { { self.millis.load(ordering: .relaxed) } }
}

@Suite("Time to live")
struct ExpiryTests {
    func store(_ clock: ManualClock) throws -> (Database, MemoryStorage) {
        var options = TestSupport.options()
        options.clock = clock.reading
        let storage = MemoryStorage()
        return (try Database.open(storage: storage, credential: .password("p"), options: options, create: true), storage)
    }

    @Test func expiredEntriesReadAsAbsentAtOnce() throws {
        let clock = ManualClock()
        let (db, _) = try store(clock)
        try db.write { tx in
            try tx.put("session", "token", ttl: .seconds(60))
            try tx.put("forever", "yes")
            try tx.namespace("ns").put("temp", "x", ttl: .seconds(10))
        }
        #expect(try db.read { try $0.getString("session") } == "token")
        let ttl = try db.read { try $0.timeToLive("session") }
        #expect(ttl == .seconds(60))
        #expect(try db.read { try $0.timeToLive("forever") } == nil)
        clock.advance(.seconds(30))
        #expect(try db.read { try $0.namespace("ns").get("temp") } == nil)
        #expect(try db.read { try $0.getString("session") } == "token")
        clock.advance(.seconds(31))
        #expect(try db.read { try $0.get("session") } == nil)
        #expect(try db.read { try $0.contains("session") } == false)
        #expect(try db.read { try $0.all().map { String(decoding: $0.key, as: UTF8.self) } } == ["forever"])
        #expect(try db.read { try $0.withValue(for: "session") { $0.count } } == nil)
        // Deleting an expired entry reports it absent.
        #expect(try db.write { try $0.delete("session") } == false)
        try TestSupport.expectClean(db)
    }

    /// A transaction reads the clock once, when it first meets a time to live, and keeps that
    /// time: an entry alive when it first looked stays alive to its end, however the clock moves.
    @Test func aTransactionsTimeIsFixedOnceRead() throws {
        let clock = ManualClock()
        let (db, _) = try store(clock)
        try db.write { tx in try tx.put("session", "token", ttl: .seconds(10)) }
        try db.read { (tx) throws -> Void in
            #expect(try tx.getString("session") == "token")
            clock.advance(.seconds(11))
            #expect(try tx.getString("session") == "token")
            #expect(try tx.timeToLive("session") == .seconds(10))
            #expect(try tx.all().map { String(decoding: $0.key, as: UTF8.self) } == ["session"])
        }
        #expect(try db.read { try $0.get("session") } == nil)
        // A writer keeps its time the same way, for reads and for the entries it puts.
        try db.write { (tx) throws -> Void in
            try tx.put("a", "1", ttl: .seconds(5))
            clock.advance(.seconds(4))
            try tx.put("b", "2", ttl: .seconds(5))
            #expect(try tx.timeToLive("b") == .seconds(5))
        }
        clock.advance(.seconds(1))
        #expect(try db.read { try $0.all().map { String(decoding: $0.key, as: UTF8.self) } } == [])
    }

    @Test func cursorsStepOverExpiredEntries() throws {
        let clock = ManualClock()
        let (db, _) = try store(clock)
        try db.write { tx in
            for i in 0..<300 {
                if i % 3 == 0 { try tx.put(format4(i), "live") } else { try tx.put(format4(i), "dies", ttl: .seconds(1)) }
            }
        }
        clock.advance(.seconds(2))
        let forward = try db.read { try $0.all().map { String(decoding: $0.key, as: UTF8.self) } }
        #expect(forward == stride(from: 0, to: 300, by: 3).map { format4($0) })
        let backward = try db.read { try $0.all(reverse: true).map { String(decoding: $0.key, as: UTF8.self) } }
        #expect(backward == forward.reversed())
        try db.read { (tx) throws -> Void in
            let c = try tx.cursor()
            #expect(try c.seek(to: "0001"))
            #expect(c.key == Array("0003".utf8))
            #expect(try c.last())
            #expect(c.key == Array("0297".utf8))
        }
    }

    @Test func expirySurvivesReopen() throws {
        let clock = ManualClock()
        let (db, storage) = try store(clock)
        try db.write { tx in try tx.put("a", "1", ttl: .seconds(100)) }
        db.close()
        var options = TestSupport.options()
        options.clock = clock.reading
        let again = try Database.open(storage: storage, credential: .password("p"), options: options)
        #expect(try again.read { try $0.getString("a") } == "1")
        clock.advance(.seconds(101))
        #expect(try again.read { try $0.get("a") } == nil)
    }

    @Test func sweepDeletesOnlyWhatExpiredAndCostsWhatExpired() throws {
        let clock = ManualClock()
        let (db, _) = try store(clock)
        try db.write { tx in
            for i in 0..<5000 { try tx.put("keep-\(i)", "v") }
            for i in 0..<200 { try tx.put("short-\(i)", "v", ttl: .seconds(5)) }
            for i in 0..<200 { try tx.namespace("n").put("long-\(i)", "v", ttl: .seconds(500)) }
            // Overwritten without a TTL: its index entry goes, and sweep must not delete it.
            try tx.put("short-0", "now permanent")
        }
        clock.advance(.seconds(10))
        let before = try db.read { try $0.count(includingExpired: true) }
        // Expired entries are not counted, before or after the sweep.
        #expect(try db.read { try $0.count() } == before - 199)
        let swept = try db.write { try $0.sweepExpired() }
        #expect(swept == 199)
        #expect(try db.read { try $0.count(includingExpired: true) } == before - 199)
        #expect(try db.read { try $0.count() } == before - 199)
        #expect(try db.read { try $0.getString("short-0") } == "now permanent")
        #expect(try db.read { try $0.namespace("n").count() } == 200)
        // The index now starts at the long TTLs: a second sweep reads one index entry and stops.
        #expect(try db.write { try $0.sweepExpired() } == 0)
        #expect(try db.read { $0.expiryTree.entries } == 200)
        clock.advance(.seconds(1000))
        #expect(try db.write { try $0.sweepExpired() } == 200)
        #expect(try db.read { $0.expiryTree.entries } == 0)
        try TestSupport.expectClean(db)
    }

    @Test func overwritingChangesTheExpiry() throws {
        let clock = ManualClock()
        let (db, _) = try store(clock)
        try db.write { tx in try tx.put("k", "1", ttl: .seconds(5)) }
        try db.write { tx in try tx.put("k", "2", ttl: .seconds(50)) }
        clock.advance(.seconds(10))
        #expect(try db.read { try $0.getString("k") } == "2")
        #expect(try db.write { try $0.sweepExpired() } == 0)
        #expect(try db.read { $0.expiryTree.entries } == 1)
        #expect(throws: SealKVError.self) { try db.write { tx in try tx.put("k", "3", ttl: .zero) } }
    }
}

@Suite struct AbsoluteExpiryTests {
    @Test func expiryTimesAreStoredAndReadBackExactly() throws {
        var clock = UInt64(1_000_000)
        let now = Locked(clock)
        var options = TestSupport.options()
        options.clock = { now.withLock { $0 } }
        let db = try Database.open(storage: MemoryStorage(), credential: .password(TestSupport.password), options: options, create: true)
        try db.write { tx in
            try tx.put("a", "1", expiresAt: clock + 5_000)
            try tx.namespace("ns").put("b", "2", expiresAt: clock + 7_000)
            try tx.put("c", "3")
        }
        #expect(try db.read { try $0.expiration(of: "a") } == clock + 5_000)
        #expect(try db.namespace("ns").expiration(of: "b") == clock + 7_000)
        #expect(try db.read { try $0.expiration(of: "c") } == nil)
        // Setting and clearing keep the value.
        #expect(try db.write { try $0.setExpiration(of: "c", to: clock + 9_000) })
        #expect(try db.write { try $0.setExpiration(of: "a", to: nil) })
        #expect(try db.write { try $0.setExpiration(of: "missing", to: clock + 1) } == false)
        #expect(try db.read { try $0.expiration(of: "a") } == nil)
        #expect(try db.read { try $0.getString("a") } == "1")
        #expect(try db.read { try $0.expiration(of: "c") } == clock + 9_000)
        // The cursor reports the stored expiry too.
        try db.read { tx in
            let cursor = try tx.cursor()
            #expect(try cursor.seek(to: "c"))
            #expect(cursor.expiration == clock + 9_000)
        }
        // A time that has passed is refused, changing nothing.
        #expect(throws: SealKVError.self) { try db.write { try $0.put("d", "4", expiresAt: clock) } }
        #expect(try db.read { try $0.get("d") } == nil)
        clock += 9_000
        now.withLock { $0 = clock }
        #expect(try db.read { try $0.get("c") } == nil)
        #expect(try db.namespace("ns").getString("b") == nil)
    }
}
