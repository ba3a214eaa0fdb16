import Dispatch
import NIOConcurrencyHelpers
import NIOCore
import SealKV

/// Runs the writes of every client through one writer: whatever arrived while the previous commit
/// was being made durable goes into the next transaction together, so many clients (and the
/// pipelined writes of one client) share one fsync. Each client is answered only after the
/// commit holding its write is durable.
final class GroupCommitter: Sendable {
    typealias Operation = @Sendable (WriteTransaction) throws -> RESPValue
    /// One client's consecutive writes, answered together.
    private struct Pending {
        var operations: [Operation]
        /// Once the replies of the operations run so far pass this many bytes, the rest are left
        /// unrun (their client submits them again when it has room for more replies).
        var replyBudget: Int
        var promise: EventLoopPromise<[RESPValue]>
    }
    private struct State {
        var pending: [Pending] = []
        var running = false
        var stopped = false
        var accepted = 0
    }

    private let database: Database
    private let state = NIOLockedValueBox(State())
    private let queue = DispatchQueue(label: "sealkv.serve.commit")
    private let drained = DispatchGroup()
    /// Most operations in one transaction (a client's run of writes is never split).
    let maxBatch: Int
    let statistics: ServerStatistics

    init(database: Database, statistics: ServerStatistics, maxBatch: Int = 4096) {
        self.database = database
        self.statistics = statistics
        self.maxBatch = maxBatch
    }

    /// Writes accepted since the server started (committed, being committed or queued).
    var acceptedCount: Int { state.withLockedValue { $0.accepted } }

    /// Queues a write; the future completes with its reply once its commit is durable.
    func submit(_ operation: @escaping Operation, on eventLoop: any EventLoop) -> EventLoopFuture<RESPValue> {
        submit([operation], replyBudget: .max, on: eventLoop).map { $0[0] }
    }

    /// Queues writes that run in order in one transaction; the future completes with their replies
    /// once that commit is durable. The first always runs; the others run while the replies so far
    /// total at most `replyBudget` bytes, so the future may hold fewer replies than operations:
    /// those missing did not run.
    func submit(_ operations: [Operation], replyBudget: Int, on eventLoop: any EventLoop) -> EventLoopFuture<[RESPValue]> {
        let promise = eventLoop.makePromise(of: [RESPValue].self)
        enum Admission { case refused, queued, startDraining }
        let admission: Admission = state.withLockedValue { s in
            if s.stopped { return .refused }
            s.pending.append(Pending(operations: operations, replyBudget: replyBudget, promise: promise))
            s.accepted += operations.count
            if s.running { return .queued }
            s.running = true
            return .startDraining
        }
        switch admission {
        case .refused:
            promise.succeed(Array(repeating: .err("the server is shutting down; the write was not made"), count: operations.count))
        case .queued:
            break
        case .startDraining:
            drained.enter()
            queue.async { self.drain() }
        }
        return promise.futureResult
    }

    /// Commits batches until nothing is pending.
    private func drain() {
        while true {
            let batch: [Pending] = state.withLockedValue { s in
                var n = 0, operations = 0
                while n < s.pending.count && (n == 0 || operations + s.pending[n].operations.count <= maxBatch) {
                    operations += s.pending[n].operations.count
                    n += 1
                }
                let batch = Array(s.pending.prefix(n))
                s.pending.removeFirst(n)
                if batch.isEmpty { s.running = false }
                return batch
            }
            if batch.isEmpty { break }
            commit(batch)
        }
        drained.leave()
    }

    private func commit(_ batch: [Pending]) {
        var replies: [[RESPValue]] = []
        replies.reserveCapacity(batch.count)
        do {
            try database.write { tx in
                replies.removeAll(keepingCapacity: true)
                for p in batch { replies.append(Self.run(p, tx)) }
            }
            statistics.committed(writes: replies.reduce(0) { $0 + $1.count })
            for (p, r) in zip(batch, replies) { p.promise.succeed(r) }
        } catch {
            // The commit itself failed (an I/O error poisons the store): nothing of it is promised.
            let reply = RESPValue.err("the write was not committed: \(Reply.message(error))")
            statistics.failedCommit()
            for p in batch { p.promise.succeed(Array(repeating: reply, count: p.operations.count)) }
        }
    }

    /// Runs one client's operations in order within its reply budget. One command's failure (a
    /// key too long, say) must not undo the others': each validates before it changes anything,
    /// so its error is its reply alone.
    private static func run(_ p: Pending, _ tx: WriteTransaction) -> [RESPValue] {
        var replies: [RESPValue] = []
        var bytes = 0
        for op in p.operations {
            if !replies.isEmpty && bytes > p.replyBudget { break }
            let reply: RESPValue
            do { reply = try op(tx) } catch { reply = Reply.store(error) }
            bytes += reply.encodedSize(.resp3)
            replies.append(reply)
        }
        return replies
    }

    /// Refuses new writes and waits until every queued one is committed and answered.
    func stop() {
        state.withLockedValue { $0.stopped = true }
        drained.wait()
    }
}
