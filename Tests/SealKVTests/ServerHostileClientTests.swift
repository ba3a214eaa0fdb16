@testable import SealKV
@testable import SealKVServer
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `sealkv serve` against clients that do not play along — one that never reads its replies, ones
/// that send a byte a second, ones that send huge unfinished requests — each beside a client that
/// behaves and must keep being served.
@Suite("sealkv serve against hostile clients", .serialized)
struct ServerHostileClientTests {
    static let mib = 1 << 20

    /// A client pipelining `GET big` (8 MB) without reading grew the server by gigabytes in
    /// seconds, until it stopped answering and ignored SIGTERM. Now the server stops running its
    /// commands at the pause bound: memory stays flat, a bystander keeps its latency, and SIGTERM
    /// still stops the server at once.
    @Test func aClientThatNeverReadsCannotGrowTheServer() throws {
        let server = try ServeProcess()
        let setter = try RawClient(port: server.port)
        #expect(setter.call([Array("SET".utf8), Array("big".utf8), [UInt8](repeating: 0x61, count: 8 * Self.mib)]) == .ok)
        for _ in 0..<3 { #expect(setter.call("GET", "big").map { if case .bulk(let b?) = $0 { b.count } else { 0 } } == 8 * Self.mib) }
        let baseline = server.residentBytes

        let flooding = Locked(true)
        let port = server.port
        let flooder = Thread {
            guard let bad = try? HostileSocket(port: port) else { return }
            let pipeline = [UInt8](respCommand(["GET", "big"])).repeated(1000)
            while flooding.withLock({ $0 }) { if bad.send(pipeline) < 0 { break } }
        }
        flooder.start()
        let bystander = try RawClient(port: server.port)
        var worst: Duration = .zero, peak = baseline
        let end = ContinuousClock.now + .seconds(6)
        while ContinuousClock.now < end {
            let start = ContinuousClock.now
            #expect(bystander.call("PING") == .simple("PONG"))
            worst = max(worst, ContinuousClock.now - start)
            peak = max(peak, server.residentBytes)
            usleep(100_000)
        }
        let info = bystander.call("INFO", "clients")
        flooding.withLock { $0 = false }
        let growth = peak - baseline
        print("non-reading client: RSS \(baseline / Self.mib) MiB before, peak \(peak / Self.mib) MiB (+\(growth / Self.mib) MiB); worst bystander PING \(worst)")
        #expect(growth < 64 * Self.mib, "the server grew by \(growth / Self.mib) MiB while a client did not read")
        #expect(worst < .seconds(2), "a bystander's PING took \(worst)")
        if case .bulk(let text?) = info {
            #expect(String(decoding: text, as: UTF8.self).contains("clients_paused_for_output:1"), "\(String(decoding: text, as: UTF8.self))")
        }
        let stopping = server.terminate()
        #expect(stopping != nil && stopping! < .seconds(10), "SIGTERM took \(String(describing: stopping))")
        #expect(server.process.terminationStatus == 0)
    }

    /// Replies left unread above the pause bound for --client-output-timeout close the client,
    /// with the reason in the log.
    @Test func unreadRepliesCloseTheClientAfterTheOutputTimeout() throws {
        let server = try ServeProcess(["--client-output-timeout", "1"])
        let setter = try RawClient(port: server.port)
        #expect(setter.call([Array("SET".utf8), Array("big".utf8), [UInt8](repeating: 0x62, count: 4 * Self.mib)]) == .ok)
        let bad = try HostileSocket(port: server.port)
        bad.send([UInt8](respCommand(["GET", "big"])).repeated(20))
        #expect(ServeProcess.eventually(.seconds(20)) { server.log.contains("stayed unread") }, "\(server.log)")
        #expect(bad.closedByServer())
        #expect(setter.call("PING") == .simple("PONG"))
    }

    /// 40 connections dribbling a byte a second held every slot of --max-clients 40, and every
    /// legitimate client was refused. Now a newcomer takes the place of the client that has gone
    /// longest without completing a request, and a request must be complete within
    /// --request-timeout.
    @Test func slowClientsCannotLockOutAClientAtMaxClients() throws {
        let server = try ServeProcess(["--max-clients", "40", "--request-timeout", "2"])
        let port = server.port
        let dribbling = Locked(true)
        let request = respCommand(["SET", "k", String(repeating: "x", count: 1000)])
        let dribbler = Thread {
            // An attacker: 40 connections, one byte each a second, reconnecting when closed.
            var sockets: [HostileSocket?] = (0..<40).map { _ in try? HostileSocket(port: port) }
            var offset = 0
            while dribbling.withLock({ $0 }) {
                for i in sockets.indices {
                    if sockets[i] == nil || sockets[i]!.send([request[offset % request.count]]) < 0 {
                        sockets[i] = try? HostileSocket(port: port)
                    }
                }
                offset += 1
                usleep(1_000_000)
            }
        }
        dribbler.start()
        defer { dribbling.withLock { $0 = false } }
        usleep(1_500_000)
        var answered = 0, slowest: Duration = .zero
        for _ in 0..<8 {
            let start = ContinuousClock.now
            if let c = try? RawClient(port: port, timeoutSeconds: 5), c.call("PING") == .simple("PONG") { answered += 1 }
            slowest = max(slowest, ContinuousClock.now - start)
            usleep(500_000)
        }
        print("slow clients at --max-clients 40: \(answered) of 8 legitimate clients answered, slowest \(slowest)")
        #expect(answered == 8, "\(server.log)")
        #expect(slowest < .seconds(2))
        #expect(ServeProcess.eventually(.seconds(10)) { server.log.contains("--request-timeout") }, "no request timed out: \(server.log)")
        guard let c = try? RawClient(port: port), case .bulk(let text?) = c.call("INFO", "stats") else { Issue.record("no INFO"); return }
        let stats = String(decoding: text, as: UTF8.self)
        let figure = { (name: String) in stats.split(separator: "\r\n").first { $0.hasPrefix(name + ":") }.flatMap { Int($0.dropFirst(name.count + 1)) } ?? 0 }
        #expect(figure("evicted_clients") >= 1, "\(stats)")
        #expect(figure("client_request_timeouts") >= 1, "\(stats)")
    }

    /// 30 connections each holding an unfinished 15 MB SET added 450 MB. All clients' buffers now
    /// count towards --max-client-memory, and past it the client holding the most is closed.
    @Test func unfinishedLargeRequestsAreBoundedTogether() throws {
        let server = try ServeProcess(["--max-client-memory", "80m", "--max-request", "16m"])
        let baseline = server.residentBytes
        let bystander = try RawClient(port: server.port)
        var peak = baseline
        let header = Array("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$15000000\r\n".utf8)
        let chunk = [UInt8](repeating: 0x7A, count: Self.mib)
        var sockets: [HostileSocket] = []
        for _ in 0..<20 {
            let s = try HostileSocket(port: server.port)
            s.send(header)
            sockets.append(s)
        }
        // Ten MiB on each, never the last five: 200 MiB offered in all.
        for _ in 0..<10 {
            for s in sockets {
                var sent = 0
                let deadline = ContinuousClock.now + .seconds(2)
                while sent < chunk.count && ContinuousClock.now < deadline {
                    let n = s.send(Array(chunk[sent...]))
                    if n < 0 { break }
                    sent += n
                }
            }
            peak = max(peak, server.residentBytes)
        }
        peak = max(peak, server.residentBytes)
        let growth = peak - baseline
        print("20 unfinished 15 MB requests under --max-client-memory 80m: RSS +\(growth / Self.mib) MiB")
        #expect(growth < 160 * Self.mib, "partial requests grew the server by \(growth / Self.mib) MiB")
        #expect(server.log.contains("--max-client-memory"), "\(server.log)")
        #expect(bystander.call("PING") == .simple("PONG"))
    }

    /// A value over the bulk limit reset the connection. Now it is refused with an error that
    /// names --max-bulk, and the next command on the same connection is answered.
    @Test func aValueOverTheBulkLimitIsRefusedAndTheConnectionStaysUsable() throws {
        let server = try ServeProcess(["--max-bulk", "1m"])
        let c = try RawClient(port: server.port)
        c.send(respCommand([Array("SET".utf8), Array("v".utf8), [UInt8](repeating: 1, count: 2 * Self.mib)]) + respCommand(["PING"]))
        #expect(c.reply() == .err("argument of 2097152 bytes is longer than the server's bulk limit of 1048576 bytes (sealkv serve --max-bulk); the command was not run"))
        #expect(c.reply() == .simple("PONG"))
        #expect(c.call("GET", "v") == .null)
        #expect(c.call("SET", "v", "small") == .ok)
    }

    /// "127.evil.com" is a DNS name, not a loopback address: without a password the server must
    /// refuse it, as any other address outside 127.0.0.0/8 and ::1.
    @Test func loopbackIsAnAddressNotAPrefix() throws {
        for host in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1", "localhost", "LOCALHOST", "localhost."] {
            #expect(ServerConfiguration.isLoopback(host), "\(host)")
        }
        for host in ["127.evil.com", "127.0.0.1.nip.io", "0.0.0.0", "10.0.0.1", "128.0.0.1", "::", "::2", "", "localhost.evil.com", "127.1"] {
            #expect(!ServerConfiguration.isLoopback(host), "\(host)")
        }
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        #expect(try Tool.run(["init", dir + "/s.sealkv"]).status == 0)
        let refused = try Tool.run(["serve", dir + "/s.sealkv", "--listen", "127.evil.com:6390"])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("not a loopback address, without a password"), "\(refused.stderr)")
    }

    /// Numeric options are checked with a message naming them.
    @Test func serveOptionsAreRangeChecked() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let store = dir + "/s.sealkv"
        #expect(try Tool.run(["init", store]).status == 0)
        let cases: [([String], String)] = [
            (["--max-bulk", "0"], "--max-bulk: 0 is out of range"), (["--max-bulk", "lots"], "--max-bulk: 'lots' is not a size"),
            (["--max-bulk", "100"], "--max-bulk must be at least 1024 bytes"),
            (["--max-request", "1m"], "--max-request must be at least --max-bulk"),
            (["--request-timeout", "-1"], "--request-timeout: '-1' is not a number of seconds"),
            (["--request-timeout", "inf"], "--request-timeout: 'inf' is not a number of seconds"),
            (["--client-output-limit", "512k"], "--client-output-limit must be larger than --client-output-pause"),
            (["--max-client-memory", "16m"], "--max-client-memory must be at least"),
            (["--max-clients", "0"], "--max-clients: 0 is out of range; give a whole number of clients from 1 to 1000000"),
            (["--idle-timeout", "-5"], "--idle-timeout: -5 is out of range"),
            (["--idle-timeout", "99999999999"], "--idle-timeout: 99999999999 is out of range; give a whole number of seconds from 0 to 31536000"),
        ]
        for (arguments, message) in cases {
            let r = try Tool.run(["serve", store, "--listen", "127.0.0.1:0"] + arguments)
            #expect(r.status != 0 && r.stderr.contains(message), "\(arguments): \(r.stderr)")
        }
        // A store older than the newest commit the operator knows of is refused, by flag or environment.
        let old = try Tool.run(["serve", store, "--listen", "127.0.0.1:0", "--min-txn", "1000"])
        #expect(old.status == 2 && old.stderr.contains("rolled back"), "\(old.stderr)")
        let oldByEnvironment = try Tool.run(["serve", store, "--listen", "127.0.0.1:0"],
                                            environment: ["SEALKV_PASSWORD": "tool pw", "SEALKV_MIN_TXN": "1000"])
        #expect(oldByEnvironment.status == 2 && oldByEnvironment.stderr.contains("rolled back"), "\(oldByEnvironment.stderr)")
        let missing = try Tool.run(["serve", store, "--requirepass-file", dir])
        #expect(missing.status == 2 && missing.stderr.contains("is a directory"), "\(missing.stderr)")
        TestSupport.writeFile(dir + "/huge", [UInt8](repeating: 0x41, count: 10_000))
        let huge = try Tool.run(["serve", store, "--requirepass-file", dir + "/huge"])
        #expect(huge.status == 2 && huge.stderr.contains("longer than 4096 bytes"), "\(huge.stderr)")
    }

    /// A store whose newest commit was torn opens at the previous one; `serve` says so in its log
    /// (once, in the tool's words) and in INFO's persistence section.
    @Test func aFallbackAtOpenIsLoggedAndShownInInfo() throws {
        let server = try ServeProcess { path in
            let options = TestSupport.options(.openExisting)
            let db = try Database.open(at: path, credential: .password("tool pw"), options: options)
            try db.write { tx in try tx.put("a", "1") }
            db.close()
            let size = TestSupport.readFile(path).count
            let db2 = try Database.open(at: path, credential: .password("tool pw"), options: options)
            try db2.write { tx in for i in 0..<2000 { try tx.put("k\(i)", String(repeating: "x", count: 500)) } }
            db2.close()
            // Lose the first page the second commit appended, as if it never reached the disk.
            var bytes = TestSupport.readFile(path)
            bytes.replaceSubrange(size..<(size + 4096), with: [UInt8](repeating: 0, count: 4096))
            TestSupport.writeFile(path, bytes)
        }
        #expect(server.log.contains("warning: the newest commit of '\(server.store)' (transaction 2, meta slot"), "\(server.log)")
        #expect(server.log.components(separatedBy: "warning").count == 2, "not warned exactly once: \(server.log)")
        #expect(server.log.contains("--min-txn") && !server.log.contains("minimum transaction"), "not in the tool's words: \(server.log)")
        let c = try RawClient(port: server.port)
        guard case .bulk(let text?) = c.call("INFO", "persistence") else { Issue.record("no INFO"); return }
        let info = String(decoding: text, as: UTF8.self)
        #expect(info.contains("recovery_fell_back:1"), "\(info)")
        #expect(info.contains("recovery_refused_reason:") && info.contains("recovery_refused_txnid:2") && info.contains("recovery_opened_txnid:1"), "\(info)")
        #expect(c.call("GET", "a") == .bulk(Array("1".utf8)))
    }
}

extension Array {
    /// The array `count` times over.
    func repeated(_ count: Int) -> [Element] { Array((0..<count).map { _ in self }.joined()) }
}
