import Dispatch
import NIOConcurrencyHelpers
import NIOCore
import SealKV

/// Runs each client's run of writes as one SealKV write transaction on the store's own threads.
/// The library's group commit does the rest: writes of clients that arrive while another
/// transaction runs join it and share its fsync, and each client is answered only once the commit
/// holding its writes is durable. One client's writes stay in order (its connection submits the
/// next run only after this one is answered).
final class GroupCommitter: Sendable {
    typealias Operation = @Sendable (WriteTransaction) throws -> RESPValue
    private struct State {
        var stopped = false
        var accepted = 0
    }

    private let database: Database
    private let state = NIOLockedValueBox(State())
    /// Entered for each write until it is answered, so `stop` can wait for them all.
    private let inFlight = DispatchGroup()
    let statistics: ServerStatistics

    init(database: Database, statistics: ServerStatistics) {
        self.database = database
        self.statistics = statistics
    }

    /// Writes accepted since the server started (committed, being committed or queued).
    var acceptedCount: Int { state.withLockedValue { $0.accepted } }

    /// Queues a write; the future completes with its reply once its commit is durable.
    func submit(_ operation: @escaping Operation, on eventLoop: any EventLoop) -> EventLoopFuture<RESPValue> {
        submit([operation], replyBudget: .max, on: eventLoop).map { $0[0] }
    }

    /// Runs writes in order in one transaction; the future completes with their replies once its
    /// commit is durable. The first always runs; the others run while the replies so far total at
    /// most `replyBudget` bytes, so the future may hold fewer replies than operations: those
    /// missing did not run.
    func submit(_ operations: [Operation], replyBudget: Int, on eventLoop: any EventLoop) -> EventLoopFuture<[RESPValue]> {
        let promise = eventLoop.makePromise(of: [RESPValue].self)
        let admitted = state.withLockedValue { s -> Bool in
            if s.stopped { return false }
            s.accepted += operations.count
            self.inFlight.enter()
            return true
        }
        guard admitted else {
            promise.succeed(Array(repeating: .err("the server is shutting down; the write was not made"), count: operations.count))
            return promise.futureResult
        }
        let (database, statistics, writesInFlight) = (self.database, self.statistics, self.inFlight)
        // On the store's own threads, not in a Task: a reply must not wait for a thread of Swift's
        // cooperative pool, which other work in the process may hold.
        database.write({ tx in Self.run(operations, replyBudget: replyBudget, tx) }) { result in
            defer { writesInFlight.leave() }
            switch result {
            case .success(let replies):
                statistics.committed(writes: replies.count)
                promise.succeed(replies)
            case .failure(let error):
                // The commit itself failed (an I/O error poisons the store): nothing of it is promised.
                let reply = RESPValue.err("the write was not committed: \(Reply.message(error))")
                statistics.failedCommit()
                promise.succeed(Array(repeating: reply, count: operations.count))
            }
        }
        return promise.futureResult
    }

    /// Runs one client's operations in order within its reply budget. One command's failure (a
    /// key too long, say) must not undo the others': each validates before it changes anything,
    /// so its error is its reply alone.
    private static func run(_ operations: [Operation], replyBudget: Int, _ tx: WriteTransaction) -> [RESPValue] {
        var replies: [RESPValue] = []
        var bytes = 0
        for op in operations {
            if !replies.isEmpty && bytes > replyBudget { break }
            let reply: RESPValue
            do { reply = try op(tx) } catch { reply = Reply.store(error) }
            bytes += reply.encodedSize(.resp3)
            replies.append(reply)
        }
        return replies
    }

    /// Refuses new writes and waits until every accepted one is committed and answered.
    func stop() {
        state.withLockedValue { $0.stopped = true }
        inFlight.wait()
    }
}
