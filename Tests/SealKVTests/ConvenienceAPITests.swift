@testable import SealKV
import Foundation
import Testing

/// The conveniences a Swift developer reaches for first: `Data` keys and values, Swift range
/// expressions, limits, throwing iteration, generic compare-and-swap, `Codable` read-modify-write,
/// missing namespaces, counts that agree with reads, and expired entries swept by ordinary commits.
@Suite("Convenience API")
struct ConvenienceAPITests {
    func keys(_ s: KeyValueSequence) -> [String] { s.map { String(decoding: $0.key, as: UTF8.self) } }

    @Test func dataIsAByteString() throws {
        let db = try Database.inMemory(options: TestSupport.options())
        let key = Data("k".utf8), value = Data([0, 1, 2, 255])
        try db.write { tx in try tx.put(key, value) }
        #expect(try db.read { try $0.getData(key) } == value)
        #expect(try db.read { try $0.get("k") } == [0, 1, 2, 255])
        #expect(try db.read { try $0.namespace("").getData("missing") } == nil)
        // A Data slice with a non-zero start index reads the slice's own bytes.
        let slice = Data("xxabc".utf8).dropFirst(2)
        try db.write { tx in try tx.put(slice, slice) }
        #expect(try db.read { try $0.getString("abc") } == "abc")
    }

    @Test func rangeExpressionsLimitsAndInclusiveBounds() throws {
        let db = try Database.inMemory(options: TestSupport.options())
        try db.write { tx in for c in "abcdef" { try tx.put(String(c), "v") } }
        try db.read { (tx: ReadTransaction) throws -> Void in
            #expect(try keys(tx.range("b"..<"e")) == ["b", "c", "d"])
            #expect(try keys(tx.range("b"..."e")) == ["b", "c", "d", "e"])
            #expect(try keys(tx.range("b"..."e", reverse: true)) == ["e", "d", "c", "b"])
            #expect(try keys(tx.range("b"..<"e", reverse: true)) == ["d", "c", "b"])
            #expect(try keys(tx.range("d"...)) == ["d", "e", "f"])
            #expect(try keys(tx.range(..<"c")) == ["a", "b"])
            #expect(try keys(tx.range(..."c")) == ["a", "b", "c"])
            #expect(try keys(tx.range(..."c", reverse: true)) == ["c", "b", "a"])
            #expect(try keys(tx.range(from: "b", through: "d")) == ["b", "c", "d"])
            #expect(try keys(tx.range(from: nil as String?, through: "b")) == ["a", "b"])
            // A bound past the last key, inclusive and reverse, starts at the last key.
            #expect(try keys(tx.range(from: "c", through: "zz", reverse: true)) == ["f", "e", "d", "c"])
            #expect(try keys(tx.all(limit: 2)) == ["a", "b"])
            #expect(try keys(tx.all(reverse: true, limit: 2)) == ["f", "e"])
            #expect(try keys(tx.prefix("c", limit: 0)) == [])
            #expect(try keys(tx.range("a"..."f", limit: 10)).count == 6)
        }
    }

    @Test func iterationThrowsWhereAReadFails() throws {
        let memory = MemoryStorage()
        do {
            let db = try Database.open(storage: memory, credential: .password("p"), options: TestSupport.options(), create: true)
            try db.write { tx in for i in 0..<3000 { try tx.put("key-\(100_000 + i)", [UInt8](repeating: 7, count: 200)) } }
            db.close()
        }
        let faulty = FaultyStorage(memory)
        let db = try Database.open(storage: faulty, credential: .password("p"), options: TestSupport.options())
        var seen = 0
        #expect(throws: SealKVError.self) {
            try db.read { tx in
                let all = try tx.all()
                try all.forEach { _, _ in
                    seen += 1
                    if seen == 10 { faulty.failReads.withLock { $0 = true } }
                }
            }
        }
        #expect(seen >= 10 && seen < 3000)
        // The iterator's own throwing step reports the same failure where it happens.
        #expect(throws: SealKVError.self) {
            try db.read { tx in
                let iterator = try tx.range(from: "key-101500", to: nil as String?).makeIterator()
                while try iterator.nextEntry() != nil {}
            }
        }
        faulty.failReads.withLock { $0 = false }
        #expect(try db.read { try $0.all().reduce(0) { n, _ in n + 1 } } == 3000)
    }

    @Test func compareAndSwapTakesAnyByteStrings() throws {
        let db = try Database.inMemory(options: TestSupport.options())
        try db.write { tx in try tx.put("k", "old") }
        #expect(try db.write { try $0.compareAndSwap("k", expected: Data("old".utf8), new: [UInt8]("new".utf8)) })
        #expect(try db.write { try $0.compareAndSwap("k", expected: "old", new: "newer") } == false)
        #expect(try db.read { try $0.getString("k") } == "new")
    }

    struct Counter: Codable, Equatable { var hits: Int; var last: String }

    @Test func codableValuesRoundTripAndUpdateAtomically() throws {
        let db = try Database.inMemory(options: TestSupport.options())
        try db.write { tx in try tx.put("c", encoding: Counter(hits: 1, last: "a")) }
        #expect(try db.read { try $0.get("c", as: Counter.self) } == Counter(hits: 1, last: "a"))
        let after = try db.write { tx in
            try tx.update("c", as: Counter.self) { old in Counter(hits: (old?.hits ?? 0) + 1, last: "b") }
        }
        #expect(after == Counter(hits: 2, last: "b"))
        #expect(try db.read { try $0.get("c", as: Counter.self) } == Counter(hits: 2, last: "b"))
        // Absent: the transform sees nil. Returning nil deletes.
        #expect(try db.write { try $0.update("fresh", as: Counter.self) { old in old == nil ? Counter(hits: 0, last: "") : nil } } == Counter(hits: 0, last: ""))
        #expect(try db.write { try $0.update("c", as: Counter.self) { _ in nil } } == nil)
        #expect(try db.read { try $0.contains("c") } == false)
        // A value of another type is a decoding error, not a wrong answer.
        try db.write { tx in try tx.put("s", encoding: "text") }
        #expect { try db.read { try $0.get("s", as: Counter.self) } } throws: { ($0 as? SealKVError)?.code == .decodingFailed }
    }

    @Test func aMissingNamespaceReadsAsEmpty() throws {
        let db = try Database.inMemory(options: TestSupport.options())
        try db.read { (tx: ReadTransaction) throws -> Void in
            #expect(try tx.hasNamespace("nope") == false)
            #expect(try tx.namespace("nope").get("k") == nil)
            #expect(try tx.namespace("nope").count() == 0)
            #expect(try keys(tx.namespace("nope").all()) == [])
        }
        try db.write { tx in try tx.namespace("yes").put("k", "v") }
        #expect(try db.read { try $0.hasNamespace("yes") })
    }

    @Test func ordinaryCommitsSweepExpiredEntries() throws {
        let clock = ManualClock()
        var options = TestSupport.options()
        options.clock = clock.reading
        options.expiredEntriesSweptPerCommit = 10
        let db = try Database.inMemory(options: options)
        try db.write { tx in for i in 0..<25 { try tx.put("t\(i)", "v", ttl: .seconds(1)) } }
        clock.advance(.seconds(2))
        #expect(try db.read { try $0.count(includingExpired: true) } == 25)
        #expect(try db.read { try $0.count() } == 0)
        try db.write { tx in try tx.put("other", "v") }
        #expect(try db.read { try $0.count(includingExpired: true) } == 16)
        try db.write { tx in try tx.put("other", "w") }
        try db.write { tx in try tx.put("other", "x") }
        #expect(try db.read { try $0.count(includingExpired: true) } == 1)
        // Zero turns it off.
        var off = options
        off.expiredEntriesSweptPerCommit = 0
        let kept = try Database.inMemory(options: off)
        try kept.write { tx in try tx.put("t", "v", ttl: .seconds(1)) }
        clock.advance(.seconds(2))
        try kept.write { tx in try tx.put("other", "v") }
        #expect(try kept.read { try $0.count(includingExpired: true) } == 2)
        try TestSupport.expectClean(db)
    }
}
