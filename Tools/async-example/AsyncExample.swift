// An example client of SealKV's async API, built in Swift 6 language mode with warnings as
// errors, so any strict-concurrency diagnostic the API causes in client code fails the build.
// It keeps user sessions in an actor-owned store: many tasks write at once (their commits share
// fsyncs), an observer follows the committed changes, and a cancelled write leaves no trace.
//
//     swift run sealkv-async-example [folder]
import Foundation
import SealKV

/// A session as the application stores it.
struct Session: Codable, Sendable, Equatable {
    var user: String
    var visits: Int
}

/// The application's view of the store: an actor, as server code would have it.
actor SessionStore {
    let database: Database
    private(set) var writesMade = 0

    init(at path: String) async throws {
        database = try await Database.open(at: path, credential: .password("example password"), options: Options(kdf: .interactive))
    }

    /// Records one visit, atomically, whichever task calls.
    func visit(_ id: String, user: String) async throws -> Session {
        writesMade += 1
        let updated = try await database.namespace("sessions").update(id, as: Session.self) { old in
            Session(user: user, visits: (old?.visits ?? 0) + 1)
        }
        return updated!
    }

    func session(_ id: String) async throws -> Session? {
        try await database.namespace("sessions").get(id, as: Session.self)
    }

    /// Every session, read in one snapshot on a thread of the store.
    func all() async throws -> [String: Session] {
        try await database.read { tx in
            var out: [String: Session] = [:]
            for (key, value) in try tx.namespace("sessions").all() {
                out[String(decoding: key, as: UTF8.self)] = try BinaryValueDecoder().decode(Session.self, from: value)
            }
            return out
        }
    }

    func close() { database.close() }
}

@main
struct AsyncExample {
    static func main() async throws {
        let folder = CommandLine.arguments.dropFirst().first ?? NSTemporaryDirectory() + "sealkv-async-example-\(getpid())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let store = try await SessionStore(at: folder + "/sessions.sealkv")

        // An observer of the namespace, started before the writes.
        let changes = try await store.database.observe(namespace: "sessions")
        let observer = Task { () -> Int in
            var seen: Set<[UInt8]> = []
            for await batch in changes {
                for change in batch.changes { seen.insert(change.key) }
                if seen.count == 8 { break }
            }
            return seen.count
        }

        // 64 visits from 64 tasks at once, over 8 sessions.
        try await withThrowingTaskGroup(of: Session.self) { group in
            for i in 0..<64 { group.addTask { try await store.visit("s\(i % 8)", user: "user\(i % 8)") } }
            for try await _ in group {}
        }
        let sessions = try await store.all()
        let visits = sessions.values.reduce(0) { $0 + $1.visits }
        guard sessions.count == 8, visits == 64 else { throw ExampleError("expected 8 sessions and 64 visits, found \(sessions.count) and \(visits)") }

        // A write cancelled before it commits changes nothing.
        let cancelled = Task { try await store.database.write { tx in try tx.namespace("sessions").put("never", encoding: Session(user: "x", visits: 0)) } }
        cancelled.cancel()
        _ = try? await cancelled.value
        let observed = await observer.value
        let stats = try store.database.stats()
        print("8 sessions, 64 visits by 64 concurrent tasks; observer saw \(observed) sessions change;",
              "\(stats.txnID) commits in all, \(stats.syncCalls) fdatasync calls; a cancelled write left",
              try await store.session("never") == nil ? "nothing" : "a value (wrong)")
        await store.close()
        try? FileManager.default.removeItem(atPath: folder)
    }
}

struct ExampleError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
