@testable import SealKV
@testable import SealKVServer
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A blocking RESP client on a raw socket, for the tests that need exact bytes on the wire.
final class RawClient {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int, timeoutSeconds: Int = 10) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw SealKVError(.ioError, "connect to port \(port) failed", errno: errno) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { Glibc.close(fd) }

    func send(_ bytes: [UInt8]) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + done, bytes.count - done, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            done += n
        }
    }

    func send(_ text: String) { send(Array(text.utf8)) }

    /// Sends a command as a RESP array of bulk strings and reads the reply.
    func call(_ args: String...) -> RESPValue? { call(args.map { Array($0.utf8) }) }

    func call(_ args: [[UInt8]]) -> RESPValue? {
        var out = Array("*\(args.count)\r\n".utf8)
        for a in args { out += Array("$\(a.count)\r\n".utf8) + a + [13, 10] }
        send(out)
        return reply()
    }

    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }   // a signal (sanitizer runtimes send some) is not the end
            if n <= 0 { return false }
            buffer += chunk[..<n]
            return true
        }
    }

    private func line() -> [UInt8]? {
        while true {
            if let i = buffer.firstIndex(of: 10) {
                let l = Array(buffer[..<i].dropLast())
                buffer.removeFirst(i + 1)
                return l
            }
            if !fill() { return nil }
        }
    }

    /// The next reply, or nil when the connection closed (or timed out).
    func reply() -> RESPValue? {
        guard let l = line(), let kind = l.first else { return nil }
        let rest = String(decoding: l.dropFirst(), as: UTF8.self)
        switch kind {
        case UInt8(ascii: "+"): return .simple(rest)
        case UInt8(ascii: "-"): return .error(rest)
        case UInt8(ascii: ":"): return .integer(Int64(rest)!)
        case UInt8(ascii: "$"):
            let n = Int(rest)!
            if n < 0 { return .bulk(nil) }
            while buffer.count < n + 2 { if !fill() { return nil } }
            let bytes = Array(buffer[..<n])
            buffer.removeFirst(n + 2)
            return .bulk(bytes)
        case UInt8(ascii: "*"):
            let n = Int(rest)!
            if n < 0 { return .array(nil) }
            var items: [RESPValue] = []
            for _ in 0..<n { guard let item = reply() else { return nil }; items.append(item) }
            return .array(items)
        default: return nil
        }
    }

    /// True once the server closed the connection (reads return end of stream).
    func closedByServer() -> Bool {
        while true {
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return true }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return false }
        }
    }
}

/// A store and a server on an ephemeral loopback port, for one test.
final class TestServer {
    let directory: String
    let path: String
    let database: Database
    let server: RedisServer
    let port: Int

    /// A server over a new store in a temporary directory, or over `database` when given.
    init(database: Database? = nil, configure: (inout ServerConfiguration) -> Void = { _ in }) throws {
        directory = TestSupport.temporaryDirectory()
        path = directory + "/served.sealkv"
        self.database = try database ?? Database.open(at: path, credential: .password(TestSupport.password), options: TestSupport.options())
        var config = ServerConfiguration()
        config.port = 0
        config.threads = 2
        configure(&config)
        server = try RedisServer(database: self.database, configuration: config)
        let bound = try server.start()
        port = Int(bound[0].split(separator: ":").last!)!
    }

    func stop() {
        server.shutdown()
        database.close()
    }

    deinit {
        stop()
        TestSupport.removeTree(directory)
    }

    /// Runs redis-cli against the server; its output with the trailing newline removed.
    func cli(_ args: [String], db: Int = 0) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
        process.arguments = ["-p", "\(port)", "-n", "\(db)"] + args
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        var text = String(decoding: data, as: UTF8.self)
        // redis-cli ends a reply with a newline, and an error with two.
        if text.hasSuffix("\n") { text.removeLast() }
        if text.hasPrefix("ERR"), text.hasSuffix("\n") { text.removeLast() }
        return text
    }
}

@Suite("sealkv serve", .serialized)
struct ServerTests {
    static let haveRedisTools = FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-cli")

    @Test func everyCommandRoundTripsThroughRedisCli() throws {
        try #require(Self.haveRedisTools, "redis-cli is missing: run `make deps` (Debian package redis-tools)")
        let t = try TestServer()
        let script: [([String], String)] = [
            (["PING"], "PONG"), (["PING", "hello"], "hello"), (["ECHO", "x y"], "x y"),
            (["SET", "a", "1"], "OK"), (["GET", "a"], "1"), (["INCR", "a"], "2"), (["INCRBY", "a", "40"], "42"),
            (["DECR", "a"], "41"), (["DECRBY", "a", "1"], "40"), (["SET", "s", "text"], "OK"),
            (["INCR", "s"], "ERR value is not an integer or out of range"),
            (["SET", "a", "x", "NX"], ""), (["SET", "a", "y", "XX", "GET"], "40"), (["GET", "a"], "y"),
            (["SET", "nx", "1", "NX"], "OK"), (["SETNX", "nx", "2"], "0"), (["SETNX", "nx2", "2"], "1"),
            (["SET", "t", "v", "EX", "100"], "OK"), (["TTL", "t"], "100"), (["PERSIST", "t"], "1"), (["TTL", "t"], "-1"),
            (["PEXPIRE", "t", "50000"], "1"), (["EXPIRE", "t", "100"], "1"), (["TTL", "missing"], "-2"),
            (["SET", "p", "v", "PX", "100000"], "OK"), (["PERSIST", "missing"], "0"),
            (["EXISTS", "a", "nx", "missing"], "2"), (["GETDEL", "nx2"], "2"), (["GETDEL", "nx2"], ""),
            (["MSET", "m1", "1", "m2", "2"], "OK"), (["MGET", "m1", "missing", "m2"], "1\n\n2"),
            (["DEL", "m1", "m2", "missing"], "2"), (["DELETE", "p"], "1"),
            (["KEYS", "n*"], "nx"), (["DBSIZE"], "4"),
            (["SELECT", "16"], "ERR DB index is out of range"),
            (["COMMAND", "COUNT"], "\(CommandTable.shared.all.count)"),
            (["NOSUCHCOMMAND", "arg"], "ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'arg' "),
            (["GET"], "ERR wrong number of arguments for 'get' command"),
            (["EXPIRE", "a", "0"], "1"), (["GET", "a"], ""),
        ]
        for (args, expected) in script {
            #expect(try t.cli(args) == expected, "\(args.joined(separator: " "))")
        }
        #expect(try t.cli(["SET", "only3", "x"], db: 3) == "OK")
        #expect(try t.cli(["KEYS", "*"], db: 3) == "only3")
        #expect(try t.cli(["GET", "only3"]) == "")
        #expect(try t.cli(["FLUSHDB"], db: 3) == "OK")
        #expect(try t.cli(["DBSIZE"], db: 3) == "0")
        #expect(try t.cli(["INFO", "keyspace"]).contains("db0:keys="))
        for i in 0..<25 { _ = try t.cli(["SET", "scan-\(i)", "\(i)"]) }
        var seen = Set<String>()
        var cursor = "0"
        var calls = 0
        repeat {
            // Each redis-cli call is a new connection: cursors work across connections.
            let out = try t.cli(["SCAN", cursor, "MATCH", "scan-*", "COUNT", "7"]).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            cursor = out[0]
            #expect(UInt64(cursor) != nil, "SCAN answered \(out)")
            for k in out.dropFirst() where !k.isEmpty { seen.insert(k) }
            calls += 1
        } while cursor != "0" && calls < 20
        #expect(seen.count == 25)
        #expect(try t.cli(["FLUSHALL"]) == "OK")
        #expect(try t.cli(["DBSIZE"]) == "0")
        // MULTI/EXEC: one transaction, replies in order; a bad command queued aborts EXEC.
        let c = try RawClient(port: t.port)
        #expect(c.call("MULTI") == .ok)
        #expect(c.call("SET", "m", "1") == .simple("QUEUED"))
        #expect(c.call("INCR", "m") == .simple("QUEUED"))
        #expect(c.call("GET", "m") == .simple("QUEUED"))
        #expect(c.call("EXEC") == .array([.ok, .integer(2), .bulk(Array("2".utf8))]))
        #expect(c.call("MULTI") == .ok)
        _ = c.call("SET", "m", "9")
        #expect(c.call("BOGUS")?.isError == true)
        #expect(c.call("EXEC") == .error("EXECABORT Transaction discarded because of previous errors."))
        #expect(c.call("GET", "m") == .bulk(Array("2".utf8)))
        #expect(c.call("DISCARD") == .err("DISCARD without MULTI"))
        #expect(c.call("QUIT") == .ok)
        #expect(c.closedByServer())
    }

    @Test func inlineCommandsForPlainTextUsers() throws {
        let t = try TestServer()
        let c = try RawClient(port: t.port)
        c.send("SET key value\r\nGET key\r\nDELETE key\nGET key\r\nSET \"two words\" 'and more'\r\nGET \"two words\"\r\n")
        #expect(c.reply() == .ok)
        #expect(c.reply() == .bulk(Array("value".utf8)))
        #expect(c.reply() == .integer(1))
        #expect(c.reply() == .null)
        #expect(c.reply() == .ok)
        #expect(c.reply() == .bulk(Array("and more".utf8)))
    }

    /// Malformed or oversized requests get an error or a closed connection; the server goes on
    /// serving everyone else.
    @Test func malformedRequestsDoNotDisturbOtherClients() throws {
        let t = try TestServer {
            $0.limits.maxBulkLength = 1 << 20
            $0.clientLimits.requestTimeout = .milliseconds(500)
        }
        let bystander = try RawClient(port: t.port)
        #expect(bystander.call("SET", "safe", "1") == .ok)
        var garbage = SeededRandom(seed: 7)
        let attacks: [[UInt8]] = [
            Array("*2\r\n$3\r\nGET\r\n$-5\r\n".utf8),                 // negative length
            Array("*1\r\n$99999999999\r\n".utf8),                      // huge declared bulk
            Array("*1\r\n$2000000\r\n".utf8),                          // over the configured bulk limit
            Array("*999999999\r\n".utf8),                              // too many arguments
            Array("*2\r\n$3\r\nGET\r\n$3\r\nabcXY".utf8),              // bulk not ended by CRLF
            Array("*1\r\n:5\r\n".utf8),                                // not a bulk string
            Array(repeating: UInt8(ascii: "A"), count: 70_000),        // inline line over the limit
            (0..<4096).map { _ in UInt8.random(in: 0...255, using: &garbage) },
        ]
        for attack in attacks {
            let c = try RawClient(port: t.port, timeoutSeconds: 5)
            c.send(attack)
            if let reply = c.reply() {
                #expect(reply.isError, "\(attack.prefix(20)) got \(reply)")
            }
            #expect(bystander.call("PING") == .simple("PONG"))
        }
        // Half a frame, then close: nothing to answer, nothing broken.
        do {
            let c = try RawClient(port: t.port)
            c.send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nonly")
        }
        #expect(bystander.call("GET", "safe") == .bulk(Array("1".utf8)))
        #expect(bystander.call("GET", "k") == .null)
    }

    /// redis-benchmark's SET and GET run to completion against the server with 50 clients.
    @Test func redisBenchmarkCompletes() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-benchmark"), "redis-benchmark is missing: run `make deps`")
        let t = try TestServer()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-benchmark")
        process.arguments = ["-p", "\(t.port)", "-t", "set,get", "-n", "20000", "-c", "50", "-q"]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(text.contains("SET: ") && text.contains("GET: "), "\(text)")
        #expect(!errors.contains("ERR"), "\(errors)")
    }

    /// With --ns-per-db, SELECT takes namespace names; each is a SealKV namespace.
    @Test func selectByNamespaceName() throws {
        let t = try TestServer { $0.namespacePerDatabase = true }
        let c = try RawClient(port: t.port)
        #expect(c.call("SELECT", "config") == .ok)
        #expect(c.call("SET", "k", "in config") == .ok)
        #expect(c.call("SELECT", "0") == .ok)
        #expect(c.call("GET", "k") == .null)
        #expect(c.call("SELECT", "config") == .ok)
        #expect(c.call("GET", "k") == .bulk(Array("in config".utf8)))
        t.stop()
        let db = try Database.open(at: t.path, credential: .password(TestSupport.password), options: TestSupport.options(.readOnly))
        defer { db.close() }
        #expect(try db.read { try $0.namespace("config").getString("k") } == "in config")
    }

    @Test func authIsRequiredAndNonLoopbackNeedsAPassword() throws {
        let t = try TestServer { $0.password = ClientPassword(Array("s3cret".utf8)) }
        let c = try RawClient(port: t.port)
        #expect(c.call("GET", "a") == .error("NOAUTH Authentication required."))
        #expect(c.call("AUTH", "wrong") == .error("WRONGPASS invalid username-password pair or user is disabled."))
        #expect(c.call("AUTH", "s3cret") == .ok)
        #expect(c.call("SET", "a", "1") == .ok)
        let other = try RawClient(port: t.port)
        #expect(other.call("AUTH", "default", "s3cret") == .ok)

        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let db = try Database.open(at: dir + "/x.sealkv", credential: .password(TestSupport.password), options: TestSupport.options())
        defer { db.close() }
        var open = ServerConfiguration()
        open.host = "0.0.0.0"
        #expect(throws: SealKVError.self) { try RedisServer(database: db, configuration: open) }
    }

    @Test func clientLimitAndIdleTimeout() throws {
        let t = try TestServer {
            $0.maxClients = 2
            $0.idleTimeout = .milliseconds(300)
        }
        let a = try RawClient(port: t.port), b = try RawClient(port: t.port)
        #expect(a.call("PING") == .simple("PONG"))
        #expect(b.call("PING") == .simple("PONG"))
        let c = try RawClient(port: t.port)
        #expect(c.reply() == .err("max number of clients reached"))
        usleep(700_000)
        #expect(a.closedByServer(), "an idle client was not closed")
    }

    /// Concurrent clients share commits, and every acknowledged write survives a restart.
    ///
    /// Grouping happens when writes arrive while a commit is being made durable. A fast disk makes
    /// that a matter of timing, so the store's first sync after the clients start is held until
    /// every client's first write has been accepted: those not in the held commit must share the next.
    @Test func concurrentWritesAreGroupCommittedAndDurable() throws {
        let clients = 16, perClient = 40
        let storage = GatedSyncStorage()
        let db = try Database.open(storage: storage, credential: .password(TestSupport.password),
                                   options: TestSupport.options(), create: true)
        let t = try TestServer(database: db)
        let committer = t.server.committer
        storage.arm { committer.acceptedCount >= clients }
        let port = t.port
        // One thread per client (`concurrentPerform` would run only as many at once as there are cores).
        let done = DispatchGroup()
        let failures = Locked<[String]>([])
        for i in 0..<clients {
            done.enter()
            Thread {
                defer { done.leave() }
                guard let c = try? RawClient(port: port) else {
                    failures.withLock { $0.append("client \(i) could not connect") }
                    return
                }
                for j in 0..<perClient {
                    let reply = c.call("SET", "c\(i)-\(j)", "\(j)")
                    if reply != .simple("OK") { failures.withLock { $0.append("client \(i) SET \(j): \(String(describing: reply))") } }
                }
            }.start()
        }
        done.wait()
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 }.prefix(5))")
        #expect(storage.gateOpenedByCondition, "the other clients' writes never queued behind the held commit")
        let info = try RawClient(port: t.port).call("INFO", "persistence")
        guard case .bulk(let bytes?) = info else { Issue.record("INFO gave \(String(describing: info))"); return }
        let text = String(decoding: bytes, as: UTF8.self)
        let commits = Int(text.split(separator: "\r\n").first { $0.hasPrefix("group_commits:") }!.dropFirst("group_commits:".count))!
        #expect(commits <= clients * perClient - (clients - 2), "\(commits) commits for \(clients * perClient) writes: the queued writes were not grouped")
        t.stop()
        let reopened = try TestSupport.reopen(storage.inner.snapshot())
        defer { reopened.close() }
        #expect(try reopened.read { try $0.namespace("").count() } == clients * perClient)
        try TestSupport.expectClean(reopened)
    }
}

/// A memory backend whose first sync after `arm` waits (up to 10 s) until a condition holds, so a
/// test can line up work behind a commit that is being made durable.
final class GatedSyncStorage: PageStorage, @unchecked Sendable {
    let inner = MemoryStorage()
    private let gate = Locked<(@Sendable () -> Bool)?>(nil)
    private let openedByCondition = Locked(false)
    var pageCount: UInt64 { inner.pageCount }
    var engineName: String { "gated" }
    /// Whether the held sync was released because its condition came true (not by the time limit).
    var gateOpenedByCondition: Bool { openedByCondition.withLock { $0 } }

    /// Holds the next sync until `condition` returns true.
    func arm(until condition: @escaping @Sendable () -> Bool) { gate.withLock { $0 = condition } }

    private func waitAtGate() {
        guard let condition = gate.withLock({ g in defer { g = nil }; return g }) else { return }
        let deadline = DispatchTime.now() + .seconds(10)
        while DispatchTime.now() < deadline {
            if condition() { openedByCondition.withLock { $0 = true }; return }
            usleep(1_000)
        }
    }

    func readPage(_ n: UInt64, into b: UnsafeMutableRawPointer) throws(SealKVError) { try inner.readPage(n, into: b) }
    func writePages(_ writes: [PageWrite], sync: Bool) throws(SealKVError) {
        try inner.writePages(writes, sync: false)
        if sync { waitAtGate() }
    }
    func sync() throws(SealKVError) { waitAtGate() }
    func resize(toPages pages: UInt64) throws(SealKVError) { try inner.resize(toPages: pages) }
    func close() {}
}

/// `sealkv serve` as its own process: killed with SIGKILL under load, restarted, stopped by SIGTERM.
@Suite("sealkv serve process", .serialized)
struct ServerProcessTests {
    /// A loopback port nobody listens on right now.
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { Glibc.close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { a -> Int32 in
                _ = bind(fd, a, length)
                return getsockname(fd, a, &length)
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func serve(_ path: String, port: Int) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Tool.binary)
        p.arguments = ["serve", path, "--listen", "127.0.0.1:\(port)"]
        var env = ProcessInfo.processInfo.environment
        env["SEALKV_PASSWORD"] = "tool pw"
        p.environment = env
        p.standardError = FileHandle.nullDevice
        try p.run()
        for _ in 0..<100 {
            if let c = try? RawClient(port: port), c.call("PING") == .simple("PONG") { return p }
            usleep(50_000)
        }
        p.terminate()
        throw SealKVError(.ioError, "the server did not start listening on port \(port)")
    }

    @Test func killedUnderLoadKeepsEveryAcknowledgedWrite() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-benchmark"), "redis-benchmark is missing: run `make deps`")
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let path = dir + "/k.sealkv"
        #expect(try Tool.run(["init", path]).status == 0)
        let port = Self.freePort()
        let server = try Self.serve(path, port: port)
        let load = Process()
        load.executableURL = URL(fileURLWithPath: "/usr/bin/redis-benchmark")
        load.arguments = ["-p", "\(port)", "-t", "set", "-n", "10000000", "-c", "20", "-r", "100000", "-q"]
        load.standardOutput = FileHandle.nullDevice
        load.standardError = FileHandle.nullDevice
        try load.run()
        // Our own client's writes: each one answered is acknowledged and must survive.
        let client = try RawClient(port: port)
        var acknowledged = 0
        let deadline = ContinuousClock.now + .milliseconds(800)
        while ContinuousClock.now < deadline, client.call("SET", "ack-\(acknowledged)", "\(acknowledged)") == .ok {
            acknowledged += 1
        }
        kill(server.processIdentifier, SIGKILL)
        server.waitUntilExit()
        load.terminate()
        load.waitUntilExit()
        #expect(acknowledged > 20, "only \(acknowledged) writes were acknowledged before the kill")

        let check = try Tool.run(["check", path])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        // Restarted: every acknowledged write is there.
        let restarted = try Self.serve(path, port: port)
        let reader = try RawClient(port: port)
        for i in 0..<acknowledged {
            guard reader.call("GET", "ack-\(i)") == .bulk(Array("\(i)".utf8)) else {
                Issue.record("acknowledged write ack-\(i) is missing after the kill")
                break
            }
        }
        #expect(reader.call("SET", "after", "restart") == .ok)
        kill(restarted.processIdentifier, SIGTERM)
        restarted.waitUntilExit()
        #expect(restarted.terminationStatus == 0)
        #expect(try Tool.run(["get", path, "after"]).stdout == "restart")
    }
}
