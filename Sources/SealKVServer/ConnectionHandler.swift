import NIOCore
import SealKV

/// One client: runs its commands strictly in order (a pipelined GET sees the SET before it), reads
/// in a snapshot right away, writes through the group committer, and stops reading from a client
/// that has more than `maxQueued` commands waiting.
final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = [[UInt8]]
    typealias OutboundOut = ByteBuffer

    private let commands: RedisCommands
    private let committer: GroupCommitter
    private let state: ServerState
    private let session: Session
    private let maxClients: Int
    private var queue = CircularBuffer<[[UInt8]]>()
    private var waitingForCommit = false
    private var closing = false
    private var counted = false
    static let maxQueued = 1024

    init(commands: RedisCommands, committer: GroupCommitter, state: ServerState, maxClients: Int) {
        self.commands = commands
        self.committer = committer
        self.state = state
        self.maxClients = maxClients
        session = Session(authenticated: state.password == nil)
    }

    func channelActive(context: ChannelHandlerContext) {
        let admitted = state.clients.withLockedValue { n in
            guard n < maxClients else { return false }
            n += 1
            return true
        }
        state.statistics.connected()
        guard admitted else {
            state.statistics.rejected()
            send(.err("max number of clients reached"), context: context, flush: true)
            context.close(promise: nil)
            return
        }
        counted = true
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if counted { state.clients.withLockedValue { $0 -= 1 } }
        counted = false
        closing = true
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        queue.append(unwrapInboundIn(data))
        if queue.count >= Self.maxQueued { context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in } }
        process(context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    /// Runs queued commands until one waits for a commit or the queue is empty.
    private func process(context: ChannelHandlerContext) {
        while !waitingForCommit, !closing, let args = queue.popFirst() {
            state.statistics.command()
            switch commands.plan(args, session) {
            case .reply(let reply):
                send(reply, context: context)
            case .close(let reply):
                closing = true
                send(reply, context: context, flush: true)
                context.close(promise: nil)
                return
            case .read(let op):
                let reply: RESPValue
                do { reply = try state.database.read { try op($0) } } catch { reply = Reply.store(error) }
                send(reply, context: context)
            case .write(let op):
                waitingForCommit = true
                context.flush()
                committer.submit(op, on: context.eventLoop).assumeIsolated().whenComplete { result in
                    self.waitingForCommit = false
                    switch result {
                    case .success(let reply): self.send(reply, context: context)
                    case .failure(let error): self.send(Reply.store(error), context: context)
                    }
                    self.process(context: context)
                    context.flush()
                }
            }
        }
        if queue.count < Self.maxQueued / 2, !closing {
            context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
        }
    }

    private func send(_ reply: RESPValue, context: ChannelHandlerContext, flush: Bool = false) {
        guard context.channel.isActive else { return }
        var buffer = context.channel.allocator.buffer(capacity: 64)
        reply.write(to: &buffer)
        if flush { context.writeAndFlush(wrapOutboundOut(buffer), promise: nil) } else { context.write(wrapOutboundOut(buffer), promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let e = error as? RESPProtocolError, !closing {
            closing = true
            send(.err("Protocol error: \(e.message)"), context: context, flush: true)
        }
        closing = true
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            closing = true
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
