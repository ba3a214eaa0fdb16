import CSodium
import NIOConcurrencyHelpers
import SealKV
import Synchronization

/// WATCH's bookkeeping: which clients watch which keys, and whether each watch still holds.
///
/// A watch breaks two ways, and EXEC checks both inside the write transaction that runs the
/// queued commands, so nothing can change a key between the check and the commands:
/// - a write to the key: every server write goes through ``Keyspace``, which reports each key it
///   changes here (FLUSHDB and FLUSHALL report whole namespaces), in the writer's order;
/// - the key's value or expiry differing from what WATCH saw: this catches a key that expired
///   meanwhile, and a write that had run but not yet committed when WATCH read its snapshot.
final class WatchRegistry: Sendable {
    /// A key in a namespace.
    struct Key: Hashable {
        var namespace: String
        var key: [UInt8]
    }
    private struct Watcher {
        /// What each watched key held at WATCH: a digest of its value and expiry (nil: absent).
        var seen: [Key: [UInt8]?] = [:]
        var broken = false
    }
    private struct State {
        var watchers: [UInt64: Watcher] = [:]
        var byKey: [Key: Set<UInt64>] = [:]
    }
    private let state = NIOLockedValueBox(State())
    /// Keys watched by anyone, so writes skip the lock when nobody watches.
    private let watchedCount = Atomic<Int>(0)
    private let digestKey: [UInt8]
    /// Most keys one client may watch at once.
    static let maxKeysPerClient = 65_536

    init() {
        var key = [UInt8](repeating: 0, count: 32)
        randombytes_buf(&key, key.count)
        digestKey = key
    }

    /// What a key holds, in 32 bytes: a keyed digest of its value and expiry (nil if absent).
    func digest(value: [UInt8]?, expiresAt: UInt64?) -> [UInt8]? {
        guard let value else { return nil }
        var input = value
        withUnsafeBytes(of: (expiresAt ?? 0).bigEndian) { input.append(contentsOf: $0) }
        input.append(expiresAt == nil ? 0 : 1)
        var out = [UInt8](repeating: 0, count: 32)
        _ = crypto_generichash(&out, out.count, input, UInt64(input.count), digestKey, digestKey.count)
        return out
    }

    /// Adds `keys` to what `client` watches, with what each held; false (adding nothing) if that
    /// would pass ``maxKeysPerClient``.
    func watch(_ client: UInt64, _ keys: [(Key, [UInt8]?)]) -> Bool {
        state.withLockedValue { s in
            var w = s.watchers[client] ?? Watcher()
            let new = Set(keys.map(\.0)).subtracting(w.seen.keys)
            guard w.seen.count + new.count <= Self.maxKeysPerClient else { return false }
            for (key, seen) in keys where w.seen[key] == nil {
                w.seen[key] = .some(seen)
                s.byKey[key, default: []].insert(client)
            }
            s.watchers[client] = w
            watchedCount.add(new.count, ordering: .relaxed)
            return true
        }
    }

    /// Keys `client` watches.
    func count(_ client: UInt64) -> Int { state.withLockedValue { $0.watchers[client]?.seen.count ?? 0 } }

    /// Forgets every watch of `client` (EXEC, DISCARD, UNWATCH, RESET, disconnect).
    func unwatch(_ client: UInt64) {
        guard watchedCount.load(ordering: .relaxed) > 0 else { return }
        state.withLockedValue { s in
            guard let w = s.watchers.removeValue(forKey: client) else { return }
            for key in w.seen.keys {
                s.byKey[key]?.remove(client)
                if s.byKey[key]?.isEmpty == true { s.byKey[key] = nil }
            }
            watchedCount.subtract(w.seen.count, ordering: .relaxed)
        }
    }

    /// A write changed `key` in `namespace`: every watch on it breaks.
    func touch(_ namespace: String, _ key: [UInt8]) {
        guard watchedCount.load(ordering: .relaxed) > 0 else { return }
        state.withLockedValue { s in
            for client in s.byKey[Key(namespace: namespace, key: key)] ?? [] { s.watchers[client]?.broken = true }
        }
    }

    /// Every key of `namespace` (nil: of every namespace) changed: FLUSHDB, FLUSHALL.
    func touchAll(in namespace: String?) {
        guard watchedCount.load(ordering: .relaxed) > 0 else { return }
        state.withLockedValue { s in
            for (key, clients) in s.byKey where namespace == nil || key.namespace == namespace {
                for client in clients { s.watchers[client]?.broken = true }
            }
        }
    }

    /// Whether every watch of `client` still holds in `tx` (true when it watches nothing).
    func holds(_ client: UInt64, in tx: ReadTransaction) throws -> Bool {
        guard let w = state.withLockedValue({ $0.watchers[client] }) else { return true }
        if w.broken { return false }
        for (key, seen) in w.seen {
            let space = try Keyspace(tx, key.namespace)
            let now = try space.entry(key.key)
            if digest(value: now?.value, expiresAt: now?.expiresAt) != seen { return false }
        }
        return true
    }
}
