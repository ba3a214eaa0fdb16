import ArgumentParser
import Foundation
import SealKV

/// `sealkv compact DB OUT`
struct CompactCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "compact", abstract: "Write a copy with only live data, densely packed.")
    @OptionGroup var copy: CopyOptions

    func run() throws {
        try copy.run(label: "compact", unit: "entries") { db, out, force, progress in try db.compact(to: out, overwrite: force, progress: progress) }
    }
}

/// `sealkv backup DB OUT`
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "backup", abstract: "Write a consistent copy of the newest commit.")
    @OptionGroup var copy: CopyOptions

    func run() throws {
        try copy.run(label: "backup", unit: "pages") { db, out, force, progress in try db.backup(to: out, overwrite: force, progress: progress) }
    }
}

/// What `compact` and `backup` share: a store, an output path, `--force`, a progress bar.
struct CopyOptions: ParsableArguments {
    @Argument(help: "The store.") var path: String
    @Argument(help: "Where to write the copy.") var output: String
    @Flag(help: "Replace OUT if it exists.") var force = false
    @OptionGroup var credentials: CredentialOptions

    func run(label: String, unit: String, _ copy: (Database, String, Bool, @escaping (OperationProgress) -> Void) throws -> Void) throws {
        let db = try openStore(path, credentials, writable: false)
        defer { db.close() }
        let bar = ProgressBar(label, unit: unit)
        try storeCall { try copy(db, output, force) { bar.update(done: $0.done, total: $0.total) } }
        bar.finish()
    }
}

/// `sealkv passwd DB`
struct PasswdCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passwd",
        abstract: "Change the password (new one from SEALKV_NEW_PASSWORD, --new-password-file, --new-key-file or a prompt asked twice).")
    @Argument(help: "The store.") var path: String
    @Option(name: .customLong("new-password-file"), help: "Read the new password from this file.") var newPasswordFile: String?
    @Option(name: .customLong("new-key-file"), help: "Switch to a raw 32-byte key read from this file.") var newKeyFile: String?
    @Option(help: "Argon2id cost for the new password: interactive, moderate or sensitive.") var kdf: KDFPreset?
    @OptionGroup var credentials: CredentialOptions

    func run() throws {
        let newCredential = try CredentialSource(passwordFile: newPasswordFile, keyFile: newKeyFile, environmentVariable: "SEALKV_NEW_PASSWORD",
                                                 prompt: "New password: ").credential(confirmNew: true)
        let old = try credentials.credential()
        let db = try openStore(path, credentials, writable: true)
        defer { db.close() }
        try storeCall { try db.changePassword(from: old, to: newCredential, kdf: kdf?.strength) }
        printError("password changed")
    }
}

/// `sealkv rekey DB`
struct RekeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rekey", abstract: "Re-seal every page under a new data key.")
    @Argument(help: "The store.") var path: String
    @OptionGroup var credentials: CredentialOptions

    func run() throws {
        let credential = try credentials.credential()
        let db = try openStore(path, credentials, writable: true)
        defer { db.close() }
        let bar = ProgressBar("rekey", unit: "pages")
        let report = try storeCall { try db.rekey(credential: credential) { bar.update(done: $0.done, total: $0.total) } }
        bar.finish()
        printError("rekeyed: epoch \(report.epoch), \(report.pagesResealed) pages re-sealed, \(report.freePagesScrubbed) free pages scrubbed")
    }
}
