import Dispatch
import NIOConcurrencyHelpers
import NIOCore
import SealKV

/// Runs the writes of every client through one writer: whatever arrived while the previous commit
/// was being made durable goes into the next transaction together, so many clients share one fsync
/// and throughput grows with the number of clients. Each client is answered only after the commit
/// holding its write is durable.
final class GroupCommitter: Sendable {
    typealias Operation = @Sendable (WriteTransaction) throws -> RESPValue
    private struct Pending {
        var operation: Operation
        var promise: EventLoopPromise<RESPValue>
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
    /// Most operations in one transaction.
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
        let promise = eventLoop.makePromise(of: RESPValue.self)
        enum Admission { case refused, queued, startDraining }
        let admission: Admission = state.withLockedValue { s in
            if s.stopped { return .refused }
            s.pending.append(Pending(operation: operation, promise: promise))
            s.accepted += 1
            if s.running { return .queued }
            s.running = true
            return .startDraining
        }
        switch admission {
        case .refused:
            promise.succeed(.err("the server is shutting down; the write was not made"))
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
                let n = min(s.pending.count, maxBatch)
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
        var replies: [RESPValue] = []
        replies.reserveCapacity(batch.count)
        do {
            try database.write { tx in
                replies.removeAll(keepingCapacity: true)
                for p in batch {
                    // One client's failing command (a key too long, say) must not undo the others':
                    // each validates before it changes anything, so its error is its reply alone.
                    do { replies.append(try p.operation(tx)) } catch { replies.append(Reply.store(error)) }
                }
            }
            statistics.committed(writes: batch.count)
            for (p, r) in zip(batch, replies) { p.promise.succeed(r) }
        } catch {
            // The commit itself failed (an I/O error poisons the store): nothing of it is promised.
            let reply = RESPValue.err("the write was not committed: \(Reply.message(error))")
            statistics.failedCommit()
            for p in batch { p.promise.succeed(reply) }
        }
    }

    /// Refuses new writes and waits until every queued one is committed and answered.
    func stop() {
        state.withLockedValue { $0.stopped = true }
        drained.wait()
    }
}
