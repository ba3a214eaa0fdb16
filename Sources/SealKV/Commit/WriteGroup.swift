import Dispatch

/// Write transactions of several callers that share one commit (group commit). Callers still run
/// one at a time, each in the same write transaction after a savepoint, so each sees the ones
/// before it and a caller whose closure throws loses only its own changes. The group commits once
/// (one fsync) when no further caller is waiting; every member returns once that commit is durable,
/// and a failed commit fails every member.
final class WriteGroup: @unchecked Sendable {
    /// The transaction the members share.
    let transaction: WriteTransaction
    /// Callers whose changes are in the transaction.
    var members = 0
    private let finished = DispatchGroup()
    /// Set before `finished` is left, read after it was waited for.
    private var failure: SealKVError?

    init(_ transaction: WriteTransaction) {
        self.transaction = transaction
        finished.enter()
    }

    /// Records how the group's commit ended and wakes every member waiting for it.
    func finish(_ error: SealKVError?) {
        failure = error
        transaction.finish()
        transaction.space.releaseBuffers()
        finished.leave()
    }

    /// Waits until the group's commit is durable; throws if it failed.
    func waitUntilCommitted() throws(SealKVError) {
        finished.wait()
        if let failure { throw failure }
    }
}

extension WriterState {
    /// Most callers in one group, and most dirty pages before a group commits whoever waits: a
    /// group's callers wait for its commit, so it must not grow without bound.
    static let groupMembersLimit = 64
}
