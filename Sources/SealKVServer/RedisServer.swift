import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SealKV

/// Settings of `sealkv serve`.
public struct ServerConfiguration: Sendable {
    /// TCP address to listen on (nil: none, when only a Unix socket is wanted).
    public var host: String? = "127.0.0.1"
    public var port = 6380
    /// A Unix-domain socket to listen on as well (or instead).
    public var unixPath: String? = nil
    /// Clients must AUTH with this password (nil: no password).
    public var password: [UInt8]? = nil
    /// Connections beyond this many get an error and are closed.
    public var maxClients = 1000
    /// Let SELECT take namespace names, and any number.
    public var namespacePerDatabase = false
    /// Close a client that sent nothing for this long (nil: never).
    public var idleTimeout: TimeAmount? = .seconds(300)
    public var limits = RequestLimits()
    /// Event-loop threads (default: one per core).
    public var threads = System.coreCount

    /// Loopback TCP on 6380, no password, 1,000 clients, 5-minute idle timeout.
    public init() {}

    /// Whether `host` is a loopback address (the only kind served without a password).
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

/// A Redis-protocol (RESP2) server over a SealKV store.
public final class RedisServer: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let state: ServerState
    let committer: GroupCommitter
    private let configuration: ServerConfiguration
    private let listeners = NIOLockedValueBox<[any Channel]>([])
    private let connections = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])
    private let stopped = NIOLockedValueBox(false)
    private let finished = DispatchSemaphoreBox()

    /// A server for `database`; call ``start()``.
    public init(database: Database, configuration: ServerConfiguration) throws {
        if let host = configuration.host, !ServerConfiguration.isLoopback(host), configuration.password == nil {
            throw SealKVError(.invalidArgument, "refusing to listen on \(host), which is not loopback, without a password: pass --requirepass-file.")
        }
        self.configuration = configuration
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.threads))
        let listening = [configuration.host.map { "\($0):\(configuration.port)" }, configuration.unixPath].compactMap { $0 }.joined(separator: ",")
        state = ServerState(database: database, password: configuration.password,
                            namespacePerDatabase: configuration.namespacePerDatabase, listening: listening)
        committer = GroupCommitter(database: database, statistics: state.statistics)
    }

    /// Binds the listeners; returns the addresses bound (a port of 0 picks a free one).
    @discardableResult
    public func start() throws -> [String] {
        let commands = RedisCommands(server: state)
        let committer = self.committer, state = self.state, configuration = self.configuration
        let connections = self.connections
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                let id = ObjectIdentifier(channel)
                connections.withLockedValue { $0[id] = channel }
                channel.closeFuture.whenComplete { _ in _ = connections.withLockedValue { $0.removeValue(forKey: id) } }
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let idle = configuration.idleTimeout { try sync.addHandler(IdleStateHandler(readTimeout: idle)) }
                    try sync.addHandler(ByteToMessageHandler(RESPRequestDecoder(limits: configuration.limits)))
                    try sync.addHandler(ConnectionHandler(commands: commands, committer: committer, state: state,
                                                          maxClients: configuration.maxClients))
                }
            }
        var bound: [String] = []
        do {
            if let host = configuration.host {
                let channel = try bootstrap.bind(host: host, port: configuration.port).wait()
                listeners.withLockedValue { $0.append(channel) }
                bound.append("\(host):\(channel.localAddress?.port ?? configuration.port)")
            }
            if let path = configuration.unixPath {
                let channel = try bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).wait()
                listeners.withLockedValue { $0.append(channel) }
                bound.append(path)
            }
        } catch {
            try? group.syncShutdownGracefully()
            throw SealKVError(.ioError, "could not listen on \(configuration.host.map { "\($0):\(configuration.port)" } ?? configuration.unixPath ?? "?"): \(error). Choose another address or stop what uses it.")
        }
        return bound
    }

    /// Stops accepting, lets every queued write commit and be answered, closes every connection and
    /// the event loops. The caller closes the store afterwards. Safe to call more than once.
    public func shutdown() {
        let first = stopped.withLockedValue { s in
            defer { s = true }
            return !s
        }
        guard first else { return }
        for l in listeners.withLockedValue({ $0 }) { try? l.close().wait() }
        committer.stop()
        // Let the event loops write the last replies, then close the connections.
        for c in connections.withLockedValue({ Array($0.values) }) {
            try? c.eventLoop.submit { c.flush() }.wait()
            try? c.close().wait()
        }
        try? group.syncShutdownGracefully()
        finished.signal()
    }

    /// Blocks until ``shutdown()`` has finished.
    public func waitUntilShutdown() {
        finished.wait()
        finished.signal()   // let any other waiter through too
    }
}

import Dispatch

/// A semaphore usable from Sendable closures.
private final class DispatchSemaphoreBox: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    func signal() { semaphore.signal() }
    func wait() { semaphore.wait() }
}
