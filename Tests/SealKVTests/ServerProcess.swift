@testable import SealKVServer
import Foundation
import SealKV
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `sealkv serve` as a process of its own, over a new store in a temporary folder, on a free
/// loopback port: for tests that judge it as users and attackers meet it (its memory, its log,
/// its signals).
final class ServeProcess {
    let directory: String
    let store: String
    let port: Int
    let process = Process()
    let logPath: String
    private var stopped = false

    /// Starts `sealkv serve` with `arguments` after the store and `--listen`, and waits until it
    /// answers (PING, or NOAUTH when it wants a password). `prepare` may change the new store
    /// (password "tool pw") before the server opens it.
    init(_ arguments: [String] = [], prepare: ((String) throws -> Void)? = nil) throws {
        directory = TestSupport.temporaryDirectory()
        store = directory + "/served.sealkv"
        logPath = directory + "/serve.log"
        let initialised = try Tool.run(["init", store])
        guard initialised.status == 0 else { throw SealKVError(.ioError, "sealkv init failed: \(initialised.stderr)") }
        try prepare?(store)
        port = ServerProcessTests.freePort()
        process.executableURL = URL(fileURLWithPath: Tool.binary)
        process.arguments = ["serve", store, "--listen", "127.0.0.1:\(port)"] + arguments
        var env = ProcessInfo.processInfo.environment
        env["SEALKV_PASSWORD"] = "tool pw"
        process.environment = env
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let c = try? RawClient(port: port, timeoutSeconds: 5), let reply = c.call("PING"),
               reply == .simple("PONG") || reply == .error("NOAUTH Authentication required.") { return }
            guard process.isRunning else { break }
            usleep(50_000)
        }
        stop()
        throw SealKVError(.ioError, "sealkv serve did not start on port \(port): \(log)")
    }

    deinit {
        stop()
        TestSupport.removeTree(directory)
    }

    /// What the server wrote to standard error so far.
    var log: String { String(decoding: TestSupport.readFile(logPath), as: UTF8.self) }

    /// The server's resident memory in bytes, from /proc/PID/status.
    var residentBytes: Int {
        let status = String(decoding: TestSupport.readFile("/proc/\(process.processIdentifier)/status"), as: UTF8.self)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) else { return 0 }
        return kb * 1024
    }

    /// Sends SIGTERM and waits for the exit; how long it took, or nil if it had not exited after
    /// `timeout` (it is then killed).
    @discardableResult
    func terminate(timeout: Duration = .seconds(20)) -> Duration? {
        guard !stopped else { return .zero }
        stopped = true
        let started = ContinuousClock.now
        kill(process.processIdentifier, SIGTERM)
        while process.isRunning {
            if ContinuousClock.now - started > timeout {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                return nil
            }
            usleep(10_000)
        }
        return ContinuousClock.now - started
    }

    func stop() {
        guard !stopped else { return }
        stopped = true
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Polls `condition` every 20 ms for up to `timeout`.
    static func eventually(_ timeout: Duration = .seconds(30), _ condition: () -> Bool) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }
}

/// A socket that sends and never reads, or reads nothing for a long time: the misbehaving side of
/// the hostile-client tests. Sends give up after a short timeout instead of blocking forever
/// once the server stops reading.
final class HostileSocket {
    let fd: Int32

    init(port: Int, receiveBuffer: Int32 = 4096) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var size = receiveBuffer
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            Glibc.close(fd)
            throw SealKVError(.ioError, "connect to port \(port) failed", errno: errno)
        }
    }

    deinit { Glibc.close(fd) }

    /// Sends what the socket takes before its send timeout; the number of bytes sent (-1 once
    /// the server has closed the connection).
    @discardableResult
    func send(_ bytes: [UInt8]) -> Int {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + done, bytes.count - done, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return done }
            if n <= 0 { return -1 }
            done += n
        }
        return done
    }

    /// Whether the server has closed the connection: reads (discarding) until end of stream or
    /// until nothing arrives for the receive timeout.
    func closedByServer() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return true }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return errno == ECONNRESET }
        }
    }
}

/// A command as RESP bytes.
func respCommand(_ args: [String]) -> [UInt8] { respCommand(args.map { Array($0.utf8) }) }

func respCommand(_ args: [[UInt8]]) -> [UInt8] {
    var out = Array("*\(args.count)\r\n".utf8)
    for a in args { out += Array("$\(a.count)\r\n".utf8) + a + [13, 10] }
    return out
}
