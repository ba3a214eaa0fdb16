import ArgumentParser
import Foundation
import NIOCore
import SealKV
import SealKVServer

/// `sealkv serve`: the store behind a Redis-protocol socket.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the store over the Redis protocol (RESP2 and inline commands).",
        discussion: """
        Writes are answered only once durable; concurrent clients' writes share commits. Listens on \
        loopback unless told otherwise, and refuses a non-loopback address without --requirepass-file. \
        SIGINT or SIGTERM finish the writes in flight and close the store.
        """)

    @Argument(help: "The store.") var db: String
    @Option(help: "TCP address to listen on, HOST:PORT.") var listen = "127.0.0.1:6380"
    @Option(help: "Also listen on this Unix socket (with no --listen given, only on it).") var unix: String?
    @Option(help: "Clients must AUTH with the password in this file (first line).") var requirepassFile: String?
    @Option(help: "Most clients connected at once.") var maxClients = 1000
    @Option(help: "Close clients idle this many seconds (0: never).") var idleTimeout = 300
    @Flag(help: "SELECT takes namespace names (and any number) instead of 0-15.") var nsPerDb = false
    @OptionGroup var credentials: CredentialOptions

    func run() throws {
        // Block SIGINT and SIGTERM before any thread starts, so every thread inherits the mask and
        // the main thread receives them through sigwait below.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGINT)
        sigaddset(&stopSignals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &stopSignals, nil)
        signal(SIGPIPE, SIG_IGN)
        var config = ServerConfiguration()
        let listenGiven = CommandLine.arguments.contains { $0 == "--listen" || $0.hasPrefix("--listen=") }
        if unix != nil && !listenGiven {
            config.host = nil
        } else {
            guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else {
                throw ValidationError("--listen must be HOST:PORT, like 127.0.0.1:6380.")
            }
            var host = String(listen[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            config.host = host
            config.port = port
        }
        config.unixPath = unix
        config.maxClients = maxClients
        config.idleTimeout = idleTimeout > 0 ? .seconds(Int64(idleTimeout)) : nil
        config.namespacePerDatabase = nsPerDb
        if let requirepassFile {
            var bytes = try readFileBytes(requirepassFile)
            defer { for i in bytes.indices { bytes[i] = 0 } }
            let line = Array(bytes.prefix { $0 != 0x0A && $0 != 0x0D })
            guard !line.isEmpty else { throw ValidationError("the password file '\(requirepassFile)' is empty.") }
            config.password = line
        }
        if let host = config.host, !ServerConfiguration.isLoopback(host), config.password == nil {
            throw ToolFailure("refusing to listen on \(host), which is not a loopback address, without a password: pass --requirepass-file.", exitCode: 2)
        }
        let database = try openStore(db, credentials, writable: true)
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
}
