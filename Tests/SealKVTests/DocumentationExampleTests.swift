import SealKV
import SealKVCrashHarness
import Testing

// The code samples of the DocC articles (Sources/SealKV/SealKV.docc and
// Sources/SealKVCrashHarness/SealKVCrashHarness.docc), compiled and run against the public API
// only (no `@testable`), so an article cannot drift from the library. Each sample is copied as it
// is in its article, except that file paths move into a temporary folder, names an article leaves
// to the reader (a password, a key manager) are defined here, a printed answer the test depends on
// becomes a checked one, and the crash harness runs fewer operations. Change both together.

/// Stands in for the key-management service of GettingStarted.md.
private struct KeyManager {
    func dataKey(named name: String) throws -> [UInt8] { (0..<32).map { UInt8($0) &+ UInt8(name.utf8.count) } }
}

/// GettingStarted.md, "Use it from Swift concurrency".
private func recordLogin(of user: String, at path: String, password: String) async throws {
    let db = try await Database.open(at: path, credential: .password(password))
    defer { db.close() }
    try await db.write { tx in
        try tx.put("last-login:\(user)", "now")
    }
    let seen = try await db.read { tx in try tx.getString("last-login:\(user)") }
    print(seen ?? "never")
    try await db.backup(to: path + ".backup")
}

/// CrashTestingYourWorkload.md, "Write the workload".
private let ledger = CrashWorkload(name: "ledger") { ctx in
    for entry in 0..<ctx.operations {
        let account = Int.random(in: 0..<50, using: &ctx.random)
        let amount = Int.random(in: 1...100, using: &ctx.random)
        try ctx.commit { tx in
            let key = "balance:\(account)"
            let balance = try tx.get(key, as: Int.self) ?? 0
            try tx.put(key, encoding: balance + amount)
            try tx.namespace("journal").put("entry:\(entry)", "credit \(account) \(amount)")
        }
    }
}

/// CrashTestingYourWorkload.md, "Kill its processes".
/// Call first in `main`: whether this process was started as a child of the kill harness.
private func runAsKillHarnessChild(_ arguments: [String], workload: CrashWorkload) throws -> Bool {
    func value(after flag: String) -> String? {
        guard let i = arguments.firstIndex(of: flag), i + 1 < arguments.count else { return nil }
        return arguments[i + 1]
    }
    let credentialIndex = value(after: "--credential-index").flatMap { Int($0) } ?? 0
    if let path = value(after: "--reader-child") {
        try KillHarness.readerChild(path: path, credentialIndex: credentialIndex)   // until killed
        return true
    }
    guard let path = value(after: "--kill-child") else { return false }
    var configuration = CrashConfiguration()
    configuration.workload = workload
    configuration.operations = 200          // as the parent's configuration says
    configuration.durability = .oneSync     // likewise
    configuration.seed = value(after: "--seed").flatMap { UInt64($0) } ?? 1
    try KillHarness.child(path: path, credentialIndex: credentialIndex, configuration: configuration)
    return true
}

@Suite("Documentation examples")
struct DocumentationExampleTests {
    @Test func gettingStarted() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let password = TestSupport.password
        let keyManager = KeyManager()
        let typedPassword = "correct horse battery staple"

        // Open a store
        let db = try Database.open(at: dir + "/notes.sealkv", credential: .password("correct horse battery staple"))
        defer { db.close() }

        var options = Options()
        options.mode = .createNew      // fail if a file exists at the path
        options.kdf = .moderate        // Argon2id at 256 MiB a guess: for files that travel
        options.cacheSize = 256 << 20  // decrypted page cache (default 64 MiB)
        let archive = try Database.open(at: dir + "/archive.sealkv", credential: .password(password), options: options)
        archive.close()

        let key: [UInt8] = try keyManager.dataKey(named: "cache")
        let cache = try Database.open(at: dir + "/cache.sealkv", credential: .key(key))
        cache.close()

        // Write and read
        try db.write { tx in
            try tx.put("user:1", "alice")
            try tx.put("user:2", "bob")
            try tx.delete("user:3")
        }

        let alice = try db.read { tx in try tx.getString("user:1") }   // "alice"
        #expect(alice == "alice")

        // Iterate in key order
        try db.read { tx in
            for (key, value) in try tx.prefix("user:") {
                print(String(decoding: key, as: UTF8.self), value.count)
            }
            for (key, _) in try tx.range("a"..<"m", reverse: true, limit: 10) {
                print(String(decoding: key, as: UTF8.self))
            }
            let cursor = try tx.cursor()
            if try cursor.seek(to: "user:2") {
                repeat { print(cursor.key!) } while try cursor.next()
            }
        }

        // Namespaces, time to live and Codable values
        struct Profile: Codable {
            var name: String
            var age: Int
        }

        try db.write { tx in
            let sessions = try tx.namespace("sessions")
            try sessions.put("alice", "token-1", ttl: .seconds(3600))
            try tx.put("profile:alice", encoding: Profile(name: "alice", age: 41))
        }

        let profile = try db.read { tx in try tx.get("profile:alice", as: Profile.self) }
        let names = try db.read { tx in try tx.namespaces() }   // ["sessions"]
        #expect(profile?.age == 41)
        #expect(names == ["sessions"])

        // One call, one transaction
        try db.put("greeting", "hello")
        let greeting = try db.get("greeting")                     // the bytes of "hello"
        let config = try db.getOrInsert("config") { "defaults" }  // inserted if absent
        let claimed = try db.compareAndSwap("lock", expected: nil, new: Array("worker-1".utf8))

        let sessions = db.namespace("sessions")
        try sessions.put("bob", "token-2", ttl: .seconds(600))
        #expect(greeting == Array("hello".utf8) && config == Array("defaults".utf8) && claimed)

        let visits = try db.write { tx in
            try tx.update("visits", as: Int.self) { ($0 ?? 0) + 1 }
        }
        #expect(visits == 1)

        // Handle errors (a wrong password for the store made above)
        var told = ""
        do {
            let db = try Database.open(at: dir + "/archive.sealkv", credential: .password(typedPassword))
            defer { db.close() }
            try db.write { tx in try tx.put("draft", "…") }
        } catch let error as SealKVError {
            switch error.code {
            case .wrongCredential: told = "That password does not open the store."
            case .locked: told = "Another process is writing the store; try again when it has finished."
            default: told = error.message
            }
        }
        #expect(told == "That password does not open the store.")
    }

    @Test func gettingStartedAsync() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        try await recordLogin(of: "alice", at: dir + "/logins.sealkv", password: TestSupport.password)
        let copy = try await Database.open(at: dir + "/logins.sealkv.backup", credential: .password(TestSupport.password),
                                           options: Options(mode: .readOnly))
        defer { copy.close() }
        let seen = try await copy.read { tx in try tx.getString("last-login:alice") }
        #expect(seen == "now")
    }

    @Test(.timeLimit(.minutes(1))) func observeChanges() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let db = try await Database.open(at: dir + "/users.sealkv", credential: .password(TestSupport.password),
                                         options: TestSupport.options())
        defer { db.close() }
        try await db.put("user:1", "alice")

        let changes = try await db.observe(prefix: "user:")
        var users = try await db.read { tx in
            Dictionary(uniqueKeysWithValues: try tx.prefix("user:").map { ($0.key, $0.value) })
        }
        let writes = Task {
            try await db.put("user:2", "bob")
            try await db.delete("user:1")
        }
        for await batch in changes {
            for change in batch.changes { users[change.key] = change.value }   // nil: removed
            if users == [Array("user:2".utf8): Array("bob".utf8)] { break }      // the test's own end
        }
        try await writes.value
        #expect(users == [Array("user:2".utf8): Array("bob".utf8)])
    }

    @Test func transactionsAndConcurrency() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let password = TestSupport.password
        let db = try Database.open(at: dir + "/bank.sealkv", credential: .password(password), options: TestSupport.options())
        defer { db.close() }
        try db.put("balance:alice", encoding: 5)

        // The writer
        struct InsufficientFunds: Error {}

        #expect(throws: InsufficientFunds.self) {
            try db.write { tx in
                let from = try tx.get("balance:alice", as: Int.self) ?? 0
                guard from >= 10 else { throw InsufficientFunds() }   // nothing below happens
                try tx.put("balance:alice", encoding: from - 10)
                let to = try tx.get("balance:bob", as: Int.self) ?? 0
                try tx.put("balance:bob", encoding: to + 10)
            }
        }
        #expect(try db.get("balance:bob", as: Int.self) == nil)

        // Durability
        let cache = try Database.open(at: dir + "/cache.sealkv", credential: .password(password),
                                      options: Options(durability: .noSync))
        for i in 0..<1_000 {
            try cache.put("item:\(i)", "cached")
        }
        try cache.sync()   // the thousand commits are durable from here on
        cache.close()
    }

    @Test func groupCommit() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let db = try await Database.open(at: dir + "/orders.sealkv", credential: .password(TestSupport.password),
                                         options: TestSupport.options())
        defer { db.close() }

        try await withThrowingTaskGroup(of: Void.self) { group in
            for order in 0..<100 {
                group.addTask {
                    // Each returns once its order is durable; together they take far fewer than 100 syncs.
                    try await db.write { tx in try tx.put("order:\(order)", "pending") }
                }
            }
            try await group.waitForAll()
        }
        let orders = try await db.read { tx in try tx.prefix("order:").reduce(0) { n, _ in n + 1 } }
        #expect(orders == 100)
    }

    @Test func crashTestingYourWorkload() throws {
        // Explore its crash states (fewer operations than the article's 100, to keep the suite fast)
        for durability in [Durability.oneSync, .twoPhase, .noSync] {
            var configuration = CrashConfiguration()
            configuration.workload = ledger
            configuration.operations = 12
            configuration.durability = durability
            configuration.seed = 7
            let report = try CrashHarness(configuration).run()
            print("\(durability): \(report.totalStates) crash states, \(report.violations.count) violations")
            for violation in report.violations.prefix(5) {
                print("  \(violation)")   // [kind] replay-id: what was found
                let replayed = try CrashHarness.replay(violation.replayID, workloads: [ledger], operations: 12)
                print(replayed.violations)
            }
            #expect(report.violations.isEmpty)
            #expect(report.totalStates > 100)
        }

        // Fail its I/O
        var configuration = CrashConfiguration()
        configuration.workload = ledger
        configuration.operations = 10
        let faults = try FaultHarness(configuration).run()
        print(faults.runs, faults.imagesChecked, faults.violations)
        #expect(faults.violations.isEmpty)
        #expect(faults.imagesChecked > 0)

        // Kill its processes: the child's side, and the parent's set-up (run by `sealkv crashtest
        // --mode kill` in the tool tests).
        #expect(try runAsKillHarnessChild(["ledger-crashtest"], workload: ledger) == false)
        let executablePath = "/bin/false"
        var killConfiguration = CrashConfiguration()
        killConfiguration.workload = ledger
        killConfiguration.operations = 200
        var harness = KillHarness(killConfiguration, childCommand: [executablePath], directory: "/tmp/ledger-kills")
        harness.rounds = 50
        harness.readerProcesses = 2
        #expect(harness.childCommand == [executablePath] && harness.rounds == 50)
    }
}
