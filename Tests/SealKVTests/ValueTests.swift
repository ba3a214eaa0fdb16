@testable import SealKV
import Testing
import Dispatch
import Foundation

struct Profile: Codable, Equatable {
    var name: String
    var age: Int
    var email: String?
    var tags: [String]
    var scores: [String: Double]
    var avatar: [UInt8]
    var nested: Nested
    struct Nested: Codable, Equatable { var flag: Bool; var small: Int8; var big: UInt64 }
    enum Kind: String, Codable { case admin, user }
    var kind: Kind
}

@Suite("Codable values and atomic operations")
struct ValueTests {
    let profile = Profile(name: "Alice", age: 41, email: nil, tags: ["a", "b"], scores: ["x": 1.5, "y": -2],
                          avatar: [0, 1, 2, 255], nested: .init(flag: true, small: -7, big: .max), kind: .admin)

    @Test func codableRoundTrip() throws {
        let (db, _) = try TestSupport.memoryStore()
        try db.write { tx in
            try tx.put("p", encoding: profile)
            try tx.namespace("ns").put("p", encoding: [1, 2, 3])
        }
        #expect(try db.read { try $0.get("p", as: Profile.self) } == profile)
        #expect(try db.get("p", as: Profile.self) == profile)
        #expect(try db.namespace("ns").get("p", as: [Int].self) == [1, 2, 3])
        #expect(try db.get("absent", as: Profile.self) == nil)
        do {
            _ = try db.require("absent", as: Profile.self)
            Issue.record("require returned for an absent key")
        } catch let e as SealKVError {
            #expect(e.code == .notFound)
        }
    }

    @Test func encodingIsCompact() throws {
        let bytes = try BinaryValueEncoder().encode(profile)
        let json = try JSONEncoder().encode(profile)
        #expect(bytes.count < json.count, "\(bytes.count) bytes vs \(json.count) as JSON")
        #expect(try BinaryValueDecoder().decode(Profile.self, from: bytes) == profile)
        #expect(try BinaryValueEncoder().encode(42).count == 3)
    }

    @Test func wrongTypeIsAClearErrorNeverACrash() throws {
        let (db, _) = try TestSupport.memoryStore()
        try db.put("p", encoding: profile)
        try db.put("raw", "not an encoded value")
        try db.put("num", encoding: 300)
        for attempt in [
            { _ = try db.get("p", as: Int.self) },
            { _ = try db.get("p", as: [String].self) },
            { _ = try db.get("raw", as: Profile.self) },
            { _ = try db.get("num", as: Int8.self) },
            { _ = try db.get("num", as: String.self) },
        ] as [() throws -> Void] {
            do {
                try attempt()
                Issue.record("decoded a value as the wrong type")
            } catch let e as SealKVError {
                #expect(e.code == .decodingFailed)
            }
        }
    }

    @Test func decoderSurvivesArbitraryBytes() throws {
        var rng = SeededRandom(seed: 7)
        let valid = try BinaryValueEncoder().encode(profile)
        for round in 0..<3000 {
            var bytes = valid
            if round % 2 == 0 {
                for _ in 0..<Int.random(in: 1...6, using: &rng) { bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            } else {
                bytes = (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                bytes.insert(1, at: 0)
            }
            _ = try? BinaryValueDecoder().decode(Profile.self, from: bytes)
            _ = try? BinaryValueDecoder().decode([String: [Int]].self, from: bytes)
        }
        // Deep nesting is refused, not recursed into.
        var deep: [UInt8] = [1]
        for _ in 0..<10_000 { deep += [8, 1] }
        #expect(throws: SealKVError.self) { try BinaryValueDecoder().decode([[Int]].self, from: deep) }
    }

    @Test func counterFromEightThreadsEndsExact() throws {
        let (db, _) = try TestSupport.memoryStore()
        try db.put("counter", encoding: 0)
        let group = DispatchGroup()
        for _ in 0..<8 {
            DispatchQueue.global().async(group: group) {
                for _ in 0..<250 {
                    try! db.update("counter") { old in
                        let n = try BinaryValueDecoder().decode(Int.self, from: old!)
                        return try BinaryValueEncoder().encode(n + 1)
                    }
                }
            }
        }
        group.wait()
        #expect(try db.get("counter", as: Int.self) == 2000)
    }

    @Test func compareAndSwapAndGetOrInsert() throws {
        let (db, _) = try TestSupport.memoryStore()
        #expect(try db.compareAndSwap("k", expected: nil, new: Array("1".utf8)))
        #expect(try !db.compareAndSwap("k", expected: nil, new: Array("2".utf8)))
        #expect(try db.compareAndSwap("k", expected: Array("1".utf8), new: Array("2".utf8)))
        #expect(try db.get("k") == Array("2".utf8))
        #expect(try db.compareAndSwap("k", expected: Array("2".utf8), new: nil))
        #expect(try db.get("k") == nil)
        #expect(try db.getOrInsert("g") { "first" } == Array("first".utf8))
        #expect(try db.getOrInsert("g") { "second" } == Array("first".utf8))
        #expect(try db.update("g") { _ in nil } == nil)
        #expect(try db.get("g") == nil)
        // Concurrent compare-and-swap: exactly one of many racers wins each round.
        let wins = Locked(0)
        let group = DispatchGroup()
        for t in 0..<8 {
            DispatchQueue.global().async(group: group) {
                if try! db.compareAndSwap("race", expected: nil, new: Array("thread \(t)".utf8)) { wins.withLock { $0 += 1 } }
            }
        }
        group.wait()
        #expect(wins.withLock { $0 } == 1)
    }

    @Test func iterationHelpers() throws {
        let (db, _) = try TestSupport.memoryStore()
        try db.write { tx in
            for i in 0..<50 { try tx.put("user:\(format4(i))", encoding: Profile.Nested(flag: i % 2 == 0, small: Int8(i), big: UInt64(i))) }
            try tx.put("other", [UInt8](repeating: 1, count: 9000))
        }
        try db.read { (tx) throws -> Void in
            let keys = try Array(tx.keys())
            #expect(keys.count == 51)
            #expect(keys == keys.sorted { compareBytes($0, $1) < 0 })
            #expect(try tx.count() == 51)
            let users = try tx.entries(prefix: "user:", as: Profile.Nested.self)
            #expect(users.count == 50)
            #expect(users[7].value.small == 7)
        }
        #expect(try db.namespace("").keys().count == 51)
        #expect(try db.namespace("missing").count() == 0)
    }
}
