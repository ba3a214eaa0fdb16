import SealKV
#if canImport(Glibc)
import Glibc
#endif

/// What the process-kill mode explored and found.
public struct KillReport: Sendable {
    /// Child processes started, killed with SIGKILL, and finished before their kill came.
    public var rounds = 0
    /// Children killed with SIGKILL while writing.
    public var killed = 0
    /// Children that finished their workload before the kill.
    public var completed = 0
    /// Commits the children reported as acknowledged, in all.
    public var acknowledgedCommits = 0
    /// Rounds whose reopen found the commit the child was making when it died (issued, never
    /// acknowledged) rather than the last acknowledged one.
    public var recoveredUnacknowledged = 0
    /// Snapshots reader processes read beside the writers.
    public var readerSnapshots = 0
    /// Those of ``readerSnapshots`` that could be compared with contents a writer acknowledged for
    /// the same commit (all of them matched, or there is a violation).
    public var readerSnapshotsCompared = 0
    /// Reader processes killed with SIGKILL (holding a snapshot or not) and started again.
    public var readersKilled = 0
    /// Seconds of the whole run.
    public var seconds = 0.0
    /// Every broken promise found.
    public var violations: [CrashViolation] = []
}

/// Process-kill mode: child processes run the workload on a real file (io_uring, fsync, locking and
/// all) and report each acknowledged commit on their standard output; the parent kills each with
/// SIGKILL at a seeded random moment, reopens the file, runs the full check, and verifies that the
/// newest acknowledged commit is there with exactly its contents. Every round continues on the file
/// the previous one left. A kill keeps the OS cache, so every durability mode must keep every
/// acknowledged commit.
public struct KillHarness {
    /// What each child runs.
    public let configuration: CrashConfiguration
    /// Rounds (child processes) to run; the first runs to completion to time the workload.
    public var rounds = 20
    /// The command that runs a child: the executable and the arguments that make it call
    /// ``KillHarness/child(path:credentialIndex:configuration:)``. The harness appends
    /// `--kill-child PATH --credential-index N --seed S`.
    public let childCommand: [String]
    /// Folder for the store (created if missing); the store file is removed at the end if clean.
    public let directory: String
    /// Called after each round with (rounds done, rounds).
    public var progress: ((Int, Int) -> Void)?
    /// Reader processes to run beside the writers (`--reader-child`), each reading and checking
    /// snapshots across every round, and now and then killed and started again.
    public var readerProcesses = 0

    /// A kill-mode harness whose children run `childCommand` on stores in `directory`.
    public init(_ configuration: CrashConfiguration, childCommand: [String], directory: String) {
        self.configuration = configuration
        self.childCommand = childCommand
        self.directory = directory
    }

    /// Runs the rounds.
    public func run() throws -> KillReport {
        let started = ContinuousClock.now
        var report = KillReport()
        mkdir(directory, 0o700)
        let path = directory + "/kill-\(configuration.workload.name)-\(configuration.seed).sealkv"
        unlink(path)
        var rng = SeededGenerator(seed: configuration.seed ^ 0x4B11)
        var credentialIndex = 0
        var floor: Int64 = -1          // the commit the file held when the round began
        var floorDigest: UInt64? = nil
        var workloadMilliseconds = 0
        var readers = try (0..<readerProcesses).map { i in
            try ReaderProcess.start(childCommand, path: path, credentials: 0, outputPath: "\(path).reader-\(i)")
        }
        var known: [UInt64: UInt64] = [:]   // txnid -> digest, as writers acknowledged or reopening found
        var readerReports: [(snapshots: [(txn: UInt64, digest: UInt64)], errors: [String])] = []
        var newestIssued: Int64 = -1
        // When a reopen falls back past a torn commit, the next writable open retires it: it writes
        // the opened state again under a txnid past the refused one (`Recovery.prepareForWriting`),
        // before the child can report anything. That commit is legitimate with the opened contents.
        var retirement: (txn: Int64, digest: UInt64)? = nil
        for round in 0..<rounds {
            let seed = configuration.seed &+ UInt64(round) &* 7919
            let delay = round == 0 ? nil : Int.random(in: 0...max(1, workloadMilliseconds), using: &rng)
            let id = "\(configuration.replayPrefix):kill:\(round)"
            let roundStart = ContinuousClock.now
            let child = try runChild(path: path, credentialIndex: credentialIndex, seed: seed, killAfterMilliseconds: delay)
            // The first round, never killed, measures how long a whole run takes; a later child that
            // finished before its kill shows runs are now shorter (the first one may have run on a
            // busy machine), and later kills are drawn within its time instead, so most children
            // are still killed mid-run.
            let took = max(20, Int(seconds(ContinuousClock.now - roundStart) * 1000))
            if round == 0 { workloadMilliseconds = took } else if !child.killed { workloadMilliseconds = min(workloadMilliseconds, took) }
            report.rounds += 1
            if child.killed { report.killed += 1 } else { report.completed += 1 }
            if !child.killed && child.status != 0 {
                report.violations.append(CrashViolation(kind: .childFailed, replayID: id, message: "the child exited with status \(child.status): \(child.stderr.prefix(300))"))
                break
            }
            report.acknowledgedCommits += child.acks.count
            for (txn, digest) in child.acks { known[txn] = digest }
            // Concurrent writers acknowledge out of commit order: the newest is the largest.
            let newestAck = child.acks.map(\.txn).max()
            newestIssued = max(newestIssued, child.issued, newestAck.map { Int64($0) } ?? -1, retirement?.txn ?? -1)
            if !readers.isEmpty && Int.random(in: 0..<3, using: &rng) == 0 {
                // Kill one reader, maybe while it holds a snapshot, and start another.
                let i = Int.random(in: 0..<readers.count, using: &rng)
                readerReports.append(readers[i].kill())
                report.readersKilled += 1
                readers[i] = try ReaderProcess.start(childCommand, path: path, credentials: max(credentialIndex, child.credentialIndex),
                                                     outputPath: "\(path).reader-\(i)")
            }
            var digests: [UInt64: UInt64] = [:]
            if floor >= 0, let floorDigest { digests[UInt64(floor)] = floorDigest }
            for (txn, digest) in child.acks { digests[txn] = digest }
            if let retirement { digests[UInt64(retirement.txn)] = retirement.digest }
            let acknowledged = newestAck.map { Int64($0) } ?? floor
            let maxCredential = max(credentialIndex, child.credentialIndex)
            switch verify(path: path, acknowledged: acknowledged, issued: max(0, acknowledged, child.issued, retirement?.txn ?? -1), digests: digests, credentials: maxCredential) {
            case .failure(let violation):
                report.violations.append(CrashViolation(kind: violation.kind, replayID: id, message: violation.message))
            case .success(let state):
                if state.txn >= 0 { known[UInt64(state.txn)] = state.digest }
                if state.txn > acknowledged { report.recoveredUnacknowledged += 1 }
                floor = state.txn
                floorDigest = state.digest
                if let refused = state.refusedTxn {
                    let txn = Recovery.retiringTxnID(refused: refused, opened: UInt64(state.txn))
                    retirement = (Int64(txn), state.digest)
                    known[txn] = state.digest
                }
                credentialIndex = state.credentialIndex
            }
            progress?(round + 1, rounds)
            if !report.violations.isEmpty { break }
        }
        readerReports += readers.map { $0.kill() }
        judgeReaders(readerReports, known: known, newestIssued: newestIssued, into: &report)
        if report.violations.isEmpty {
            unlink(path)
            unlink(Database.lockFilePath(forStore: path))
        }
        report.seconds = seconds(ContinuousClock.now - started)
        return report
    }

    /// Compares every snapshot the readers reported with what the writers acknowledged.
    private func judgeReaders(_ reports: [(snapshots: [(txn: UInt64, digest: UInt64)], errors: [String])], known: [UInt64: UInt64],
                              newestIssued: Int64, into report: inout KillReport) {
        let id = "\(configuration.replayPrefix):readers"
        for r in reports {
            for error in r.errors.prefix(3) {
                report.violations.append(CrashViolation(kind: .readerFailed, replayID: id, message: "a reader beside the writer: \(error)"))
            }
            report.readerSnapshots += r.snapshots.count
            for (txn, digest) in r.snapshots {
                if Int64(txn) > newestIssued {
                    report.violations.append(CrashViolation(kind: .phantomCommit, replayID: id, message: "a reader saw commit \(txn), which no writer began"))
                } else if let expected = known[txn] {
                    report.readerSnapshotsCompared += 1
                    if expected != digest {
                        report.violations.append(CrashViolation(kind: .contentsDiffer, replayID: id, message: "a reader's snapshot of commit \(txn) differs from what the writer acknowledged"))
                    }
                }
            }
        }
    }

    struct ChildOutcome {
        var killed: Bool
        var status: Int32
        var acks: [(txn: UInt64, digest: UInt64)]
        /// The newest commit the child began to write (reported before its first byte).
        var issued: Int64
        var credentialIndex: Int
        var stderr: String
    }

    /// Starts a child, kills it after `killAfterMilliseconds` (if it is still running), and
    /// collects what it reported.
    func runChild(path: String, credentialIndex: Int, seed: UInt64, killAfterMilliseconds: Int?) throws -> ChildOutcome {
        var out: [Int32] = [0, 0], err: [Int32] = [0, 0]
        guard pipe(&out) == 0, pipe(&err) == 0 else { throw SealKVError.system("create a pipe for the child", path: nil, errno: errno) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, out[1], 1)
        posix_spawn_file_actions_adddup2(&actions, err[1], 2)
        for fd in out + err { posix_spawn_file_actions_addclose(&actions, fd) }
        let arguments = childCommand + ["--kill-child", path, "--credential-index", "\(credentialIndex)", "--seed", "\(seed)"]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, arguments[0], &actions, nil, &argv, environ)
        close(out[1]); close(err[1])
        guard rc == 0 else {
            close(out[0]); close(err[0])
            throw SealKVError.system("start the child process '\(arguments[0])'", path: nil, errno: rc)
        }
        let deadline = killAfterMilliseconds.map { ContinuousClock.now + .milliseconds($0) }
        var killed = false
        var stdout: [UInt8] = [], stderr: [UInt8] = []
        var open: Set<Int32> = [out[0], err[0]]
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !open.isEmpty {
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            var timeout: Int32 = 1000
            if let deadline, !killed {
                let left = deadline - ContinuousClock.now
                if left <= .zero {
                    kill(pid, SIGKILL)
                    killed = true
                } else {
                    timeout = Int32(max(1, min(1000, seconds(left) * 1000)))
                }
            }
            _ = poll(&fds, nfds_t(fds.count), timeout)
            for p in fds where p.revents != 0 {
                let n = read(p.fd, &buffer, buffer.count)
                if n <= 0 {
                    open.remove(p.fd)
                    close(p.fd)
                } else if p.fd == out[0] {
                    stdout += buffer[..<n]
                } else {
                    stderr += buffer[..<n]
                }
            }
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signaled = (status & 0x7f) != 0 && (status & 0x7f) != 0x7f
        let exitCode = (status >> 8) & 0xff
        // Only complete lines count: a line cut by the kill was never fully reported.
        var acks: [(UInt64, UInt64)] = []
        var issued: Int64 = -1
        var credential = credentialIndex
        let text = String(decoding: stdout, as: UTF8.self)
        let complete = text.hasSuffix("\n") ? text : String(text[..<(text.lastIndex(of: "\n").map { text.index(after: $0) } ?? text.startIndex)])
        for line in complete.split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count == 3, f[0] == "ack", let t = UInt64(f[1]), let d = UInt64(f[2], radix: 16) { acks.append((t, d)) }
            if f.count == 2, f[0] == "credential", let c = Int(f[1]) { credential = max(credential, c) }
            if f.count == 2, f[0] == "issue", let t = Int64(f[1]) { issued = max(issued, t) }
        }
        return ChildOutcome(killed: killed && signaled, status: signaled ? -1 : exitCode, acks: acks, issued: issued, credentialIndex: credential,
                            stderr: String(decoding: stderr, as: UTF8.self))
    }

    struct Recovered {
        var txn: Int64
        var digest: UInt64
        var credentialIndex: Int
        /// The newest commit the reopen refused as incomplete, if it fell back past one.
        var refusedTxn: UInt64? = nil
    }
    struct Violation: Error { var kind: CrashViolation.Kind; var message: String }

    /// Reopens the file (read-only first, to check it as the crash left it) and checks the promises.
    func verify(path: String, acknowledged: Int64, issued: Int64, digests: [UInt64: UInt64], credentials: Int) -> Result<Recovered, Violation> {
        var lastError = "no credential opened it"
        // A child killed during a password change may leave either key in force.
        for index in stride(from: credentials + 1, through: 0, by: -1) {
            do {
                var o = Options(durability: configuration.durability, cacheSize: 1 << 20)
                o.mode = .readOnly
                let db = try Database.open(at: path, credential: HarnessCredentials.key(index), options: o)
                defer { db.close() }
                let k = Int64(db.currentTxnID)
                if k < acknowledged {
                    return .failure(Violation(kind: .lostCommit, message: "reopened at commit \(k), but the child reported commit \(acknowledged) acknowledged"))
                }
                if k > issued {
                    return .failure(Violation(kind: .phantomCommit, message: "reopened at commit \(k); the child had begun no commit past \(issued)"))
                }
                let check = try db.check()
                if !check.isClean { return .failure(Violation(kind: .checkFailed, message: "\(check.problems.prefix(3))")) }
                let digest = try Recorder.digest(db)
                if let expected = digests[UInt64(k)], expected != digest {
                    return .failure(Violation(kind: .contentsDiffer, message: "commit \(k) reopened with contents other than those the child acknowledged"))
                }
                return .success(Recovered(txn: k, digest: digest, credentialIndex: index,
                                          refusedTxn: db.recovery.fellBack ? db.recovery.refusedTxnID : nil))
            } catch let e as SealKVError where e.code == .notASealKVFile || e.code == .fileNotFound {
                // Killed before the store's creation was complete: nothing was acknowledged yet.
                if acknowledged < 0 { return .success(Recovered(txn: -1, digest: 0, credentialIndex: 0)) }
                lastError = "\(e)"
                break
            } catch {
                // Try every key: an interrupted password change can leave a store only the previous one opens.
                lastError = "\(error)"
            }
        }
        return .failure(Violation(kind: .openFailed, message: "the store did not reopen after the kill: \(lastError)"))
    }


    // MARK: The child side

    /// Runs in the child process: opens (or creates) the store at `path` with the harness key
    /// `credentialIndex`, runs the workload, and prints `ack TXNID DIGEST` after each acknowledged
    /// commit and `credential N` before each password change, flushing every line.
    public static func child(path: String, credentialIndex: Int, configuration: CrashConfiguration) throws {
        let journal = ChildJournal(credentials: try (0...credentialIndex).map { try HarnessCredentials.key($0) })
        let db = try Database.open(at: path, credential: journal.credentials.last!,
                                   options: Options(durability: configuration.durability, cacheSize: 1 << 20, writeEngine: configuration.writeEngine))
        defer { db.close() }
        db.commitObserver.withLock { $0 = CommitObserver(willWrite: { txn in ChildJournal.emit("issue \(txn)") }, didPublish: { _ in }) }
        try journal.acknowledge(db)
        let context = WorkloadContext(database: db, random: SeededGenerator(seed: configuration.seed), operations: configuration.operations, journal: journal)
        try configuration.workload.run(context)
        if configuration.durability == .noSync {
            try db.sync()
        }
    }
}

/// The child's journal: tells the parent through standard output.
final class ChildJournal: WorkloadJournal {
    var credentials: [Credential] {
        didSet { Self.emit("credential \(credentials.count - 1)") }
    }

    init(credentials: [Credential]) { self.credentials = credentials }

    /// Several writer threads may acknowledge at once: the txnid and digest come from one snapshot.
    var acceptsConcurrentWriters: Bool { true }

    func acknowledge(_ database: Database) throws {
        let (txn, digest) = try database.read { tx in (tx.snapshotTxnID, try Recorder.digest(of: tx)) }
        Self.emit("ack \(txn) \(String(digest, radix: 16))")
    }

    func synced(_ database: Database) {}

    /// Writes one line to standard output in one call (a pipe write this small is atomic).
    static func emit(_ line: String) {
        var bytes = Array((line + "\n").utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(1, $0.baseAddress! + done, $0.count - done) }
            if n <= 0 { if errno == EINTR { continue }; return }
            done += n
        }
    }
}
