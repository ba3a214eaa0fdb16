import NIOConcurrencyHelpers

/// The server's SCAN cursors: each number stands for the namespace and the last key returned, so a
/// scan resumes exactly after that key whatever changed meanwhile (every key present throughout is
/// returned once), from any connection, as Redis cursors work. Numbers are random, not sequential;
/// the oldest are forgotten beyond ``limit``.
final class ScanCursors: Sendable {
    private struct State {
        var order: [UInt64] = []
        var lastKeys: [UInt64: (namespace: String, key: [UInt8])] = [:]
    }
    private let state = NIOLockedValueBox(State())
    /// At most this many open cursors; the oldest are forgotten first (a scan resumed from a
    /// forgotten cursor gets an error).
    static let limit = 4096

    /// The position a cursor stands for; nil for an unknown cursor.
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
            if s.order.count > Self.limit {
                let forget = s.order.count - Self.limit
                for old in s.order.prefix(forget) { s.lastKeys[old] = nil }
                s.order.removeFirst(forget)
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
