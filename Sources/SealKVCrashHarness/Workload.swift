import Foundation
import SealKV

/// A deterministic pseudo-random generator (SplitMix64): the same seed gives the same workload.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64
    /// A generator seeded with `seed`.
    public init(seed: UInt64) { state = seed }
    /// The next 64 random bits (SplitMix64).
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Who hears of a workload's promises: the recorder (states mode), the child process of kill mode
/// (which tells its parent), or the fault runner.
protocol WorkloadJournal: AnyObject {
    /// Credentials in force over the run, the newest last.
    var credentials: [Credential] { get set }
    /// Everything committed so far was acknowledged: a call to the store returned.
    func acknowledge(_ database: Database) throws
    /// `Database.sync()` returned (no-sync mode's durability point).
    func synced(_ database: Database)
    /// Whether commits may be acknowledged from several threads at once (a kill-mode child can:
    /// each acknowledgement names the snapshot it digested). Elsewhere concurrent writers take turns.
    var acceptsConcurrentWriters: Bool { get }
}

extension WorkloadJournal {
    var acceptsConcurrentWriters: Bool { false }
}

/// The credentials of harness stores: index 0 is the store's first raw key, each password change
/// moves to the next index. Derived from the index alone, so a parent process can open what a killed
/// child left behind without the child ever telling it a key.
public enum HarnessCredentials {
    /// The raw key with this index.
    public static func key(_ index: Int) throws -> Credential {
        if index == 0 { return try Credential.key(Array(0..<32)) }
        var rng = SeededGenerator(seed: 0x5EA1_C0DE &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
        return try Credential.key((0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }
}

/// What a workload drives: the store under test, a seeded generator, an operation budget, and the
/// calls that let the harness record what was promised. Use `commit` rather than `database.write`,
/// so the harness knows which commits were issued and acknowledged.
public final class WorkloadContext {
    /// The store under test (read from it freely; write through ``commit(_:)``).
    public let database: Database
    /// The workload's generator: use it for every random choice, so a seed replays the run.
    public var random: SeededGenerator
    /// How many operations the workload should perform.
    public let operations: Int
    let journal: any WorkloadJournal

    init(database: Database, random: SeededGenerator, operations: Int, journal: any WorkloadJournal) {
        self.database = database
        self.random = random
        self.operations = operations
        self.journal = journal
    }

    /// Runs one write transaction as a recorded commit.
    public func commit(_ body: (WriteTransaction) throws -> Void) throws {
        try database.write(body)
        try journal.acknowledge(database)
    }

    /// Runs `writers` threads at once, each making `commitsEach` commits with `body(tx, writer,
    /// commit)` and acknowledging each when its `write` returns, so their commits share fsyncs
    /// (group commit). Where the journal cannot take acknowledgements from several threads (states
    /// and fault modes), the writers take turns instead. The interleaving of threads is not
    /// replayed by a seed.
    public func commitConcurrently(writers: Int, commitsEach: Int, _ body: @escaping @Sendable (WriteTransaction, Int, Int) throws -> Void) throws {
        guard journal.acceptsConcurrentWriters else {
            for n in 0..<commitsEach {
                for w in 0..<writers { try commit { tx in try body(tx, w, n) } }
            }
            return
        }
        final class Failure: @unchecked Sendable {
            let lock = NSLock()
            var error: (any Error)?
        }
        let failure = Failure()
        let done = DispatchGroup()
        let (database, journal) = (self.database, UncheckedJournal(self.journal))
        for w in 0..<writers {
            done.enter()
            Thread.detachNewThread {
                defer { done.leave() }
                do {
                    for n in 0..<commitsEach {
                        try database.write { tx in try body(tx, w, n) }
                        try journal.journal.acknowledge(database)
                    }
                } catch {
                    failure.lock.lock(); failure.error = failure.error ?? error; failure.lock.unlock()
                }
            }
        }
        done.wait()
        if let error = failure.error { throw error }
    }

    /// `Database.sync()`, recorded as the durability point of no-sync mode.
    public func sync() throws {
        try database.sync()
        journal.synced(database)
    }

    /// Switches the store to the next harness key (a password change), recorded.
    public func changeCredential() throws {
        let next = try HarnessCredentials.key(journal.credentials.count)
        journal.credentials.append(next)
        try database.changePassword(from: journal.credentials[journal.credentials.count - 2], to: next)
        try journal.acknowledge(database)
    }

    /// Re-seals every page under a new data key, recorded. The batches are small (a store's are
    /// 8,192 pages), so that on the harness's small stores a rekey spans several commits and crash
    /// points fall between them, where the store holds pages under both keys.
    public func rekey() throws {
        try database.rekey(credential: journal.credentials.last!, batchPages: 24)
        try journal.acknowledge(database)
    }
}

/// A named workload: a function of its context.
public struct CrashWorkload: Sendable {
    /// The workload's name, as `--workload` selects it.
    public let name: String
    /// Performs the workload's commits.
    public let run: @Sendable (WorkloadContext) throws -> Void

    /// A workload from a closure.
    public init(name: String, run: @escaping @Sendable (WorkloadContext) throws -> Void) {
        self.name = name
        self.run = run
    }
}

extension CrashWorkload {
    static func key(_ rng: inout SeededGenerator, space: Int) -> [UInt8] {
        Array("key-\(Int.random(in: 0..<space, using: &rng))".utf8)
    }

    static func value(_ rng: inout SeededGenerator, overflowOneIn: Int = 25) -> [UInt8] {
        let size = Int.random(in: 0..<overflowOneIn, using: &rng) == 0 ? Int.random(in: 5_000...14_000, using: &rng)
                                                                       : Int.random(in: 16...220, using: &rng)
        let fill = UInt8.random(in: 0...255, using: &rng)
        return [UInt8](repeating: fill, count: size)
    }

    /// Puts, deletes and overwrites of small and overflow values, a few per commit, over a store
    /// first filled to about 1 MB.
    public static let mixed = CrashWorkload(name: "mixed") { ctx in
        try ctx.commit { tx in
            for i in 0..<2_500 { try tx.put("key-\(i)", [UInt8](repeating: UInt8(i & 0xFF), count: 300)) }
        }
        var done = 0
        while done < ctx.operations {
            let n = Int.random(in: 1...6, using: &ctx.random)
            try ctx.commit { tx in
                for _ in 0..<n {
                    let k = key(&ctx.random, space: 3_000)
                    if Int.random(in: 0..<3, using: &ctx.random) == 0 { try tx.delete(k) } else { try tx.put(k, value(&ctx.random)) }
                }
            }
            done += n
            if ctx.database.options.durability == .noSync && Int.random(in: 0..<10, using: &ctx.random) == 0 { try ctx.sync() }
        }
    }

    /// Namespaces created, filled and dropped between ordinary writes.
    public static let namespaces = CrashWorkload(name: "namespaces") { ctx in
        var done = 0
        while done < ctx.operations {
            let ns = "ns-\(Int.random(in: 0..<6, using: &ctx.random))"
            let drop = Int.random(in: 0..<8, using: &ctx.random) == 0
            try ctx.commit { tx in
                if drop {
                    try tx.dropNamespace(ns)
                } else {
                    for _ in 0..<Int.random(in: 1...40, using: &ctx.random) {
                        try tx.namespace(ns).put(key(&ctx.random, space: 500), value(&ctx.random, overflowOneIn: 60))
                    }
                    try tx.put("default-\(Int.random(in: 0..<100, using: &ctx.random))", "x")
                }
            }
            done += drop ? 1 : 10
            if ctx.database.options.durability == .noSync && Int.random(in: 0..<6, using: &ctx.random) == 0 { try ctx.sync() }
        }
    }

    /// Fills, then deletes large ranges so the file shrinks, and fills again.
    public static let shrink = CrashWorkload(name: "shrink") { ctx in
        var round = 0
        var done = 0
        while done < ctx.operations {
            let count = 400 + Int.random(in: 0..<800, using: &ctx.random)
            try ctx.commit { tx in for i in 0..<count { try tx.put("r\(round)-\(i)", [UInt8](repeating: 1, count: 200)) } }
            try ctx.commit { tx in try tx.put("big-\(round)", [UInt8](repeating: 2, count: 40_000)) }
            try ctx.commit { tx in
                for i in 0..<count { try tx.delete("r\(round)-\(i)") }
                try tx.delete("big-\(round)")
            }
            try ctx.commit { tx in try tx.put("marker", "\(round)") }
            if ctx.database.options.durability == .noSync { try ctx.sync() }
            round += 1
            done += count
        }
    }

    /// Ordinary writes with a password change and a rekey in the middle.
    public static let rotation = CrashWorkload(name: "rotation") { ctx in
        try ctx.commit { tx in for i in 0..<400 { try tx.put("key-\(i)", [UInt8](repeating: 5, count: 150)) } }
        var done = 0
        var rotated = 0
        while done < ctx.operations {
            try ctx.commit { tx in
                for _ in 0..<3 { try tx.put(key(&ctx.random, space: 600), value(&ctx.random, overflowOneIn: 40)) }
            }
            done += 3
            if done >= (rotated + 1) * ctx.operations / 3 && rotated < 2 {
                if rotated == 0 { try ctx.changeCredential() } else { try ctx.rekey() }
                rotated += 1
            }
        }
    }

    /// Commits of more than one batch of sealed pages (256), whose full batches a thread of their
    /// own writes while the commit seals the rest: a bulk load, then rounds of 1,000 overwrites
    /// spread over it.
    public static let bulk = CrashWorkload(name: "bulk") { ctx in
        try ctx.commit { tx in for i in 0..<4_000 { try tx.put("bulk-\(i)", [UInt8](repeating: UInt8(i & 0xFF), count: 300)) } }
        var round = 0
        var done = 0
        while done < ctx.operations {
            try ctx.commit { tx in
                for _ in 0..<1_000 {
                    let i = Int.random(in: 0..<4_000, using: &ctx.random)
                    try tx.put("bulk-\(i)", [UInt8](repeating: UInt8(round & 0xFF), count: 300))
                }
            }
            try ctx.commit { tx in try tx.put("marker", "\(round)") }
            if ctx.database.options.durability == .noSync { try ctx.sync() }
            round += 1
            done += 1_000
        }
    }

    /// Four writer threads at once, each putting keys of its own and overwriting shared ones, one
    /// to three puts a commit: their commits share fsyncs through group commit. Meant for kill mode
    /// (`--mode kill --workload concurrent`), where every writer's acknowledged commits must survive.
    public static let concurrent = CrashWorkload(name: "concurrent") { ctx in
        try ctx.commit { tx in for i in 0..<500 { try tx.put("shared-\(i)", [UInt8](repeating: 1, count: 200)) } }
        let seed = ctx.random.next()
        try ctx.commitConcurrently(writers: 4, commitsEach: max(1, ctx.operations / 8)) { tx, writer, n in
            var rng = SeededGenerator(seed: seed ^ (UInt64(writer) << 32 | UInt64(n)))
            try tx.put("writer-\(writer)-\(n)", value(&rng, overflowOneIn: 30))
            for _ in 0..<Int.random(in: 0...2, using: &rng) { try tx.put(key(&rng, space: 500).replacingKeyPrefix(), value(&rng)) }
        }
    }

    /// The built-in workloads small enough for every mode in CI (all but `bulk`, whose states-mode
    /// run takes minutes: each of its commits writes hundreds of pages, each a crash point).
    public static let all: [CrashWorkload] = [.mixed, .namespaces, .shrink, .rotation]

    /// Every built-in workload.
    public static let builtIn: [CrashWorkload] = all + [.bulk, .concurrent]

    /// The built-in workload named `name`.
    public static func named(_ name: String) -> CrashWorkload? { builtIn.first { $0.name == name } }
}

/// A journal handed to writer threads; the kill-mode child's journal writes each line in one call.
private struct UncheckedJournal: @unchecked Sendable {
    let journal: any WorkloadJournal
    init(_ journal: any WorkloadJournal) { self.journal = journal }
}

private extension Array where Element == UInt8 {
    /// A `key-N` key as `shared-N`, so writers overwrite the keys the workload filled.
    func replacingKeyPrefix() -> [UInt8] { Array("shared-".utf8) + dropFirst(4) }
}
