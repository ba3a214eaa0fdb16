import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs the built `sealkv` binary the way a shell does, for the tool's subprocess tests:
/// arguments as raw bytes (so invalid UTF-8 can be passed), a chosen environment, standard input
/// from bytes, a file or `/dev/null`, output captured in files, in a session of its own (so a
/// password prompt can never reach the terminal the tests run in), and a deadline after which it
/// is killed and the run reported as hung.
enum ToolProcess {
    /// The binary next to the test bundle (or SEALKV_TOOL_BINARY, to run the tests against another
    /// build, such as an older one, to see which tests it fails).
    static var binary: String {
        if let other = ProcessInfo.processInfo.environment["SEALKV_TOOL_BINARY"] { return other }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("sealkv").path
    }

    /// Where standard input comes from.
    enum Input {
        case null
        case bytes([UInt8])
        case file(String)
        /// A descriptor of this process (the read end of a pipe the test writes to).
        case descriptor(Int32)
    }

    struct Result {
        /// The exit status, or 128 + the signal that ended it.
        let status: Int32
        let stdout: [UInt8]
        let stderr: [UInt8]
        /// Killed at the deadline.
        let timedOut: Bool
        /// The most memory it held at once (peak resident set, sampled while it ran), in bytes.
        let peakMemory: Int
        var out: String { String(decoding: stdout, as: UTF8.self) }
        var err: String { String(decoding: stderr, as: UTF8.self) }
    }

    /// A started process.
    final class Running {
        let pid: pid_t
        let folder: String
        private(set) var status: Int32? = nil
        /// Peak resident set in bytes, as far as seen while it ran (sampled every few milliseconds).
        private(set) var peakMemory = 0

        init(pid: pid_t, folder: String) {
            self.pid = pid
            self.folder = folder
        }

        deinit {
            if status == nil {
                kill(pid, SIGKILL)
                _ = wait(timeout: 10)
            }
            _ = system("rm -rf '\(folder)'")
        }

        /// What it wrote to standard output and error so far.
        var stdout: [UInt8] { Array((try? Data(contentsOf: URL(fileURLWithPath: folder + "/out"))) ?? Data()) }
        var stderr: [UInt8] { Array((try? Data(contentsOf: URL(fileURLWithPath: folder + "/err"))) ?? Data()) }

        /// Whether it is still running.
        var isRunning: Bool {
            if status != nil { return false }
            // The kernel's high-water mark of this program's memory (VmHWM), read while it runs:
            // rusage's maxrss would count the test process too, whose memory a posix_spawn'ed
            // child shares until it execs.
            if let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
               let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
               let kib = Int(line.split(separator: " ").dropFirst().first ?? "") {
                peakMemory = max(peakMemory, kib * 1024)
            }
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid { status = Self.decode(raw) }
            return status == nil
        }

        /// Waits up to `timeout` seconds; returns the status, or nil if it is still running.
        func wait(timeout: Double) -> Int32? {
            let deadline = Date().addingTimeInterval(timeout)
            while isRunning && Date() < deadline { usleep(2_000) }
            return status
        }

        /// Sends `signal`.
        func signal(_ signal: Int32) { if status == nil { kill(pid, signal) } }

        /// Waits for the end (killing it at the deadline) and collects the result.
        func finish(timeout: Double = 120) -> Result {
            var timedOut = false
            if wait(timeout: timeout) == nil {
                timedOut = true
                kill(pid, SIGKILL)
                _ = wait(timeout: 30)
            }
            return Result(status: status ?? -1, stdout: stdout, stderr: stderr, timedOut: timedOut, peakMemory: peakMemory)
        }

        static func decode(_ raw: Int32) -> Int32 {
            let signal = raw & 0x7F
            return signal == 0 ? (raw >> 8) & 0xFF : 128 + signal
        }
    }

    /// Runs `sealkv arguments…` to the end (or the deadline).
    static func run(_ arguments: [[UInt8]], environment: [String: String] = [:], stdin: Input = .null, timeout: Double = 120,
                    extraDescriptors: [(Int32, String)] = [], inherited: [(child: Int32, parent: Int32)] = []) throws -> Result {
        try start(arguments, environment: environment, stdin: stdin, extraDescriptors: extraDescriptors, inherited: inherited).finish(timeout: timeout)
    }

    /// Runs with text arguments.
    static func run(_ arguments: [String], environment: [String: String] = [:], stdin: Input = .null, timeout: Double = 120) throws -> Result {
        try run(arguments.map { Array($0.utf8) }, environment: environment, stdin: stdin, timeout: timeout)
    }

    /// Starts `sealkv arguments…` in a session of its own. `extraDescriptors` opens a path as a
    /// descriptor in the child (a terminal's slave side, which then becomes its controlling
    /// terminal; descriptor 2 sends standard error there); `inherited` hands descriptors of this
    /// process to the child (a pipe, as `<(command)` does).
    static func start(_ arguments: [[UInt8]], environment: [String: String] = [:], stdin: Input = .null, stdout: String? = nil,
                      extraDescriptors: [(Int32, String)] = [], inherited: [(child: Int32, parent: Int32)] = []) throws -> Running {
        var template = Array("/tmp/sealkv-run-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw POSIXError(.EIO) }
        let folder = String(cString: made)
        let inputPath: String
        switch stdin {
        case .null: inputPath = "/dev/null"
        case .file(let path): inputPath = path
        case .descriptor: inputPath = "/dev/null"
        case .bytes(let bytes):
            inputPath = folder + "/in"
            try Data(bytes).write(to: URL(fileURLWithPath: inputPath))
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if case .descriptor(let fd) = stdin {
            posix_spawn_file_actions_adddup2(&actions, fd, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, inputPath, O_RDONLY, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 1, stdout ?? folder + "/out", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, folder + "/err", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        for (fd, path) in extraDescriptors { posix_spawn_file_actions_addopen(&actions, fd, path, O_RDWR, 0) }
        for (child, parent) in inherited { posix_spawn_file_actions_adddup2(&actions, parent, child) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        // POSIX_SPAWN_SETSID (0x80): a new session, without a controlling terminal.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | 0x80))

        var env = ProcessInfo.processInfo.environment
        for name in ["SEALKV_PASSWORD", "SEALKV_NEW_PASSWORD", "SEALKV_MIN_TXN"] { env[name] = nil }
        for (k, v) in environment { env[k] = v }
        let argv = [Array(binary.utf8)] + arguments
        let envp = env.map { Array("\($0.key)=\($0.value)".utf8) }
        let pid: pid_t = try withCStrings(argv) { cArgs in
            try withCStrings(envp) { cEnv in
                var pid: pid_t = 0
                let rc = posix_spawn(&pid, binary, &actions, &attributes, cArgs, cEnv)
                guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
                return pid
            }
        }
        return Running(pid: pid, folder: folder)
    }

    /// NUL-terminated copies of `strings`, as a NULL-terminated array for the duration of `body`.
    private static func withCStrings<R>(_ strings: [[UInt8]], _ body: ([UnsafeMutablePointer<CChar>?]) throws -> R) rethrows -> R {
        let pointers: [UnsafeMutablePointer<CChar>?] = strings.map { s in
            let p = UnsafeMutablePointer<CChar>.allocate(capacity: s.count + 1)
            for (i, b) in s.enumerated() { p[i] = CChar(bitPattern: b) }
            p[s.count] = 0
            return p
        } + [nil]
        defer { for p in pointers { p?.deallocate() } }
        return try body(pointers)
    }
}

/// A pseudo-terminal whose slave side a child process takes as its controlling terminal, to test
/// prompts that must appear on `/dev/tty` even when standard input is redirected.
final class PseudoTerminal {
    let master: Int32
    let slavePath: String
    private var seen: [UInt8] = []

    init() throws {
        master = systemPosixOpenpt(O_RDWR | O_NOCTTY)
        guard master >= 0, systemGrantpt(master) == 0, systemUnlockpt(master) == 0, let name = systemPtsname(master) else { throw POSIXError(.EIO) }
        slavePath = String(cString: name)
        _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
    }

    deinit { close(master) }

    /// Everything the child wrote to the terminal so far.
    var transcript: String {
        drain()
        return String(decoding: seen, as: UTF8.self)
    }

    /// Waits until the terminal shows `text` `occurrence` times; false at the deadline.
    func waitFor(_ text: String, occurrence: Int = 1, timeout: Double = 60) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if transcript.components(separatedBy: text).count - 1 >= occurrence { return true }
            usleep(5_000)
        }
        return false
    }

    /// Types `text` into the terminal.
    func type(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { write(master, $0.baseAddress, $0.count) }
    }

    private func drain() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(master, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            seen.append(contentsOf: buffer[..<n])
        }
    }
}

// The pseudo-terminal calls, which Glibc's Swift module leaves out (they need _XOPEN_SOURCE).
@_silgen_name("posix_openpt") private func systemPosixOpenpt(_ flags: Int32) -> Int32
@_silgen_name("grantpt") private func systemGrantpt(_ fd: Int32) -> Int32
@_silgen_name("unlockpt") private func systemUnlockpt(_ fd: Int32) -> Int32
@_silgen_name("ptsname") private func systemPtsname(_ fd: Int32) -> UnsafeMutablePointer<CChar>?

/// A pipe whose ends are closed on exec, so children started meanwhile (tests run in parallel) do not
/// inherit them and keep a reader from seeing the end of its input; `ToolProcess` hands an end to
/// its child explicitly.
func closeOnExecPipe() -> (read: Int32, write: Int32) {
    var fds: [Int32] = [0, 0]
    precondition(systemPipe2(&fds, O_CLOEXEC) == 0, "pipe2 failed")
    return (fds[0], fds[1])
}

@_silgen_name("pipe2") private func systemPipe2(_ fds: UnsafeMutablePointer<Int32>, _ flags: Int32) -> Int32
