import NIOConcurrencyHelpers
import NIOCore

/// What CLIENT LIST and the eviction policy read about one client; its connection publishes it
/// after each batch of commands.
struct ClientDetails {
    var name: [UInt8] = []
    var libraryName: [UInt8] = []
    var libraryVersion: [UInt8] = []
    /// The SELECTed database as CLIENT LIST shows it.
    var database = "0"
    var lastCommand = "NULL"
    var lastInteraction: NIODeadline
    var protocolVersion = RESPVersion.resp2
    /// Commands queued since MULTI, or -1 outside a transaction.
    var queuedCommands = -1
    var watchedKeys = 0
    var inputBytes = 0
    var outputBytes = 0
    var pausedForOutput = false
    /// Since when the client has kept a slot without doing anything for it: connected and not yet
    /// sent a complete request, not authenticated where a password is required, or in the middle
    /// of a request. Nil while it is being served or is idle between requests.
    var unproductiveSince: NIODeadline?
}

/// One connected client as the rest of the server sees it.
final class ClientRecord: Sendable {
    /// CLIENT ID: unique for the server's life.
    let id: UInt64
    /// The peer's address, `ip:port` (or the socket path's client side).
    let address: String
    /// The address it connected to.
    let localAddress: String
    let connectedAt: NIODeadline
    /// Closes the connection on its own event loop, logging why; callable from any thread.
    let evict: @Sendable (String) -> Void
    /// What its connection last published.
    let details: NIOLockedValueBox<ClientDetails>

    init(id: UInt64, address: String, localAddress: String, evict: @escaping @Sendable (String) -> Void) {
        self.id = id
        self.address = address
        self.localAddress = localAddress
        self.evict = evict
        connectedAt = .now()
        details = NIOLockedValueBox(ClientDetails(lastInteraction: connectedAt, unproductiveSince: connectedAt))
    }
}

/// Every connected client: admission under `--max-clients`, and the memory all of them hold
/// together under `--max-client-memory`. Past either bound it picks the client to close, as
/// Redis's `maxclients` and `maxmemory-clients` do, and says why.
final class ClientRegistry: Sendable {
    private struct Entry {
        var record: ClientRecord
        var bytes = 0
    }
    private struct State {
        var clients: [UInt64: Entry] = [:]
        var totalBytes = 0
        var nextID: UInt64 = 1
    }
    private let state = NIOLockedValueBox(State())
    let maxClients: Int
    let maxMemory: Int
    let evictionGrace: TimeAmount
    let statistics: ServerStatistics

    init(maxClients: Int, maxMemory: Int, evictionGrace: TimeAmount, statistics: ServerStatistics) {
        self.maxClients = maxClients
        self.maxMemory = maxMemory
        self.evictionGrace = evictionGrace
        self.statistics = statistics
    }

    /// A new client id.
    func makeID() -> UInt64 {
        state.withLockedValue { s in
            defer { s.nextID += 1 }
            return s.nextID
        }
    }

    /// Whether the client may stay. At the limit, the client that has been unproductive longest
    /// (and at least the grace period) is closed to make room; with none, the newcomer is refused.
    func admit(_ record: ClientRecord) -> Bool {
        let (admitted, victim): (Bool, ClientRecord?) = state.withLockedValue { s in
            var victim: ClientRecord? = nil
            if s.clients.count >= maxClients {
                guard let v = Self.longestUnproductive(s.clients.values.map(\.record), grace: evictionGrace) else { return (false, nil) }
                s.totalBytes -= s.clients[v.id]?.bytes ?? 0
                s.clients[v.id] = nil
                victim = v
            }
            s.clients[record.id] = Entry(record: record)
            return (true, victim)
        }
        if let victim {
            statistics.evicted()
            victim.evict("closed to admit a new client at --max-clients \(maxClients): it had not completed a request (or authenticated) for \(Self.seconds(NIODeadline.now() - (victim.details.withLockedValue { $0.unproductiveSince } ?? victim.connectedAt)))")
        }
        return admitted
    }

    private static func longestUnproductive(_ records: [ClientRecord], grace: TimeAmount) -> ClientRecord? {
        let cutoff = NIODeadline.now() - grace
        var best: (ClientRecord, NIODeadline)? = nil
        for r in records {
            guard let since = r.details.withLockedValue({ $0.unproductiveSince }), since <= cutoff else { continue }
            if best == nil || since < best!.1 { best = (r, since) }
        }
        return best?.0
    }

    /// Forgets a client that closed.
    func remove(_ record: ClientRecord) {
        state.withLockedValue { s in
            if let e = s.clients.removeValue(forKey: record.id) { s.totalBytes -= e.bytes }
        }
    }

    /// Records that the client now holds `bytes` of buffered input and output. Past the memory
    /// bound, the client holding the most is closed (it may be this one).
    func setBufferedBytes(_ record: ClientRecord, _ bytes: Int) {
        let victim: (ClientRecord, Int, Int)? = state.withLockedValue { s in
            guard let old = s.clients[record.id]?.bytes else { return nil }
            s.clients[record.id]!.bytes = bytes
            s.totalBytes += bytes - old
            guard s.totalBytes > maxMemory, let (id, e) = s.clients.max(by: { $0.value.bytes < $1.value.bytes }) else { return nil }
            let total = s.totalBytes
            s.totalBytes -= e.bytes
            s.clients[id] = nil
            return (e.record, e.bytes, total)
        }
        if let (v, held, total) = victim {
            statistics.evicted()
            v.evict("closed: all clients together buffered \(total) bytes, over --max-client-memory \(maxMemory), and this client held the most (\(held) bytes)")
        }
    }

    /// Bytes buffered for all clients together.
    var bufferedBytes: Int { state.withLockedValue { $0.totalBytes } }

    /// Connected clients.
    var count: Int { state.withLockedValue { $0.clients.count } }

    /// Every connected client, oldest first.
    func all() -> [ClientRecord] {
        state.withLockedValue { s in s.clients.values.map(\.record) }.sorted { $0.id < $1.id }
    }

    static func seconds(_ t: TimeAmount) -> String {
        let ms = t.nanoseconds / 1_000_000
        return ms < 10_000 ? "\(Double(ms) / 1000) s" : "\(ms / 1000) s"
    }
}
