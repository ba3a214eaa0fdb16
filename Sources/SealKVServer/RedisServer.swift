import Dispatch
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SealKV

/// A Redis-protocol server (RESP2 and RESP3) over a SealKV store.
public final class RedisServer: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let state: ServerState
    let committer: GroupCommitter
    /// The settings (the password in them is only a digest).
    private let configuration: ServerConfiguration
    /// The TCP address to bind, resolved once and checked.
    private let address: SocketAddress?
    private let listeners = NIOLockedValueBox<[any Channel]>([])
    private let connections = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])
    private let sweeper = NIOLockedValueBox<RepeatedTask?>(nil)
    private let stopped = NIOLockedValueBox(false)
    private let finished = DispatchSemaphoreBox()

    /// A server for `database`; call ``start()``.
    /// - Throws: `invalidArgument` for inconsistent limits, or a TCP address that is not loopback
    ///   (as given, or as it resolves) without a password.
    public init(database: Database, configuration: ServerConfiguration) throws {
        try configuration.validate()
        var address: SocketAddress? = nil
        if let host = configuration.host {
            if configuration.password == nil && !ServerConfiguration.isLoopback(host) {
                throw SealKVError(.invalidArgument, "refusing to listen on \(host), which is not a loopback address, without a password: pass --requirepass-file.")
            }
            do {
                address = try SocketAddress.makeAddressResolvingHost(host, port: configuration.port)
            } catch {
                throw ListenerProblems.unresolvable(host)
            }
            if configuration.password == nil, let address, !ServerConfiguration.isLoopback(address) {
                throw SealKVError(.invalidArgument, "refusing to listen on \(host), which resolves to \(address.ipAddress ?? "?"), not a loopback address, without a password: pass --requirepass-file.")
            }
        }
        self.address = address
        self.configuration = configuration
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.threads))
        state = ServerState(database: database, configuration: configuration)
        committer = GroupCommitter(database: database, statistics: state.statistics)
    }

    /// Binds the listeners; returns the addresses bound (a port of 0 picks a free one).
    /// - Throws: `invalidArgument` with a message naming `--listen` or `--unix` when an address
    ///   cannot be listened on (in use, not this machine's, a socket path too long or in a missing
    ///   folder, a file that is not a socket, another server on that socket).
    @discardableResult
    public func start() throws -> [String] {
        reportRecovery()
        let bootstrap = makeBootstrap()
        var bound: [String] = []
        do {
            if let address, let host = configuration.host {
                let channel: any Channel
                do {
                    channel = try bootstrap.bind(to: address).wait()
                } catch {
                    throw ListenerProblems.tcpBindFailure(error, host: host, port: configuration.port)
                }
                listeners.withLockedValue { $0.append(channel) }
                bound.append(ListenerProblems.endpoint(host, channel.localAddress?.port ?? configuration.port))
            }
            if let path = configuration.unixPath {
                try ListenerProblems.checkUnixPath(path)
                let channel: any Channel
                do {
                    channel = try bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).wait()
                } catch {
                    throw ListenerProblems.unixBindFailure(error, path: path)
                }
                listeners.withLockedValue { $0.append(channel) }
                bound.append(path)
            }
        } catch {
            for l in listeners.withLockedValue({ $0 }) { try? l.close().wait() }
            try? group.syncShutdownGracefully()
            throw error
        }
        state.listening.withLockedValue { $0 = bound }
        startSweeping()
        return bound
    }

    private func makeBootstrap() -> ServerBootstrap {
        let (committer, state, connections) = (self.committer, self.state, self.connections)
        return ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                let id = ObjectIdentifier(channel)
                connections.withLockedValue { $0[id] = channel }
                channel.closeFuture.whenComplete { _ in _ = connections.withLockedValue { $0.removeValue(forKey: id) } }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ConnectionHandler(server: state, committer: committer))
                }
            }
    }

    /// Logs how the store was opened when recovery refused its newest commit.
    private func reportRecovery() {
        guard configuration.logsRecoveryFallback, let warning = state.database.recovery.warning else { return }
        state.log("warning: \(warning)")
    }

    /// Deletes expired keys in the background, at most 10,000 per second.
    private func startSweeping() {
        let (committer, statistics, loop) = (self.committer, state.statistics, group.next())
        let task = loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            committer.submit({ tx in .integer(Int64(try tx.sweepExpired(limit: 10_000))) }, on: loop).whenSuccess { reply in
                if case .integer(let n) = reply, n > 0 { statistics.swept(Int(n)) }
            }
        }
        sweeper.withLockedValue { $0 = task }
    }

    /// Stops accepting, lets every queued write commit and be answered, closes every connection and
    /// the event loops. The caller closes the store afterwards. Safe to call more than once.
    public func shutdown() {
        let first = stopped.withLockedValue { s in
            defer { s = true }
            return !s
        }
        guard first else { return }
        sweeper.withLockedValue { $0?.cancel() }
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

/// A semaphore usable from Sendable closures.
private final class DispatchSemaphoreBox: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    func signal() { semaphore.signal() }
    func wait() { semaphore.wait() }
}
