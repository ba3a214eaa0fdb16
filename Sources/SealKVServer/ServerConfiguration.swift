import NIOCore
import NIOPosix
import SealKV
#if canImport(Glibc)
import Glibc
#endif

/// Settings of `sealkv serve`.
public struct ServerConfiguration: Sendable {
    /// TCP address to listen on (nil: none, when only a Unix socket is wanted).
    public var host: String? = "127.0.0.1"
    /// TCP port (0 picks a free one).
    public var port = 6380
    /// A Unix-domain socket to listen on as well (or instead).
    public var unixPath: String? = nil
    /// Clients must authenticate with this password (nil: no password). Only its keyed digest
    /// exists here, so the caller can wipe its own copy as soon as it is set.
    public var password: ClientPassword? = nil
    /// Most clients connected at once. A client connecting beyond it takes the place of one that
    /// has not sent a complete request (or not authenticated) for the longest time, if any has
    /// waited at least ``ClientLimits/evictionGrace``; otherwise it gets an error and is closed.
    public var maxClients = 1000
    /// Let SELECT take namespace names, and any number.
    public var namespacePerDatabase = false
    /// Close a client that sent and received nothing for this long (nil: never).
    public var idleTimeout: TimeAmount? = .seconds(300)
    /// Bounds on each request.
    public var limits = RequestLimits()
    /// Bounds on what the server buffers and waits for per client and for all clients.
    public var clientLimits = ClientLimits()
    /// Event-loop threads (default: one per core).
    public var threads = System.coreCount
    /// Log a warning at ``RedisServer/start()`` when recovery refused the store's newest commit and
    /// opened the one before it. The `sealkv` tool turns it off: it has warned already, while
    /// opening the store, in the words of its own flags.
    public var logsRecoveryFallback = true
    /// Where the server reports what it did to a client on its own (closed it past a limit,
    /// evicted it) and how the store was opened. Default: standard error.
    public var log: @Sendable (String) -> Void = ServerConfiguration.standardErrorLog

    /// Loopback TCP on 6380, no password, 1,000 clients, 5-minute idle timeout.
    public init() {}

    /// Writes `line` to standard error after `sealkv serve: `.
    public static let standardErrorLog: @Sendable (String) -> Void = { line in
        let bytes = Array("sealkv serve: \(line)\n".utf8)
        _ = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    /// Whether `host` names a loopback address, the only kind served without a password: an
    /// IPv4 address in 127.0.0.0/8, `::1` (or an IPv4-mapped loopback address), or `localhost`.
    /// Other names are not trusted to resolve to loopback ("127.evil.com" is a DNS name).
    public static func isLoopback(_ host: String) -> Bool {
        let name = host.lowercased()
        if name == "localhost" || name == "localhost." { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            let bytes = withUnsafeBytes(of: &v6) { Array($0) }
            if bytes == [UInt8](repeating: 0, count: 15) + [1] { return true }
            return bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF && bytes[12] == 127
        }
        return false
    }

    /// Whether a resolved address is a loopback one.
    static func isLoopback(_ address: SocketAddress) -> Bool {
        switch address {
        case .v4, .v6: return address.ipAddress.map(isLoopback) ?? false
        case .unixDomainSocket: return true
        }
    }

    /// Checks every bound for consistency; the message names the `sealkv serve` option.
    public func validate() throws(SealKVError) {
        func require(_ ok: Bool, _ message: String) throws(SealKVError) {
            if !ok { throw SealKVError(.invalidArgument, message) }
        }
        let c = clientLimits
        let bulk = limits.maxBulkLength, request = limits.maxRequestBytes
        try require(maxClients >= 1, "--max-clients must be at least 1; it is \(maxClients).")
        try require(bulk >= 1024, "--max-bulk must be at least 1024 bytes (1k); it is \(bulk) bytes.")
        try require(request >= bulk, "--max-request must be at least --max-bulk (\(bulk) bytes); it is \(request) bytes.")
        try require(c.outputPauseBytes >= 4096, "--client-output-pause must be at least 4096 bytes (4k); it is \(c.outputPauseBytes) bytes.")
        try require(c.outputLimitBytes > c.outputPauseBytes,
                    "--client-output-limit must be larger than --client-output-pause (\(c.outputPauseBytes) bytes); it is \(c.outputLimitBytes) bytes.")
        try require(c.maxClientMemory >= c.outputLimitBytes + request,
                    "--max-client-memory must be at least --client-output-limit plus --max-request (\(c.outputLimitBytes + request) bytes), so one client's largest request and reply fit; it is \(c.maxClientMemory) bytes.")
        for (name, t) in [("--request-timeout", c.requestTimeout), ("--client-output-timeout", c.outputTimeout)] {
            try require(t.nanoseconds > 0, "\(name) must be positive; it is \(t.nanoseconds) ns.")
        }
    }
}

/// What the server buffers and waits for, per client and for all clients together: the bounds
/// that keep a client that does not read, sends slowly, or floods from costing memory or slots.
public struct ClientLimits: Sendable {
    /// Stop running a client's commands (and reading beyond ``readAhead``) while this many bytes of
    /// its replies are unsent; resume when half of them are gone (`--client-output-pause`).
    public var outputPauseBytes = 1 << 20
    /// Close a client whose unsent replies would exceed this; a single reply larger than this is
    /// refused with an error instead (`--client-output-limit`).
    public var outputLimitBytes = 64 << 20
    /// Close a client whose replies have waited above the pause bound, unread, this long
    /// (`--client-output-timeout`).
    public var outputTimeout: TimeAmount = .seconds(60)
    /// A request must arrive complete this long after its first byte (`--request-timeout`).
    public var requestTimeout: TimeAmount = .seconds(30)
    /// The input and output buffered for all clients together; past it, the client holding the
    /// most is closed (`--max-client-memory`).
    public var maxClientMemory = 256 << 20
    /// Bytes of requests read ahead of the command being run (pipelining).
    public var readAhead = 1 << 20
    /// How long a client must have waited without a complete request before a new client may
    /// take its place at ``ServerConfiguration/maxClients``.
    public var evictionGrace: TimeAmount = .milliseconds(250)

    /// The defaults: pause at 1 MiB unsent, close past 64 MiB or after 60 s unread, 30 s per
    /// request, 256 MiB for all clients.
    public init() {}
}
