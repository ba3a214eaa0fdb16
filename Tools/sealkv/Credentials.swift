import ArgumentParser
import SealKV
#if canImport(Glibc)
import Glibc
#endif

/// Where the store's credential comes from: `SEALKV_PASSWORD`, a password file, a key file, or a
/// prompt without echo on the terminal. Never a plain argument, so it does not show up in `ps` or
/// shell history.
struct CredentialOptions: ParsableArguments {
    @Option(name: .customLong("password-file"), help: "Read the password from this file (first line, at most 4 KiB).")
    var passwordFile: String?

    @Option(name: .customLong("key-file"), help: "Read a raw 32-byte key from this file.")
    var keyFile: String?

    @Flag(name: .customLong("allow-empty-password"), help: "Accept an empty password (anyone with the file can then open the store).")
    var allowEmptyPassword = false

    /// The credential, asked for (or read) once. `confirmNew` asks twice at a prompt.
    func credential(confirmNew: Bool = false, prompt: String = "Password: ") throws -> Credential {
        try CredentialSource(passwordFile: passwordFile, keyFile: keyFile, environmentVariable: "SEALKV_PASSWORD",
                             prompt: prompt, allowEmpty: allowEmptyPassword).credential(confirmNew: confirmNew)
    }
}

/// One way to obtain a credential, tried in order: key file, password file, environment, prompt.
struct CredentialSource {
    var passwordFile: String?
    var keyFile: String?
    var environmentVariable: String
    var prompt: String
    var allowEmpty = false
    /// The options that give the files, as messages name them (`passwd` has its own for the new
    /// credential).
    var passwordFileOption = "--password-file"
    var keyFileOption = "--key-file"
    /// What messages call the files: "the password file", "the new key file".
    var passwordFileRole = "the password file"
    var keyFileRole = "the key file"

    /// The longest password accepted from a file or the terminal.
    static let passwordLimit = 4096

    func credential(confirmNew: Bool = false) throws -> Credential {
        if let keyFile {
            if let passwordFile {
                throw ToolFailure("give either \(keyFileOption) ('\(keyFile)') or \(passwordFileOption) ('\(passwordFile)'), not both.", exitCode: 2)
            }
            return try readKeyFile(keyFile)
        }
        if let passwordFile {
            return try withSecretFile(passwordFile, what: passwordFileRole, limit: Self.passwordLimit) { bytes in
                try password(firstLine(of: bytes), from: "\(passwordFileRole) '\(passwordFile)'")
            }
        }
        if let secret = EnvironmentSecrets.take(environmentVariable) {
            try acceptEmptiness(secret.isEmpty, from: environmentVariable)
            return secret.credential
        }
        guard let typed = try Terminal.readSecret(prompt: prompt, confirm: confirmNew, limit: Self.passwordLimit, body: { bytes in
            try password(bytes, from: "the prompt")
        }) else {
            throw ToolFailure("no credential: set \(environmentVariable), or pass \(passwordFileOption) or \(keyFileOption) (there is no terminal to ask on).", exitCode: 2)
        }
        return typed
    }

    /// A password from `source`, refused when empty unless `--allow-empty-password` was given. The
    /// bytes are copied into the credential's guarded memory; the caller wipes its own.
    private func password(_ bytes: UnsafeRawBufferPointer, from source: String) throws -> Credential {
        try acceptEmptiness(bytes.isEmpty, from: source)
        return Credential.password(bytes: bytes)
    }

    /// Refuses an empty password from `source` unless `--allow-empty-password` was given, and
    /// warns when one is used.
    private func acceptEmptiness(_ isEmpty: Bool, from source: String) throws {
        guard isEmpty else { return }
        guard allowEmpty else {
            throw ToolFailure("the password from \(source) is empty; give a real one (--allow-empty-password accepts an empty password, which anyone can guess).", exitCode: 2)
        }
        printError("sealkv: warning: using an empty password; anyone with the file can open the store.")
    }

    private func readKeyFile(_ path: String) throws -> Credential {
        try withSecretFile(path, what: keyFileRole, limit: 32) { bytes in
            guard bytes.count == 32 else {
                throw ToolFailure("\(keyFileRole) '\(path)' holds \(bytes.count) bytes; a key file holds exactly 32 raw bytes (no newline), e.g. from `head -c 32 /dev/urandom`.", exitCode: 2)
            }
            return try Credential.key(bytes)
        }
    }
}

/// The bytes of `bytes` up to the first line break.
func firstLine(of bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
    let end = bytes.firstIndex { $0 == 0x0A || $0 == 0x0D } ?? bytes.count
    return UnsafeRawBufferPointer(rebasing: bytes[..<end])
}

/// Reads a small secret file (at most `limit` bytes; longer is an error, so `/dev/zero` or a huge
/// file cannot exhaust memory) into a buffer that is wiped after `body` returns.
func withSecretFile<R>(_ path: String, what: String, limit: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
    let file = try InputFile(path: path, what: what)
    return try withUnsafeTemporaryAllocation(byteCount: limit + 1, alignment: 16) { buffer in
        defer { wipe(buffer.baseAddress!, count: buffer.count) }
        guard let count = try file.readAll(into: buffer, limit: limit) else {
            throw ToolFailure("\(what) '\(path)' is longer than \(limit) bytes; it does not look like \(what.hasSuffix("key file") ? "a key file (32 raw bytes)" : "a password file").", exitCode: 2)
        }
        return try body(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
    }
}

/// Overwrites secret bytes with zeros in a way the compiler may not remove (explicit_bzero).
func wipe(_ p: UnsafeMutableRawPointer, count: Int) {
    explicit_bzero(p, count)
}
