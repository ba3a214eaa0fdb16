import NIOConcurrencyHelpers
import NIOCore
import SealKV

/// Counters shown by INFO.
final class ServerStatistics: Sendable {
    struct Counts {
        var writes = 0, failedCommits = 0, commands = 0, connections = 0, rejected = 0
        var evicted = 0, closedForOutput = 0, requestTimeouts = 0, expiredSwept = 0
    }
    private let counts = NIOLockedValueBox(Counts())

    func committed(writes n: Int) { counts.withLockedValue { $0.writes += n } }
    func failedCommit() { counts.withLockedValue { $0.failedCommits += 1 } }
    func commands(_ n: Int) { counts.withLockedValue { $0.commands += n } }
    func connected() { counts.withLockedValue { $0.connections += 1 } }
    func rejected() { counts.withLockedValue { $0.rejected += 1 } }
    func evicted() { counts.withLockedValue { $0.evicted += 1 } }
    func closedForOutput() { counts.withLockedValue { $0.closedForOutput += 1 } }
    func requestTimedOut() { counts.withLockedValue { $0.requestTimeouts += 1 } }
    func swept(_ n: Int) { counts.withLockedValue { $0.expiredSwept += n } }

    var snapshot: Counts { counts.withLockedValue { $0 } }
}

/// What every connection shares: the store, the password check, the clients, WATCH, SCAN cursors,
/// counters and settings.
final class ServerState: Sendable {
    let database: Database
    let namespacePerDatabase: Bool
    let limits: RequestLimits
    let clientLimits: ClientLimits
    let idleTimeout: TimeAmount?
    let statistics: ServerStatistics
    let clients: ClientRegistry
    let watches = WatchRegistry()
    let cursors = ScanCursors()
    let started = NIODeadline.now()
    /// The store's newest commit when the server started (INFO counts commits from it).
    let openedTxnID: UInt64
    /// The configured log, unthrottled (for what the server says once, like how it opened).
    let log: @Sendable (String) -> Void
    private let clientLog: ThrottledLog
    /// Where the server listens, as INFO shows it.
    let listening = NIOLockedValueBox<[String]>([])
    /// What clients must AUTH with: a keyed digest of the password, not the password.
    private let password: ClientPassword?

    init(database: Database, configuration: ServerConfiguration) {
        self.database = database
        openedTxnID = database.currentTxnID
        namespacePerDatabase = configuration.namespacePerDatabase
        limits = configuration.limits
        clientLimits = configuration.clientLimits
        idleTimeout = configuration.idleTimeout
        log = configuration.log
        clientLog = ThrottledLog(configuration.log, linesPerSecond: 20)
        let statistics = ServerStatistics()
        self.statistics = statistics
        clients = ClientRegistry(maxClients: configuration.maxClients, maxMemory: configuration.clientLimits.maxClientMemory,
                                 evictionGrace: configuration.clientLimits.evictionGrace, statistics: statistics)
        password = configuration.password
    }

    /// Logs what the server did to a client (closed it past a limit, evicted it), at most 20
    /// lines a second: a flood of hostile clients must not become a flood of log lines.
    func logClient(_ line: String) { clientLog.write(line) }

    /// Whether clients must authenticate.
    var requiresPassword: Bool { password != nil }

    /// Whether `candidate` is the password (false when none is set).
    func checkPassword(_ candidate: [UInt8]) -> Bool {
        password?.matches(candidate) ?? false
    }

    /// The namespace database `index` maps to ("" for 0, "db3" for 3).
    static func namespace(forDatabase index: Int) -> String { index == 0 ? "" : "db\(index)" }

    /// The namespaces SELECT can reach: databases 0-15, or with `--ns-per-db` every namespace.
    func reachableNamespaces(_ tx: ReadTransaction) throws -> [String] {
        let named = try tx.namespaces()
        if namespacePerDatabase { return [""] + named }
        let databases = Set((1..<16).map { Self.namespace(forDatabase: $0) })
        return [""] + named.filter { databases.contains($0) }
    }
}

/// A log that writes at most `linesPerSecond` lines in each second and then says how many it left out.
final class ThrottledLog: Sendable {
    private struct State {
        var windowStart = NIODeadline.now()
        var written = 0
        var suppressed = 0
    }
    private let state = NIOLockedValueBox(State())
    private let sink: @Sendable (String) -> Void
    private let linesPerSecond: Int

    init(_ sink: @escaping @Sendable (String) -> Void, linesPerSecond: Int) {
        self.sink = sink
        self.linesPerSecond = linesPerSecond
    }

    func write(_ line: String) {
        let (summary, show): (String?, Bool) = state.withLockedValue { s in
            let now = NIODeadline.now()
            var summary: String? = nil
            if now - s.windowStart >= .seconds(1) {
                if s.suppressed > 0 { summary = "\(s.suppressed) more such lines left out in the last second" }
                s = State(windowStart: now)
            }
            guard s.written < linesPerSecond else {
                s.suppressed += 1
                return (summary, false)
            }
            s.written += 1
            return (summary, true)
        }
        if let summary { sink(summary) }
        if show { sink(line) }
    }
}
