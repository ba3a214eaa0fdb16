import NIOConcurrencyHelpers

/// One client connection's state: its selected namespace, whether it authenticated, a MULTI queue,
/// and its SCAN cursors.
final class Session: @unchecked Sendable {
    /// The SealKV namespace SELECT chose ("" is database 0).
    var namespace = ""
    var authenticated: Bool
    /// Commands queued since MULTI (nil outside a transaction).
    var queued: [[[UInt8]]]? = nil
    /// A command queued after MULTI was refused: EXEC then aborts.
    var queueFailed = false
    let cursors = ScanCursors()

    init(authenticated: Bool) { self.authenticated = authenticated }
}

/// SCAN cursors of one connection: each number stands for the last key returned, so a scan resumes
/// exactly after it whatever changed meanwhile (every key present throughout is returned once).
final class ScanCursors: Sendable {
    private let state = NIOLockedValueBox<(next: UInt64, lastKeys: [UInt64: (namespace: String, key: [UInt8])])>((1, [:]))
    /// At most this many open cursors per connection; the oldest are forgotten first.
    static let limit = 64

    /// The position a cursor stands for; nil for cursor 0 (start) or an unknown cursor.
    func position(_ cursor: UInt64) -> (namespace: String, key: [UInt8])? {
        state.withLockedValue { $0.lastKeys[cursor] }
    }

    /// A new cursor for resuming after `key`.
    func make(namespace: String, after key: [UInt8]) -> UInt64 {
        state.withLockedValue { s in
            let id = s.next
            s.next += 1
            s.lastKeys[id] = (namespace, key)
            if s.lastKeys.count > Self.limit, let oldest = s.lastKeys.keys.min() { s.lastKeys[oldest] = nil }
            return id
        }
    }

    /// Forgets a finished cursor.
    func drop(_ cursor: UInt64) { _ = state.withLockedValue { $0.lastKeys.removeValue(forKey: cursor) } }
}
