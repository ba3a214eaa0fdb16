import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Where `sealkv serve` listens: a socket path or address that cannot work is refused in plain words
/// that name the flag (`--unix`, `--listen`), the path or address and what to do, never SwiftNIO's
/// type names; a socket another server listens on is not taken over.
@Suite("sealkv serve: listeners")
struct ServeListenerTests {
    /// Starts `sealkv serve STORE --key-file KEY arguments…` and waits until it says it listens.
    static func startServe(_ f: ToolFixture, _ store: String, _ arguments: [String],
                           environment: [String: String] = [:]) throws -> ToolProcess.Running {
        let server = try ToolProcess.start((["serve", store, "--key-file", f.keyFile] + arguments).map { Array($0.utf8) },
                                           environment: environment)
        let deadline = Date().addingTimeInterval(60)
        while server.isRunning && !String(decoding: server.stderr, as: UTF8.self).contains("SIGTERM stops") && Date() < deadline {
            usleep(10_000)
        }
        return server
    }

    /// A `--unix` path that cannot work is refused in plain words that name the flag and the path
    /// and say what to do; a socket another server listens on is not taken over.
    @Test func unixSocketProblemsAreToldInPlainWords() throws {
        let f = ToolFixture()
        let store = try f.store("u.sealkv")
        TestSupport.writeFile(f.path("plain-file"), [1, 2, 3])
        #expect(mkdir(f.path("a-folder"), 0o700) == 0)
        let long = f.dir + "/" + String(repeating: "s", count: 120) + ".sock"
        let cases: [(String, [String])] = [
            (long, ["--unix", long, "at most 107 bytes", "shorter path"]),
            (f.path("missing/s.sock"), ["--unix", f.path("missing"), "does not exist", "create the folder"]),
            (f.path("a-folder"), ["--unix", f.path("a-folder"), "a directory, not a socket", "remove it"]),
            (f.path("plain-file"), ["--unix", f.path("plain-file"), "a regular file, not a socket", "remove it"]),
            ("", ["--unix", "the path is empty"]),
        ]
        for (path, says) in cases {
            let r = try f.run(["serve", store, "--unix", path], timeout: 30)
            r.expect(2, "--unix \(path)")
            for part in says { #expect(r.err.contains(part), "--unix \(path): no \"\(part)\" in: \(r.err)") }
            for nioWord in ["UnixDomainSocket", "unixDomainSocket", "bind(descriptor", "errno:"] {
                #expect(!r.err.contains(nioWord), "--unix \(path) shows SwiftNIO's words: \(r.err)")
            }
        }
        #expect(TestSupport.readFile(f.path("plain-file")) == [1, 2, 3], "the file at the socket path was changed")

        // A second server on the socket of a running one is refused; the first keeps its socket.
        let socketPath = f.path("live.sock")
        let first = try Self.startServe(f, store, ["--unix", socketPath])
        defer {
            first.signal(SIGTERM)
            _ = first.finish(timeout: 60)
        }
        #expect(first.isRunning, "serve did not start: \(String(decoding: first.stderr, as: UTF8.self))")
        let other = try f.store("other.sealkv")
        let second = try f.run(["serve", other, "--unix", socketPath], timeout: 30)
        second.expect(2, "a second server on a live socket")
        #expect(second.err.contains("--unix") && second.err.contains("another process is listening") && second.err.contains(socketPath), "\(second.err)")
        var st = stat()
        #expect(lstat(socketPath, &st) == 0 && st.st_mode & S_IFMT == S_IFSOCK && st.st_ino != 0, "the first server's socket is gone")
        #expect(first.isRunning, "the first server stopped")
    }

    /// A socket in a folder on a read-only file system: the message says so (root only, for the
    /// tmpfs mount; skipped otherwise).
    @Test func aSocketOnAReadOnlyFileSystemIsNamed() throws {
        let f = ToolFixture()
        let store = try f.store("r.sealkv")
        let mountPoint = f.path("ro")
        #expect(mkdir(mountPoint, 0o700) == 0)
        guard system("mount -t tmpfs -o size=1m,ro tmpfs '\(mountPoint)' 2>/dev/null") == 0 else {
            print("skipped: mounting a tmpfs needs root")
            return
        }
        defer { _ = system("umount '\(mountPoint)' 2>/dev/null") }
        let r = try f.run(["serve", store, "--unix", mountPoint + "/s.sock"], timeout: 30)
        r.expect(2, "a socket on a read-only file system")
        #expect(r.err.contains("--unix") && r.err.contains("read-only file system") && r.err.contains(mountPoint), "\(r.err)")
        #expect(!r.err.contains("bind(descriptor") && !r.err.contains("errno:"), "\(r.err)")
    }

    /// A TCP address in use, or not this machine's, is named with `--listen` and what to do.
    @Test func tcpListenProblemsAreToldInPlainWords() throws {
        let f = ToolFixture()
        let store = try f.store("t.sealkv")
        let busy = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(busy) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(busy, $0, length) == 0 && listen(busy, 1) == 0 && getsockname(busy, $0, &length) == 0 }
        }
        #expect(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let inUse = try f.run(["serve", store, "--listen", "127.0.0.1:\(port)"], timeout: 30)
        inUse.expect(2, "a port in use")
        #expect(inUse.err.contains("--listen") && inUse.err.contains("127.0.0.1:\(port)") && inUse.err.contains("already in use"), "\(inUse.err)")
        #expect(!inUse.err.contains("bind(descriptor") && !inUse.err.contains("errno:"), "\(inUse.err)")
    }
}
