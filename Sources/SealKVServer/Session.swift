import NIOConcurrencyHelpers

/// One client connection's state: its selected namespace, whether it authenticated, and a MULTI queue.
final class Session: @unchecked Sendable {
    /// The SealKV namespace SELECT chose ("" is database 0).
    var namespace = ""
    var authenticated: Bool
    /// Commands queued since MULTI (nil outside a transaction).
    var queued: [[[UInt8]]]? = nil
    /// A command queued after MULTI was refused: EXEC then aborts.
    var queueFailed = false

    init(authenticated: Bool) { self.authenticated = authenticated }
}

/// The server's SCAN cursors: each number stands for the namespace and the last key returned, so a
/// scan resumes exactly after that key whatever changed meanwhile (every key present throughout is
/// returned once), from any connection, as Redis cursors work. Numbers are random, not sequential;
/// the oldest are forgotten beyond ``limit``.
final class ScanCursors: Sendable {
    private let state = NIOLockedValueBox<(order: [UInt64], lastKeys: [UInt64: (namespace: String, key: [UInt8])])>(([], [:]))
    /// At most this many open cursors; the oldest are forgotten first (a scan resumed from a
    /// forgotten cursor gets an error).
    static let limit = 4096

    /// The position a cursor stands for; nil for cursor 0 (start) or an unknown cursor.
    func position(_ cursor: UInt64) -> (namespace: String, key: [UInt8])? {
        state.withLockedValue { $0.lastKeys[cursor] }
    }

    /// A new cursor for resuming after `key`.
    func make(namespace: String, after key: [UInt8]) -> UInt64 {
        state.withLockedValue { s in
            var id: UInt64 = 0
            while id == 0 || s.lastKeys[id] != nil { id = UInt64.random(in: 1...(1 << 53)) }
            s.lastKeys[id] = (namespace, key)
            s.order.append(id)
            while s.order.count > Self.limit {
                s.lastKeys[s.order.removeFirst()] = nil
            }
            return id
        }
    }

    /// Forgets a finished cursor.
    func drop(_ cursor: UInt64) {
        state.withLockedValue { s in
            if s.lastKeys.removeValue(forKey: cursor) != nil { s.order.removeAll { $0 == cursor } }
        }
    }
}
