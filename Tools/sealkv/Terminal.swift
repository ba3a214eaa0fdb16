#if canImport(Glibc)
import Glibc
#endif

/// The controlling terminal (`/dev/tty`), where password prompts go even when standard input and
/// output are redirected (`sealkv load store < data.jsonl`).
enum Terminal {
    /// Writes `prompt` to the terminal and reads one line with echo off (twice with `confirm`, which
    /// must match); `body` gets the bytes, which are wiped after it returns. Returns nil when the
    /// process has no terminal.
    static func readSecret<R>(prompt: String, confirm: Bool, limit: Int, body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        var fd: Int32
        repeat { fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC) } while fd < 0 && errno == EINTR
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return try withUnsafeTemporaryAllocation(byteCount: 2 * (limit + 1), alignment: 16) { buffer in
            defer { wipe(buffer.baseAddress!, count: buffer.count) }
            let first = UnsafeMutableRawBufferPointer(rebasing: buffer[..<(limit + 1)])
            let count = try readLine(fd, prompt: prompt, into: first, limit: limit)
            if confirm {
                let second = UnsafeMutableRawBufferPointer(rebasing: buffer[(limit + 1)...])
                let again = try readLine(fd, prompt: "Repeat: ", into: second, limit: limit)
                guard again == count, memcmp(first.baseAddress!, second.baseAddress!, count) == 0 else {
                    throw ToolFailure("the passwords do not match; nothing was changed.", exitCode: 2)
                }
            }
            return try body(UnsafeRawBufferPointer(rebasing: first[..<count]))
        }
    }

    /// Prompts and reads one line with echo off; a signal meanwhile restores the terminal first.
    /// Echo goes off (discarding what was typed before) before the prompt appears, so nothing
    /// typed after it is lost or shown.
    private static func readLine(_ fd: Int32, prompt: String, into buffer: UnsafeMutableRawBufferPointer, limit: Int) throws -> Int {
        var saved = termios()
        let isTerminal = tcgetattr(fd, &saved) == 0
        if isTerminal {
            var silent = saved
            silent.c_lflag &= ~tcflag_t(ECHO)
            EchoGuard.arm(fd: fd, saved: saved)
            tcsetattr(fd, TCSAFLUSH, &silent)
        }
        defer {
            if isTerminal {
                tcsetattr(fd, TCSADRAIN, &saved)
                EchoGuard.disarm()
            }
            writeAll(fd, "\n")
        }
        writeAll(fd, prompt)
        var count = 0
        var byte: UInt8 = 0
        while true {
            let n = read(fd, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 || byte == 0x0A { break }
            guard count < limit else { throw ToolFailure("that password is longer than \(limit) bytes.", exitCode: 2) }
            buffer[count] = byte
            count += 1
        }
        byte = 0
        if count > 0 && buffer[count - 1] == 0x0D { count -= 1 }
        return count
    }

    private static func writeAll(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            done += n
        }
    }
}

/// Restores echo on the terminal if SIGINT, SIGTERM or SIGHUP arrives while a prompt has it off,
/// then lets the signal end the process as it would have.
private enum EchoGuard {
    nonisolated(unsafe) static var fd: Int32 = -1
    nonisolated(unsafe) static var saved = termios()

    static func arm(fd: Int32, saved: termios) {
        Self.saved = saved
        Self.fd = fd
        for s in [SIGINT, SIGTERM, SIGHUP] { signal(s, restoreAndRaise) }
    }

    static func disarm() {
        fd = -1
        for s in [SIGINT, SIGTERM, SIGHUP] { signal(s, SIG_DFL) }
    }
}

private func restoreAndRaise(_ sig: Int32) {
    if EchoGuard.fd >= 0 { tcsetattr(EchoGuard.fd, TCSAFLUSH, &EchoGuard.saved) }
    signal(sig, SIG_DFL)
    raise(sig)
}
