import ArgumentParser
import SealKV
#if canImport(Glibc)
import Glibc
#endif

/// Where the store's credential comes from: `SEALKV_PASSWORD`, a password file, a key file, or a
/// prompt without echo. Never a plain argument, so it does not show up in `ps` or shell history.
struct CredentialOptions: ParsableArguments {
    @Option(name: .customLong("password-file"), help: "Read the password from this file (first line).")
    var passwordFile: String?

    @Option(name: .customLong("key-file"), help: "Read a raw 32-byte key from this file.")
    var keyFile: String?

    func credential(confirmNew: Bool = false) throws -> Credential {
        try CredentialSource(passwordFile: passwordFile, keyFile: keyFile, environmentVariable: "SEALKV_PASSWORD",
                             prompt: "Password: ").credential(confirmNew: confirmNew)
    }
}

/// One way to obtain a credential, tried in order: key file, password file, environment, prompt.
struct CredentialSource {
    var passwordFile: String?
    var keyFile: String?
    var environmentVariable: String
    var prompt: String

    func credential(confirmNew: Bool = false) throws -> Credential {
        if let keyFile {
            var bytes = try readFileBytes(keyFile)
            defer { for i in bytes.indices { bytes[i] = 0 } }
            guard bytes.count == 32 else {
                throw ValidationError("the key file must hold exactly 32 bytes; '\(keyFile)' holds \(bytes.count).")
            }
            return try bytes.withUnsafeBytes { try Credential.key($0) }
        }
        if let passwordFile {
            var bytes = try readFileBytes(passwordFile)
            defer { for i in bytes.indices { bytes[i] = 0 } }
            let line = bytes.prefix { $0 != 0x0A && $0 != 0x0D }
            return line.withUnsafeBytes { Credential.password(bytes: $0) }
        }
        if let env = getenv(environmentVariable) {
            return Credential.password(bytes: UnsafeRawBufferPointer(start: env, count: strlen(env)))
        }
        if isatty(STDIN_FILENO) != 0 {
            return try promptPassword(prompt, confirm: confirmNew)
        }
        throw ValidationError("no credential: set \(environmentVariable), or pass a password or key file.")
    }
}

func readFileBytes(_ path: String) throws -> [UInt8] {
    guard let f = fopen(path, "rb") else {
        throw ValidationError("cannot read '\(path)': \(String(cString: strerror(errno))).")
    }
    defer { fclose(f) }
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&buffer, 1, buffer.count, f)
        if n == 0 { break }
        out.append(contentsOf: buffer[..<n])
    }
    for i in buffer.indices { buffer[i] = 0 }
    return out
}

/// Reads a password from the terminal with echo off.
func promptPassword(_ prompt: String, confirm: Bool) throws -> Credential {
    func readOnce(_ prompt: String) -> [UInt8] {
        FileHandleOutput.standardError.write(prompt)
        var old = termios()
        tcgetattr(STDIN_FILENO, &old)
        var silent = old
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        defer {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &old)
            FileHandleOutput.standardError.write("\n")
        }
        var bytes: [UInt8] = []
        while true {
            let c = getchar()
            if c == EOF || c == 0x0A { break }
            bytes.append(UInt8(truncatingIfNeeded: c))
        }
        return bytes
    }
    var first = readOnce(prompt)
    defer { for i in first.indices { first[i] = 0 } }
    if confirm {
        var second = readOnce("Repeat: ")
        defer { for i in second.indices { second[i] = 0 } }
        guard first == second else { throw ValidationError("the passwords do not match.") }
    }
    return first.withUnsafeBytes { Credential.password(bytes: $0) }
}

enum FileHandleOutput {
    case standardError
    func write(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}

/// A failure turned into the tool's one-line message and exit code (2 unless stated).
struct ToolFailure: Error, CustomStringConvertible {
    let message: String
    let exitCode: Int32
    init(_ error: SealKVError) {
        message = error.message
        exitCode = 2
    }
    init(_ message: String, exitCode: Int32) {
        self.message = message
        self.exitCode = exitCode
    }
    var description: String { "sealkv: \(message)" }
}
