import ArgumentParser
import Foundation
import NIOCore
import SealKV
import SealKVServer

/// `sealkv serve`: the store behind a Redis-protocol socket.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the store over the Redis protocol (RESP2, RESP3 and inline commands).",
        discussion: """
        Writes are answered only once durable; concurrent clients' writes share commits. Listens on \
        loopback unless told otherwise, and refuses a non-loopback address without --requirepass-file. \
        Sizes take a k, m or g suffix (powers of 1024); durations are seconds. SIGINT or SIGTERM \
        finish the writes in flight and close the store.
        """)

    @Argument(help: "The store.") var db: String
    @Option(help: "TCP address to listen on, HOST:PORT.") var listen = "127.0.0.1:6380"
    @Option(help: "Also listen on this Unix socket (with no --listen given, only on it).") var unix: String?
    @Option(help: "Clients must AUTH with the password in this file (its first line).") var requirepassFile: String?
    @Option(parsing: .unconditional, help: "Most clients connected at once (1 to 1000000).") var maxClients = "1000"
    @Option(parsing: .unconditional, help: "Close clients idle this many whole seconds (0: never).") var idleTimeout = "300"
    @Option(parsing: .unconditional, help: "Longest key or value a client may send; longer ones are refused with an error.") var maxBulk = "16m"
    @Option(parsing: .unconditional, help: "Most bytes of all arguments of one command (and of one MULTI transaction).") var maxRequest = "64m"
    @Option(parsing: .unconditional, help: "A request must arrive complete this many seconds after its first byte.") var requestTimeout = "30"
    @Option(parsing: .unconditional, help: "Stop running a client's commands while this much of its replies is unsent.") var clientOutputPause = "1m"
    @Option(parsing: .unconditional, help: "Close a client whose unsent replies would exceed this; a larger single reply is refused.") var clientOutputLimit = "64m"
    @Option(parsing: .unconditional, help: "Close a client whose replies stay unread above the pause bound this many seconds.") var clientOutputTimeout = "60"
    @Option(parsing: .unconditional, help: "Input and output buffered for all clients together; past it the largest client is closed.") var maxClientMemory = "256m"
    @Flag(help: "SELECT takes namespace names (and any number) instead of 0-15.") var nsPerDb = false
    @OptionGroup var store: StoreOptions

    func run() throws {
        // Block SIGINT and SIGTERM before any thread starts, so every thread inherits the mask and
        // the main thread receives them through sigwait below.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGINT)
        sigaddset(&stopSignals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &stopSignals, nil)
        signal(SIGPIPE, SIG_IGN)
        var config = try serverConfiguration()
        if let requirepassFile { config.password = try Self.readPassword(requirepassFile) }
        if let host = config.host, !ServerConfiguration.isLoopback(host), config.password == nil {
            throw ToolFailure("refusing to listen on \(host), which is not a loopback address, without a password: pass --requirepass-file.", exitCode: 2)
        }
        // openStore has warned already if recovery fell back, in the tool's words.
        config.logsRecoveryFallback = false
        let database = try openStore(db, store, writable: true, cacheSize: nil)
        let server: RedisServer
        let bound: [String]
        do {
            server = try RedisServer(database: database, configuration: config)
            bound = try server.start()
        } catch {
            database.close()
            throw ToolFailure("\((error as? SealKVError)?.message ?? "\(error)")", exitCode: 2)
        }
        FileHandle.standardError.write(Data("sealkv serve: \(db) on \(bound.joined(separator: " and ")); SIGINT or SIGTERM stops.\n".utf8))

        var received: Int32 = 0
        sigwait(&stopSignals, &received)
        FileHandle.standardError.write(Data("sealkv serve: \(received == SIGINT ? "SIGINT" : "SIGTERM"), finishing the writes in flight.\n".utf8))
        server.shutdown()
        database.close()
        FileHandle.standardError.write(Data("sealkv serve: stopped; every acknowledged write is committed.\n".utf8))
    }

    /// The options as the server's settings, each checked with a message that names it, repeats
    /// the value given and says what is accepted.
    private func serverConfiguration() throws -> ServerConfiguration {
        var config = ServerConfiguration()
        let listenGiven = CommandLine.arguments.contains { $0 == "--listen" || $0.hasPrefix("--listen=") }
        if unix != nil && !listenGiven {
            config.host = nil
        } else {
            let address = try ListenAddress(parsing: listen)
            config.host = address.host
            config.port = address.port
        }
        config.unixPath = unix
        config.maxClients = try NumericArgument.integer(maxClients, "--max-clients", in: 1...1_000_000, unit: "clients")
        let idle = try NumericArgument.integer(idleTimeout, "--idle-timeout", in: 0...(365 * 86400), unit: "seconds", note: "0: never")
        config.idleTimeout = idle > 0 ? .seconds(Int64(idle)) : nil
        config.namespacePerDatabase = nsPerDb
        config.limits.maxBulkLength = try NumericArgument.bytes(maxBulk, "--max-bulk")
        config.limits.maxRequestBytes = try NumericArgument.bytes(maxRequest, "--max-request")
        config.clientLimits.outputPauseBytes = try NumericArgument.bytes(clientOutputPause, "--client-output-pause")
        config.clientLimits.outputLimitBytes = try NumericArgument.bytes(clientOutputLimit, "--client-output-limit")
        config.clientLimits.maxClientMemory = try NumericArgument.bytes(maxClientMemory, "--max-client-memory")
        config.clientLimits.requestTimeout = try Self.duration(requestTimeout, "--request-timeout")
        config.clientLimits.outputTimeout = try Self.duration(clientOutputTimeout, "--client-output-timeout")
        do {
            try config.validate()
        } catch {
            throw ToolFailure(error.message, exitCode: 2)
        }
        return config
    }

    /// A duration in seconds from 0.01 to a year, fractions down to a millisecond.
    static func duration(_ text: String, _ option: String) throws -> TimeAmount {
        .milliseconds(try NumericArgument.milliseconds(text, option, in: 10...(365 * 86400 * 1000)))
    }

    /// The first line of the `--requirepass-file`, read like every credential file: without
    /// blocking, from a regular file or a pipe (`<(pass show redis)`), with a bound of 4 KiB, into
    /// a buffer wiped as soon as the password's digest is made (the server keeps only that).
    static func readPassword(_ path: String) throws -> ClientPassword {
        try withSecretFile(path, what: "--requirepass-file", limit: CredentialSource.passwordLimit) { bytes in
            let line = firstLine(of: bytes)
            guard !line.isEmpty else {
                throw ToolFailure("--requirepass-file '\(path)' is empty: its first line must hold the password clients give to AUTH.", exitCode: 2)
            }
            return ClientPassword(line)
        }
    }
}
