import NIOCore
import SealKV

/// One client's connection. It reads requests as they arrive, runs them strictly in order (a
/// pipelined GET sees the SET before it: reads in a snapshot right away, writes through the group
/// committer), and writes the replies, within bounds that no client can push past:
///
/// - **Output.** While more than `outputPauseBytes` of its replies are unsent, it runs none of the
///   client's commands (and reads at most `readAhead` bytes of requests meanwhile). A reply that
///   would take the unsent bytes past `outputLimitBytes` closes the connection; one larger than
///   that limit on its own is refused with an error. Replies left unread above the pause bound
///   for `outputTimeout` close the connection. Each close is logged with its reason.
/// - **Input.** A request must arrive complete within `requestTimeout` of its first byte; the
///   parser holds at most one request, bounded by `--max-bulk` and `--max-request`.
/// - **Everyone.** What every client buffers counts towards `--max-client-memory`, and a client
///   that keeps a slot without completing a request can be evicted at `--max-clients`
///   (``ClientRegistry``).
/// - **Fairness.** A turn runs at most ``commandsPerTurn`` commands before letting the event loop
///   serve other connections.
final class ConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Commands one turn runs before yielding the event loop.
    static let commandsPerTurn = 64
    /// Most pipelined writes of one client submitted to one commit.
    static let writesPerCommit = 256

    /// Why the last turn stopped.
    private enum Stop { case needData, commit, output, turn }

    private let server: ServerState
    private let committer: GroupCommitter
    private var context: ChannelHandlerContext?
    private var session: Session?
    private var input = ByteBuffer()
    private var parser = RequestParser()
    private var stop = Stop.needData
    private var waitingForCommit = false
    private var closing = false
    private var admitted = false
    /// Reply bytes written to the channel and not yet on the socket.
    private var unsent = 0
    private var needsFlush = false
    private var pausedSince: NIODeadline?
    /// When the request being waited for began (its first byte, or when waiting for it began).
    private var requestStartedAt: NIODeadline?
    private var lastActivity = NIODeadline.now()
    /// Whether a command has completed while authenticated: until then the client is unproductive.
    private var productive = false
    private var readHeldBack = false
    /// A planned request waiting for the writes submitted before it.
    private var deferred: Next?
    /// Pipelined writes the committer left unrun, submitted again once their replies fit.
    private var unrunWrites: [GroupCommitter.Operation] = []
    private var turnScheduled = false

    init(server: ServerState, committer: GroupCommitter) {
        self.server = server
        self.committer = committer
    }

    private var limits: ClientLimits { server.clientLimits }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        // The record reaches this handler through the pipeline, not by holding it: no cycle.
        let record = ClientRecord(id: server.clients.makeID(), address: Self.describe(channel.remoteAddress),
                                  localAddress: Self.describe(channel.localAddress)) { reason in
            channel.pipeline.fireUserInboundEventTriggered(Eviction(reason: reason))
        }
        session = Session(record: record, authenticated: !server.requiresPassword)
        server.statistics.connected()
        guard server.clients.admit(record) else {
            server.statistics.rejected()
            closing = true
            var buffer = channel.allocator.buffer(capacity: 64)
            RESPValue.err("max number of clients reached").write(to: &buffer)
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
            context.close(promise: nil)
            return
        }
        admitted = true
        scheduleWatchdog()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        if admitted, let session {
            server.clients.remove(session.record)
            server.watches.unwatch(session.id)
        }
        admitted = false
        input = ByteBuffer()
        parser = RequestParser()
        context.fireChannelInactive()
    }

    /// Another thread decided to close this client (``ClientRegistry``).
    struct Eviction: Sendable {
        let reason: String
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let eviction = event as? Eviction {
            close(because: eviction.reason, reply: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // An I/O error on the socket (a reset by the peer, say): nothing more can be said to it.
        closing = true
        context.close(promise: nil)
    }

    // MARK: Reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        var incoming = unwrapInboundIn(data)
        lastActivity = .now()
        if input.readableBytes == 0 { input = incoming } else { input.writeBuffer(&incoming) }
        process()
    }

    /// Holds back the pipeline's next read while the client has sent more than it may buffer.
    func read(context: ChannelHandlerContext) {
        if wantsInput { context.read() } else { readHeldBack = true }
    }

    private var wantsInput: Bool {
        guard !closing else { return false }
        if stop == .needData && !waitingForCommit { return true }   // the parser bounds the request
        return input.readableBytes + parser.heldBytes < limits.readAhead
    }

    private func resumeReadingIfWanted() {
        guard readHeldBack, wantsInput, let context else { return }
        readHeldBack = false
        context.read()
    }

    // MARK: Running commands

    /// The next thing to do for the client.
    private enum Next {
        case plan(CommandPlan)
        case protocolError(String)
    }

    /// Runs complete requests until one waits for a commit, the output is over its pause bound,
    /// the turn is used up, or the next request is incomplete.
    private func process() {
        guard let session, context != nil, !closing else { return }
        if waitingForCommit {
            finishTurn()
            return
        }
        var ran = 0
        while true {
            if unsent >= limits.outputPauseBytes {
                stop = .output
                if pausedSince == nil { pausedSince = .now() }
                break
            }
            if ran >= Self.commandsPerTurn {
                stop = .turn
                scheduleTurn()
                break
            }
            if !unrunWrites.isEmpty {
                submitWrites(unrunWrites, session)
            } else {
                guard let next = deferred ?? nextRequest(session) else {
                    stop = .needData
                    break
                }
                deferred = nil
                ran += 1
                run(next, session)
            }
            if closing { return }
            if waitingForCommit {
                stop = .commit
                break
            }
        }
        server.statistics.commands(ran)
        finishTurn()
    }

    /// The next request, consumed from the input and planned; nil while it is incomplete.
    private func nextRequest(_ session: Session) -> Next? {
        let step: RequestParser.Step
        do {
            step = try parser.next(&input, session.authenticated ? server.limits : server.limits.unauthenticated)
        } catch {
            return .protocolError(error.message)
        }
        switch step {
        case .needMoreData: return nil
        case .refused(let message):
            requestStartedAt = nil
            return .plan(.reply(.err(message)))
        case .command(let args):
            requestStartedAt = nil
            return .plan(CommandDispatcher.plan(args, session, server))
        }
    }

    private func run(_ next: Next, _ session: Session) {
        switch next {
        case .protocolError(let message):
            close(because: nil, reply: .err("Protocol error: \(message)"))
        case .plan(.reply(let reply)):
            send(reply)
        case .plan(.close(let reply)):
            send(reply)
            close(because: nil, reply: nil)
        case .plan(.read(let op)):
            let reply: RESPValue
            do { reply = try server.database.read { try op($0) } } catch { reply = Reply.store(error) }
            send(reply)
        case .plan(.write(let op)):
            submitWrites([op], session)
        }
        if !waitingForCommit { productive = productive || session.authenticated }
    }

    /// Submits `writes` together with the writes pipelined right behind them, so they share one
    /// commit; the first request after them that is not a write waits in `deferred`, and writes
    /// the committer left unrun (their replies would not fit the pause bound) in `unrunWrites`.
    private func submitWrites(_ writes: [GroupCommitter.Operation], _ session: Session) {
        var ops = writes
        while ops.count < Self.writesPerCommit, deferred == nil, let next = nextRequest(session) {
            if case .plan(.write(let op)) = next { ops.append(op) } else { deferred = next }
        }
        server.statistics.commands(ops.count - writes.count)
        unrunWrites = []
        guard let eventLoop = context?.eventLoop else { return }
        waitingForCommit = true
        flushIfNeeded()
        let budget = max(0, limits.outputPauseBytes - unsent)
        committer.submit(ops, replyBudget: budget, on: eventLoop).assumeIsolated().whenComplete { result in
            self.waitingForCommit = false
            let replies: [RESPValue]
            switch result {
            case .success(let r): replies = r
            case .failure(let error): replies = ops.map { _ in Reply.store(error) }
            }
            for reply in replies { self.send(reply) }
            self.unrunWrites = Array(ops.dropFirst(replies.count))
            self.productive = self.productive || session.authenticated
            self.process()
        }
    }

    /// After a turn: start the request clock if a request is arriving, give back idle buffer
    /// space, publish the client's figures, flush, and read on if allowed.
    private func finishTurn() {
        if stop == .needData && (input.readableBytes > 0 || parser.inRequest) {
            if requestStartedAt == nil { requestStartedAt = .now() }
        }
        if stop != .output { pausedSince = nil }
        if input.readableBytes == 0 {
            if input.capacity > 64 << 10 { input = ByteBuffer() } else { input.clear() }
        } else if input.readerIndex > input.capacity / 2 {
            input.discardReadBytes()
        }
        publish()
        flushIfNeeded()
        resumeReadingIfWanted()
    }

    private func scheduleTurn() {
        guard !turnScheduled, let context else { return }
        turnScheduled = true
        context.eventLoop.assumeIsolated().execute {
            self.turnScheduled = false
            self.process()
        }
    }

    // MARK: Writing

    private func send(_ reply: RESPValue) {
        guard let context, let session, !closing else { return }
        let version = session.protocolVersion
        var reply = reply
        var size = reply.encodedSize(version)
        if size > limits.outputLimitBytes {
            reply = Reply.tooLarge(limit: limits.outputLimitBytes)
            size = reply.encodedSize(version)
        }
        guard unsent + size <= limits.outputLimitBytes else {
            server.statistics.closedForOutput()
            close(because: "closed: its unsent replies would reach \(unsent + size) bytes, over --client-output-limit \(limits.outputLimitBytes) (it sends requests without reading the replies)", reply: nil)
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: size)
        reply.write(to: &buffer, version: version)
        unsent += size
        needsFlush = true
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.assumeIsolated().whenComplete { _ in self.sent(size) }
        context.write(wrapOutboundOut(buffer), promise: promise)
    }

    /// `size` bytes reached the socket (or were dropped with the connection).
    private func sent(_ size: Int) {
        unsent -= size
        lastActivity = .now()
        guard !closing else { return }
        if stop == .output && unsent <= limits.outputPauseBytes / 2 {
            pausedSince = nil
            scheduleTurn()
        }
        if let session, admitted { server.clients.setBufferedBytes(session.record, bufferedBytes) }
    }

    private func flushIfNeeded() {
        guard needsFlush, let context else { return }
        needsFlush = false
        context.flush()
    }

    private var bufferedBytes: Int { input.readableBytes + parser.heldBytes + unsent + (session?.queuedBytes ?? 0) }

    /// Closes the connection, after `reply` if given; logs `reason` if given.
    private func close(because reason: String?, reply: RESPValue?) {
        guard !closing, let context else { return }
        if let reply { send(reply) }
        flushIfNeeded()
        closing = true
        if let reason, let session {
            server.logClient("client id=\(session.id) addr=\(session.record.address) name=\(String(decoding: session.name, as: UTF8.self)) \(reason)")
        }
        context.close(promise: nil)
    }

    // MARK: Bookkeeping

    /// Publishes what CLIENT LIST and eviction read, and the memory the client holds.
    private func publish() {
        guard let session, admitted else { return }
        let unproductiveSince = productive ? requestStartedAt : session.record.connectedAt
        let (input, output, paused, last) = (self.input.readableBytes + parser.heldBytes + session.queuedBytes, unsent, stop == .output, lastActivity)
        session.record.details.withLockedValue { d in
            session.publish(into: &d)
            d.inputBytes = input
            d.outputBytes = output
            d.pausedForOutput = paused
            d.lastInteraction = last
            d.unproductiveSince = unproductiveSince
        }
        server.clients.setBufferedBytes(session.record, bufferedBytes)
    }

    /// Checks the deadlines a few times per shortest timeout.
    private func scheduleWatchdog() {
        guard let context else { return }
        var shortest = min(limits.requestTimeout, limits.outputTimeout)
        if let idle = server.idleTimeout { shortest = min(shortest, idle) }
        let tick = TimeAmount.nanoseconds(max(10_000_000, min(1_000_000_000, shortest.nanoseconds / 4)))
        context.eventLoop.assumeIsolated().scheduleTask(in: tick) { self.watchdog() }
    }

    private func watchdog() {
        guard !closing else { return }
        let now = NIODeadline.now()
        if let started = requestStartedAt, now - started >= limits.requestTimeout {
            server.statistics.requestTimedOut()
            close(because: "closed: a request was not complete \(ClientRegistry.seconds(now - started)) after its first byte (--request-timeout)",
                  reply: .err("request timeout: a request must arrive complete within \(ClientRegistry.seconds(limits.requestTimeout)) (sealkv serve --request-timeout); closing the connection"))
            return
        }
        if let since = pausedSince, now - since >= limits.outputTimeout {
            server.statistics.closedForOutput()
            close(because: "closed: \(unsent) bytes of its replies stayed unread for \(ClientRegistry.seconds(now - since)) (--client-output-timeout)", reply: nil)
            return
        }
        if let idle = server.idleTimeout, !waitingForCommit, now - lastActivity >= idle {
            close(because: nil, reply: nil)
            return
        }
        scheduleWatchdog()
    }

    private static func describe(_ address: SocketAddress?) -> String {
        guard let address else { return "?" }
        switch address {
        case .v4, .v6: return "\(address.ipAddress ?? "?"):\(address.port ?? 0)"
        case .unixDomainSocket: return address.pathname ?? "unix"
        }
    }
}
