import SealKV
#if canImport(Glibc)
import Glibc
#endif

/// Reader processes beside the kill mode's writer: each opens the store read-only, again and again,
/// and holds snapshots across the writer's commits, reporting every snapshot it saw with the digest
/// of its contents (`snap TXNID DIGEST`), which the parent compares with what the writer
/// acknowledged. A reader must never see a state that was not committed, nor a page a writer reused
/// under its snapshot (that would fail authentication, which it reports as `error ...`).
struct ReaderProcess {
    let pid: pid_t
    /// Where the child writes its report lines.
    let outputPath: String

    /// Starts `command` + `--reader-child PATH --credential-index N`, its standard output going to
    /// `outputPath`.
    static func start(_ command: [String], path: String, credentials: Int, outputPath: String) throws -> ReaderProcess {
        let out = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard out >= 0 else { throw SealKVError.system("create the reader's report", path: outputPath, errno: errno) }
        defer { close(out) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, out, 1)
        let arguments = command + ["--reader-child", path, "--credential-index", "\(credentials)"]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, arguments[0], &actions, nil, &argv, environ)
        guard rc == 0 else { throw SealKVError.system("start the reader process '\(arguments[0])'", path: nil, errno: rc) }
        return ReaderProcess(pid: pid, outputPath: outputPath)
    }

    /// Kills the reader with SIGKILL (it may hold a snapshot: its pages must become reusable) and
    /// returns what it reported: snapshots, and errors.
    func kill() -> (snapshots: [(txn: UInt64, digest: UInt64)], errors: [String]) {
        // A reader that is no longer running died on its own (a SIGBUS from a file cut under it, a
        // crash): that is a failure, not the kill.
        var status: Int32 = 0
        var died: String? = nil
        if waitpid(pid, &status, WNOHANG) == pid {
            let signal = status & 0x7f
            died = signal != 0 ? "the reader process died of signal \(signal)" : "the reader process exited with status \((status >> 8) & 0xff)"
        } else {
            Glibc.kill(pid, SIGKILL)
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        let text = String(decoding: readWhole(outputPath), as: UTF8.self)
        unlink(outputPath)
        var snapshots: [(UInt64, UInt64)] = [], errors: [String] = []
        for line in text.split(separator: "\n") where text.hasSuffix("\n") || line != text.split(separator: "\n").last {
            let f = line.split(separator: " ", maxSplits: 2)
            if f.count == 3, f[0] == "snap", let t = UInt64(f[1]), let d = UInt64(f[2], radix: 16) { snapshots.append((t, d)) }
            if f.first == "error" { errors.append(String(line)) }
        }
        if let died { errors.append("error \(died)") }
        return (snapshots, errors)
    }

    private func readWhole(_ path: String) -> [UInt8] {
        guard let f = fopen(path, "rb") else { return [] }
        defer { fclose(f) }
        var out: [UInt8] = [], buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, f)
            if n == 0 { break }
            out += buffer[..<n]
        }
        return out
    }
}

extension KillHarness {
    /// Runs in a reader child: until killed, opens the store read-only (with the newest of the
    /// harness keys that opens it) and reads snapshots, each held for a few milliseconds across
    /// the writer's commits, its digest taken at the start and again at the end (a snapshot must
    /// not change). Reports `snap TXNID DIGEST` per snapshot and `error MESSAGE` when a read fails
    /// in a way a reader beside a writer must never see.
    public static func readerChild(path: String, credentialIndex: Int) throws {
        var rng = SeededGenerator(seed: UInt64(getpid()))
        while true {
            guard let db = openReader(path, credentials: credentialIndex) else {
                usleep(5_000)
                continue
            }
            defer { db.close() }
            for _ in 0..<Int.random(in: 5...50, using: &rng) {
                do {
                    try db.read { tx in
                        let first = try Recorder.digest(of: tx)
                        usleep(UInt32.random(in: 0...20_000, using: &rng))
                        let again = try Recorder.digest(of: tx)
                        if first != again {
                            ChildJournal.emit("error snapshot \(tx.snapshotTxnID) changed while it was read")
                        }
                        ChildJournal.emit("snap \(tx.snapshotTxnID) \(String(first, radix: 16))")
                    }
                } catch let e as SealKVError where e.code == .rekeyed || e.code == .closed {
                    break   // a rekey by the writer: open again with the keys
                } catch {
                    ChildJournal.emit("error \(error)")
                }
            }
        }
    }

    /// The store opened read-only with the newest harness key that opens it, or nil (not created yet).
    private static func openReader(_ path: String, credentials: Int) -> Database? {
        for index in stride(from: credentials + 4, through: 0, by: -1) {
            guard let key = try? HarnessCredentials.key(index) else { continue }
            var o = Options(cacheSize: 1 << 20)
            o.mode = .readOnly
            if let db = try? Database.open(at: path, credential: key, options: o) { return db }
        }
        return nil
    }
}
