/// Read transactions that ended with nothing referring to them, kept to be reopened by the next
/// readers: allocating a transaction and its page space and releasing both with their fields was
/// about a fifth of a hot get's instructions.
///
/// It lives in the handle's shared state and is touched only under that lock, which also orders a
/// transaction's hand-over from the thread that ended it to the one that reopens it (hence
/// `@unchecked Sendable`: transactions themselves are not). A transaction someone still refers to
/// (an escaped handle, cursor or sequence) is never put here, so reuse cannot revive it.
struct IdleReaders: @unchecked Sendable {
    private var idle: [ReadTransaction] = []
    /// At most this many are kept (about the number of threads that read at once).
    static let limit = 16

    /// An idle transaction whose page space reads under `epochs`, or nil. After a key rotation
    /// the kept ones read under old epochs and are dropped.
    mutating func take(epochs: KeyEpochRule) -> ReadTransaction? {
        guard let last = idle.last else { return nil }
        guard last.pages.epochs == epochs else {
            idle.removeAll()
            return nil
        }
        return idle.removeLast()
    }

    /// Keeps `transaction` (ended, its buffers given back, referred to by nothing else).
    mutating func put(_ transaction: ReadTransaction) {
        if idle.count < Self.limit { idle.append(transaction) }
    }

    /// Drops every kept transaction (when the handle closes).
    mutating func removeAll() { idle.removeAll() }

    /// How many are kept now.
    var count: Int { idle.count }
}
