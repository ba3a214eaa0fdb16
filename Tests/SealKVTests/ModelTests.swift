@testable import SealKV
import Testing
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Random operation sequences checked against an in-memory sorted model after every operation,
/// with the full store check after every commit, while read transactions opened between commits
/// and in the middle of commits stay open across later ones and are checked against the model as
/// of their snapshot. `SEALKV_LONG=1` runs 200,000 operations.
@Suite("Model-based B+tree test")
struct ModelTests {
    struct Model {
        var spaces: [String: [[UInt8]: [UInt8]]] = ["": [:]]

        func sortedEntries(_ ns: String) -> [([UInt8], [UInt8])] {
            (spaces[ns] ?? [:]).sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { ($0.key, $0.value) }
        }
    }

    struct Aborted: Error {}

    /// The tree orders keys with `compareBytes` (an inline word-at-a-time comparison for short
    /// keys); the model orders them with the standard library. They must agree, on every length
    /// and on keys that share long prefixes or differ only in length.
    @Test func keyComparisonIsLexicographic() {
        var rng = SeededRandom(seed: 7)
        let lengths = [0, 1, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 40, 100]
        for _ in 0..<20_000 {
            let prefix = (0..<Int(rng.next() % 40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            func key() -> [UInt8] {
                let n = lengths[Int(rng.next() % UInt64(lengths.count))]
                var k = Array(prefix.prefix(n))
                while k.count < n { k.append(UInt8(truncatingIfNeeded: rng.next() % 3 == 0 ? 0xFF : rng.next())) }
                return k
            }
            let a = key(), b = key()
            let c = a.withUnsafeBytes { x in b.withUnsafeBytes { y in compareBytes(x, y) } }
            let want = a == b ? 0 : (a.lexicographicallyPrecedes(b) ? -1 : 1)
            #expect(c.signum() == want, "\(a) vs \(b)")
        }
    }

    static var isLong: Bool { getenv("SEALKV_LONG") != nil }

    /// Keys chosen to stress the tree: random binary, maximum length, shared prefixes, sequential
    /// and reverse-sequential integers, single bytes.
    static func key(_ rng: inout SeededRandom, _ counter: inout UInt32) -> [UInt8] {
        switch Int.random(in: 0..<10, using: &rng) {
        case 0: return (0..<Int.random(in: 1...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        case 1: return [UInt8](repeating: UInt8.random(in: 0...3, using: &rng), count: Limits.maxKeyLength - Int.random(in: 0...2, using: &rng))
        case 2, 3: return Array("user:\(Int.random(in: 0..<400, using: &rng)):profile".utf8)
        case 4:
            counter += 1
            return withUnsafeBytes(of: counter.bigEndian) { Array($0) }
        case 5:
            counter += 1
            return withUnsafeBytes(of: (UInt32.max - counter).bigEndian) { Array($0) }
        case 6: return [UInt8.random(in: 0...255, using: &rng)]
        case 7: return Array(String(repeating: "p", count: Int.random(in: 1...300, using: &rng)).utf8)
        default: return Array("k\(Int.random(in: 0..<2000, using: &rng))".utf8)
        }
    }

    static func value(_ rng: inout SeededRandom) -> [UInt8] {
        let size: Int
        switch Int.random(in: 0..<20, using: &rng) {
        case 0: size = 0
        case 1: size = Int.random(in: 1000...1400, using: &rng)
        case 2: size = Int.random(in: 4000...20_000, using: &rng)
        default: size = Int.random(in: 1...120, using: &rng)
        }
        let fill = UInt8.random(in: 0...255, using: &rng)
        return (0..<size).map { UInt8(truncatingIfNeeded: Int(fill) &+ $0 &* 7) }
    }

    /// What `tx` holds that differs from `model`, or nil when they agree.
    static func difference(_ tx: ReadTransaction, _ model: Model) throws -> String? {
        for (ns, _) in model.spaces {
            let expected = model.sortedEntries(ns)
            let actual = try tx.namespace(ns).all().map { ($0.key, $0.value) }
            if !actual.elementsEqual(expected, by: { $0.0 == $1.0 && $0.1 == $1.1 }) {
                return "namespace '\(ns)' holds \(actual.count) entries, the model \(expected.count) (or they differ)"
            }
        }
        let names = try tx.namespaces(), want = model.spaces.keys.filter { !$0.isEmpty }.sorted()
        return names == want ? nil : "namespaces \(names), the model \(want)"
    }

    /// A read transaction held open on its own thread across later commits; when ended, it compares
    /// its snapshot with the model as of that snapshot. No page it reaches may be reused meanwhile.
    final class HeldSnapshot: @unchecked Sendable {
        private let release = DispatchSemaphore(value: 0)
        private let finished = DispatchSemaphore(value: 0)
        private let outcome = Locked<String?>(nil)
        /// Commits after which it ends.
        let lifetime: Int
        var age = 0

        init(_ db: Database, expected: Model, lifetime: Int) {
            self.lifetime = lifetime
            let started = DispatchSemaphore(value: 0)
            let release = self.release, finished = self.finished, outcome = self.outcome
            Thread {
                let began = Locked(false)
                do {
                    try db.read { tx in
                        began.withLock { $0 = true }
                        started.signal()
                        release.wait()
                        let d = try ModelTests.difference(tx, expected)
                        outcome.withLock { $0 = d }
                    }
                } catch {
                    outcome.withLock { $0 = "the held reader failed: \(error)" }
                    if !began.withLock({ $0 }) { started.signal() }
                }
                finished.signal()
            }.start()
            started.wait()
        }

        /// Ends the transaction; what its snapshot got wrong, or nil.
        func end() -> String? {
            release.signal()
            finished.wait()
            return outcome.withLock { $0 }
        }
    }

    static func compareAll(_ db: Database, _ model: Model, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try db.read { tx in
            for (ns, _) in model.spaces {
                let expected = model.sortedEntries(ns)
                let handle = try tx.namespace(ns)
                let actual = try handle.all().map { ($0.key, $0.value) }
                #expect(actual.count == expected.count, "namespace '\(ns)' holds \(actual.count), model \(expected.count)", sourceLocation: sourceLocation)
                let same = actual.elementsEqual(expected, by: { $0.0 == $1.0 && $0.1 == $1.1 })
                #expect(same, "namespace '\(ns)' differs from the model", sourceLocation: sourceLocation)
                let reversed: [[UInt8]] = try handle.all(reverse: true).map { $0.key }
                let expectedReversed: [[UInt8]] = expected.map { $0.0 }.reversed()
                #expect(reversed == expectedReversed, sourceLocation: sourceLocation)
                #expect(try handle.count() == expected.count, sourceLocation: sourceLocation)
            }
            #expect(try tx.namespaces() == model.spaces.keys.filter { !$0.isEmpty }.sorted(), sourceLocation: sourceLocation)
        }
    }

    /// Where the model's store lives: in memory, or in a file written through a write engine.
    enum Backing: Sendable, CustomTestStringConvertible {
        case memory
        case file(WriteEngine)
        var testDescription: String {
            switch self {
            case .memory: "memory"
            case .file(let engine): "file, \(engine) writes"
            }
        }
    }

    /// Opens (or first creates) the store `backing` names; `storage` is the in-memory one, `path`
    /// the file.
    static func open(_ backing: Backing, storage: MemoryStorage, path: String, create: Bool) throws -> Database {
        var options = TestSupport.options(cacheSize: 256 << 10)
        switch backing {
        case .memory:
            return try Database.open(storage: storage, credential: .password("model"), options: options, create: create)
        case .file(let engine):
            options.writeEngine = engine
            let db = try Database.open(at: path, credential: .password("model"), options: options)
            let name = try db.stats().writeEngine
            switch engine {
            case .automatic: #expect(name.hasPrefix("automatic: "), "\(name)")
            case .pwritev: #expect(name == "pwritev")
            case .ioUring: #expect(name == "io_uring")
            }
            return db
        }
    }

    func run(seed: UInt64, operations: Int, backing: Backing = .memory) throws {
        var rng = SeededRandom(seed: seed)
        var counter: UInt32 = 0
        let storage = MemoryStorage()
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let path = dir + "/model.sealkv"
        var db = try Self.open(backing, storage: storage, path: path, create: true)
        var model = Model()
        var done = 0
        var commits = 0
        var held: [HeldSnapshot] = []
        // Set before a write to open a reader while its commit is being written (on the snapshot
        // before it); the observer moves it into `openedInCommit`.
        let openInCommit = Locked<(Model, Int)?>(nil)
        let openedInCommit = Locked<[HeldSnapshot]>([])
        func observe(_ db: Database) {
            db.commitObserver.withLock {
                $0 = CommitObserver(willWrite: { _ in
                    guard let (expected, lifetime) = openInCommit.withLock({ r in defer { r = nil }; return r }) else { return }
                    let reader = HeldSnapshot(db, expected: expected, lifetime: lifetime)
                    openedInCommit.withLock { $0.append(reader) }
                }, didPublish: { _ in })
            }
        }
        func endHeld(all: Bool) {
            held.append(contentsOf: openedInCommit.withLock { r in defer { r = [] }; return r })
            for reader in held where all || reader.age >= reader.lifetime {
                let problem = reader.end()
                #expect(problem == nil, "seed \(seed) after \(done) operations, a reader held \(reader.age) commits: \(problem ?? "")")
            }
            held.removeAll { all || $0.age >= $0.lifetime }
        }
        observe(db)
        while done < operations {
            let batch = Int.random(in: 1...40, using: &rng)
            let abort = Int.random(in: 0..<12, using: &rng) == 0
            if held.count < 4 {
                switch Int.random(in: 0..<10, using: &rng) {
                case 0: held.append(HeldSnapshot(db, expected: model, lifetime: Int.random(in: 1...30, using: &rng)))
                case 1, 2: openInCommit.withLock { $0 = (model, Int.random(in: 1...30, using: &rng)) }
                default: break
                }
            }
            var working = model
            do {
                try db.write { tx in
                    for _ in 0..<batch {
                        let ns = ["", "", "", "alpha", "beta"][Int.random(in: 0..<5, using: &rng)]
                        let handle = try tx.namespace(ns)
                        if working.spaces[ns] == nil { working.spaces[ns] = [:] }
                        let r = Int.random(in: 0..<100, using: &rng)
                        if r < 50 {
                            let k = Self.key(&rng, &counter), v = Self.value(&rng)
                            try handle.put(k, v)
                            working.spaces[ns, default: [:]][k] = v
                        } else if r < 80 {
                            // Delete an existing key most of the time.
                            let existing = working.spaces[ns]?.keys.first
                            let k = (existing != nil && r < 75) ? existing! : Self.key(&rng, &counter)
                            let removed = try handle.delete(k)
                            #expect(removed == (working.spaces[ns]?[k] != nil))
                            working.spaces[ns]?[k] = nil
                        } else if r < 90 {
                            let k = Self.key(&rng, &counter)
                            #expect(try handle.get(k) == working.spaces[ns]?[k])
                        } else if r < 95 {
                            // A range between two random keys, forwards or backwards.
                            var a = Self.key(&rng, &counter), b = Self.key(&rng, &counter)
                            if b.lexicographicallyPrecedes(a) { swap(&a, &b) }
                            let reverse = Bool.random(using: &rng)
                            let got = try handle.range(from: a, to: b, reverse: reverse).map { $0.key }
                            let inRange: [[UInt8]] = (working.spaces[ns] ?? [:]).keys.filter { !$0.lexicographicallyPrecedes(a) && $0.lexicographicallyPrecedes(b) }
                            var want = inRange.sorted { $0.lexicographicallyPrecedes($1) }
                            if reverse { want.reverse() }
                            #expect(got == want)
                        } else if r < 98 {
                            let p = Array("user:\(Int.random(in: 0..<40, using: &rng))".utf8)
                            let got = try handle.prefix(p).map { $0.key }
                            let matching: [[UInt8]] = (working.spaces[ns] ?? [:]).keys.filter { $0.starts(with: p) }
                            let want = matching.sorted { $0.lexicographicallyPrecedes($1) }
                            #expect(got == want)
                        } else if ns != "" {
                            try tx.dropNamespace(ns)
                            working.spaces[ns] = nil
                        }
                    }
                    if abort { throw Aborted() }
                }
                model = working
                commits += 1
                for reader in held { reader.age += 1 }
            } catch is Aborted {
                // Rolled back: the model keeps its previous state.
            }
            openInCommit.withLock { $0 = nil }
            endHeld(all: false)
            done += batch
            let report = try db.check()
            #expect(report.isClean, "seed \(seed) after \(done) operations: \(report.problems.prefix(3))")
            if !report.isClean { return }
            if Int.random(in: 0..<25, using: &rng) == 0 {
                endHeld(all: true)
                db.close()
                db = try Self.open(backing, storage: storage, path: path, create: false)
                observe(db)
            }
            if commits % 10 == 0 { try Self.compareAll(db, model) }
        }
        endHeld(all: true)
        try Self.compareAll(db, model)
        db.close()
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func randomOperations(seed: UInt64) throws {
        try run(seed: seed, operations: Self.isLong ? 50_000 : 6_000)
    }

    /// The same on a file, through each write engine (the automatic one takes both paths, by
    /// turns at first): every commit synced, reopened from the file.
    @Test(arguments: [WriteEngine.pwritev, .ioUring, .automatic])
    func randomOperationsOnAFile(writeEngine: WriteEngine) throws {
        if writeEngine != .pwritev && !TestSupport.ioUringAvailable {
            print("skipped: io_uring is unavailable on this kernel (disabled or blocked by seccomp)")
            return
        }
        try run(seed: 9, operations: Self.isLong ? 50_000 : 3_000, backing: .file(writeEngine))
    }
}
