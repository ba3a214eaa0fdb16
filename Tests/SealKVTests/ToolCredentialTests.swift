import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Every way the tool gets a credential fails clearly when it cannot be read, reads a bounded
/// amount, and refuses an empty password unless told otherwise; the environment's password does
/// not stay readable in /proc while the tool runs, nor any password in a running server's memory.
@Suite("sealkv tool: credentials")
struct ToolCredentialTests {
    /// A password or key file that is a directory, missing, a FIFO without a writer, or an endless
    /// device is refused at once, with a message naming it, and no store is created.
    @Test func unreadableCredentialFilesAreRefused() throws {
        let f = ToolFixture()
        let fifo = f.path("fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        let cases: [(option: String, file: String, says: String)] = [
            ("--password-file", f.dir, "directory"),
            ("--password-file", f.path("missing"), "does not exist"),
            ("--password-file", fifo, "FIFO"),
            ("--password-file", "/dev/zero", "character device"),
            ("--key-file", f.dir, "directory"),
            ("--key-file", fifo, "FIFO"),
            ("--key-file", "/dev/zero", "character device"),
        ]
        for (i, c) in cases.enumerated() {
            let store = f.path("s\(i).sealkv")
            let r = try ToolProcess.run(["init", store, c.option, c.file], timeout: 30)
            r.expect(2, "\(c.option) \(c.file)")
            #expect(r.err.contains(c.says) && r.err.contains(c.file), "\(c.option) \(c.file): \(r.err)")
            #expect(access(store, F_OK) != 0, "a store was created from \(c.option) \(c.file)")
        }
    }

    /// Oversized files are refused with their bound (4 KiB for a password, exactly 32 bytes for a key).
    @Test func credentialFilesAreReadWithABound() throws {
        let f = ToolFixture()
        TestSupport.writeFile(f.path("long"), [UInt8](repeating: 0x61, count: 5000))
        TestSupport.writeFile(f.path("33"), [UInt8](repeating: 1, count: 32) + [0x0A])
        let long = try ToolProcess.run(["init", f.path("a.sealkv"), "--password-file", f.path("long")])
        long.expect(2, "long password file")
        #expect(long.err.contains("4096"), "\(long.err)")
        let key = try ToolProcess.run(["init", f.path("b.sealkv"), "--key-file", f.path("33")])
        key.expect(2, "33-byte key file")
        #expect(key.err.contains("32"), "\(key.err)")
        let both = try ToolProcess.run(["init", f.path("c.sealkv"), "--key-file", f.keyFile, "--password-file", f.path("long")])
        both.expect(2, "both files")
    }

    /// An empty password (an empty variable, an empty first line) is refused; the explicit flag
    /// allows it, with a warning, and then the store opens with it.
    @Test func emptyPasswordsAreRefusedUnlessAllowed() throws {
        let f = ToolFixture()
        TestSupport.writeFile(f.path("blank"), [0x0A, 0x61, 0x62])
        let env = try ToolProcess.run(["init", f.path("a.sealkv")], environment: ["SEALKV_PASSWORD": ""])
        env.expect(2, "empty SEALKV_PASSWORD")
        #expect(env.err.contains("empty") && env.err.contains("--allow-empty-password"), "\(env.err)")
        #expect(access(f.path("a.sealkv"), F_OK) != 0)
        try ToolProcess.run(["init", f.path("b.sealkv"), "--password-file", f.path("blank")]).expect(2, "empty first line")
        let allowed = try ToolProcess.run(["init", f.path("c.sealkv"), "--allow-empty-password"], environment: ["SEALKV_PASSWORD": ""])
        allowed.expect(0, "allowed")
        #expect(allowed.err.contains("warning"), "\(allowed.err)")
        try ToolProcess.run(["put", f.path("c.sealkv"), "k", "v", "--allow-empty-password"], environment: ["SEALKV_PASSWORD": ""]).expect(0, "put")
        try ToolProcess.run(["get", f.path("c.sealkv"), "k"], environment: ["SEALKV_PASSWORD": ""]).expect(2, "get without the flag")
    }

    /// `passwd` names the new credential's own options: `--new-password-file` and `--new-key-file`,
    /// not the current credential's `--password-file` and `--key-file`.
    @Test func passwdNamesTheNewCredentialsOptions() throws {
        let f = ToolFixture()
        let store = try f.store("n.sealkv")
        let noSource = try f.run(["passwd", store])
        noSource.expect(2, "passwd with no new credential and no terminal")
        #expect(noSource.err.contains("--new-password-file") && noSource.err.contains("--new-key-file"), "\(noSource.err)")
        let folder = try f.run(["passwd", store, "--new-password-file", f.dir])
        folder.expect(2, "a folder as the new password file")
        #expect(folder.err.contains("new password file") && folder.err.contains("directory"), "\(folder.err)")
        TestSupport.writeFile(f.path("short.key"), [UInt8](repeating: 1, count: 31))
        let key = try f.run(["passwd", store, "--new-key-file", f.path("short.key")])
        key.expect(2, "a 31-byte new key file")
        #expect(key.err.contains("new key file") && key.err.contains("31"), "\(key.err)")
        let both = try f.run(["passwd", store, "--new-key-file", f.path("short.key"), "--new-password-file", f.path("short.key")])
        both.expect(2, "both new credential files")
        #expect(both.err.contains("--new-key-file") && both.err.contains("--new-password-file"), "\(both.err)")
    }

    /// `serve --requirepass-file` is read like the store's credential files: a directory, a FIFO or a
    /// device is refused at once and named, with the option, and a pipe (`<(command)`) is accepted.
    @Test func theClientPasswordFileIsReadLikeEveryCredentialFile() throws {
        let f = ToolFixture()
        let fifo = f.path("fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        let absent = f.path("absent.sealkv")
        for (file, says) in [(f.dir, "directory"), (fifo, "FIFO"), ("/dev/zero", "character device")] {
            let r = try f.run(["serve", absent, "--listen", "127.0.0.1:0", "--requirepass-file", file], timeout: 30)
            r.expect(2, "--requirepass-file \(file)")
            #expect(r.err.contains(says) && r.err.contains("--requirepass-file"), "--requirepass-file \(file): \(r.err)")
        }
        let ends = closeOnExecPipe()
        let password = Array("client pw\n".utf8)
        _ = password.withUnsafeBytes { write(ends.write, $0.baseAddress, $0.count) }
        close(ends.write)
        // Read, so serve goes on to open the store, which is absent.
        let piped = try ToolProcess.run(["serve", absent, "--listen", "127.0.0.1:0", "--requirepass-file", "/dev/fd/3", "--key-file", f.keyFile].map { Array($0.utf8) },
                                        timeout: 30, inherited: [(child: 3, parent: ends.read)])
        close(ends.read)
        piped.expect(2, "--requirepass-file from a pipe")
        #expect(piped.err.contains("there is no store"), "\(piped.err)")
    }

    /// A password given through a pipe (`--password-file <(command)`) is not a FIFO to refuse.
    @Test func aPasswordFromAPipeIsAccepted() throws {
        let f = ToolFixture()
        let ends = closeOnExecPipe()
        let fds = [ends.read, ends.write]
        let password = Array("piped pw\n".utf8)
        _ = password.withUnsafeBytes { write(fds[1], $0.baseAddress, $0.count) }
        close(fds[1])
        let r = try ToolProcess.run([Array("init".utf8), Array(f.path("p.sealkv").utf8), Array("--password-file".utf8), Array("/dev/fd/3".utf8)],
                                    inherited: [(child: 3, parent: fds[0])])
        close(fds[0])
        r.expect(0, "piped password")
        try ToolProcess.run(["put", f.path("p.sealkv"), "k", "v"], environment: ["SEALKV_PASSWORD": "piped pw"]).expect(0, "open with it")
    }

    /// `SEALKV_PASSWORD` is copied out of the environment block and the block is overwritten:
    /// /proc/PID/environ of a running `serve` no longer shows it (unsetenv alone would not do).
    @Test func thePasswordLeavesProcEnvironOfARunningServer() throws {
        let f = ToolFixture()
        let secret = "hunter2-\(UInt32.random(in: 0...UInt32.max))"
        let store = f.path("srv.sealkv")
        try ToolProcess.run(["init", store], environment: ["SEALKV_PASSWORD": secret]).expect(0, "init")
        let server = try ToolProcess.start([Array("serve".utf8), Array(store.utf8), Array("--listen".utf8), Array("127.0.0.1:0".utf8)],
                                           environment: ["SEALKV_PASSWORD": secret, "SEALKV_TEST_MARKER": "visible"])
        defer {
            server.signal(SIGTERM)
            _ = server.finish(timeout: 60)
        }
        let deadline = Date().addingTimeInterval(60)
        while server.isRunning && !String(decoding: server.stderr, as: UTF8.self).contains("SIGTERM stops") && Date() < deadline { usleep(10_000) }
        #expect(server.isRunning, "serve did not start: \(String(decoding: server.stderr, as: UTF8.self))")
        let environ = TestSupport.readFile("/proc/\(server.pid)/environ")
        let readable = TestSupport.contains(environ, Array("SEALKV_TEST_MARKER=visible".utf8))
        let leaked = TestSupport.contains(environ, Array(secret.utf8))
        #expect(readable, "could not read the server's environment")
        #expect(!leaked, "the password is readable in /proc/\(server.pid)/environ")
    }

    /// While `serve` runs, no password it was given lies in its memory outside memory excluded from
    /// core dumps (`sodium_malloc`'s): not the store's `SEALKV_PASSWORD`, which it needs only to
    /// open the store; not `SEALKV_NEW_PASSWORD`, which it has no use for and must not even copy;
    /// not the `--requirepass-file` password, of which it keeps only a keyed digest.
    @Test func noPasswordStaysInTheServersMemory() throws {
        let f = ToolFixture()
        let tag = UInt32.random(in: 0...UInt32.max)
        let storePassword = "store-secret-\(tag)-a", newPassword = "new-secret-\(tag)-b", clientPassword = "client-secret-\(tag)-c"
        let store = f.path("m.sealkv")
        try ToolProcess.run(["init", store], environment: ["SEALKV_PASSWORD": storePassword]).expect(0, "init")
        TestSupport.writeFile(f.path("requirepass"), Array((clientPassword + "\n").utf8))
        let server = try ToolProcess.start(["serve", store, "--listen", "127.0.0.1:0", "--requirepass-file", f.path("requirepass")].map { Array($0.utf8) },
                                           environment: ["SEALKV_PASSWORD": storePassword, "SEALKV_NEW_PASSWORD": newPassword])
        defer {
            server.signal(SIGTERM)
            _ = server.finish(timeout: 60)
        }
        let deadline = Date().addingTimeInterval(60)
        while server.isRunning && !String(decoding: server.stderr, as: UTF8.self).contains("SIGTERM stops") && Date() < deadline { usleep(10_000) }
        #expect(server.isRunning, "serve did not start: \(String(decoding: server.stderr, as: UTF8.self))")
        let secrets = [storePassword, newPassword, clientPassword].map { Array($0.utf8) }
        guard let found = ProcessMemory.occurrences(of: secrets, in: server.pid) else {
            print("skipped: /proc/\(server.pid)/mem cannot be read here")
            return
        }
        let exposed = found[Array(storePassword.utf8), default: []].filter { !$0.excludedFromCoreDumps }
        #expect(exposed.isEmpty, "SEALKV_PASSWORD lies in ordinary memory: \(exposed)")
        #expect(found[Array(newPassword.utf8), default: []].isEmpty, "SEALKV_NEW_PASSWORD was copied: \(found[Array(newPassword.utf8)] ?? [])")
        #expect(found[Array(clientPassword.utf8), default: []].isEmpty, "the --requirepass-file password is kept: \(found[Array(clientPassword.utf8)] ?? [])")
    }
}
