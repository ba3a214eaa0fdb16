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
///
/// The copy is built under a hidden temporary name in OUT's folder and appears at OUT only when
/// complete and synced; a run that is killed leaves no OUT, and the next copy or new store made in
/// that folder removes the temporary.
struct CopyOptions: ParsableArguments {
    @Argument(help: "The store.") var path: String
    @Argument(help: "Where to write the copy.") var output: String
    @Flag(help: "Replace OUT if it exists (only a regular file).") var force = false
    @OptionGroup var store: StoreOptions

    func run(label: String, unit: String, _ copy: (Database, String, Bool, @escaping (OperationProgress) -> Void) throws -> Void) throws {
        try requireCreatable(output, replacing: .withForce(force), source: path)
        let db = try openStore(path, store, writable: false)
        defer { db.close() }
        let bar = ProgressBar(label, unit: unit, finishing: "syncing the copy to disk")
        try storeCall(store: path, output: output) { try copy(db, output, force) { bar.update(done: $0.done, total: $0.total) } }
        bar.finish()
    }
}

/// `sealkv passwd DB`
struct PasswdCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passwd",
        abstract: "Change the password: the current one first, then the new one (SEALKV_NEW_PASSWORD, --new-password-file, --new-key-file, or a prompt asked twice).")
    @Argument(help: "The store.") var path: String
    @Option(name: .customLong("new-password-file"), help: "Read the new password from this file.") var newPasswordFile: String?
    @Option(name: .customLong("new-key-file"), help: "Switch to a raw 32-byte key read from this file.") var newKeyFile: String?
    @Option(help: "Argon2id cost for the new password: interactive, moderate or sensitive.") var kdf: KDFPreset?
    @OptionGroup var store: StoreOptions

    func run() throws {
        // The current credential first, checked by opening the store, before a new one is asked for.
        let current = try store.credentials.credential(prompt: "Current password: ")
        let db = try openStore(path, store, writable: true, credential: current)
        defer { db.close() }
        let new = try CredentialSource(passwordFile: newPasswordFile, keyFile: newKeyFile, environmentVariable: "SEALKV_NEW_PASSWORD",
                                       prompt: "New password: ", allowEmpty: store.credentials.allowEmptyPassword,
                                       passwordFileOption: "--new-password-file", keyFileOption: "--new-key-file",
                                       passwordFileRole: "the new password file", keyFileRole: "the new key file").credential(confirmNew: true)
        try storeCall(store: path) { try db.changePassword(from: current, to: new, kdf: kdf?.strength) }
        printError("password changed")
    }
}

/// `sealkv rekey DB`
struct RekeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rekey", abstract: "Re-seal every page under a new data key.")
    @Argument(help: "The store.") var path: String
    @OptionGroup var store: StoreOptions

    func run() throws {
        let credential = try store.credentials.credential()
        let db = try openStore(path, store, writable: true, credential: credential)
        defer { db.close() }
        let bar = ProgressBar("rekey", unit: "pages", finishing: "committing and scrubbing the old pages")
        let report = try storeCall(store: path) { try db.rekey(credential: credential) { bar.update(done: $0.done, total: $0.total) } }
        bar.finish()
        printError("rekeyed: epoch \(report.epoch)\(report.resumed ? " (finished an interrupted rekey)" : ""), \(counted(report.pagesResealed, "page")) re-sealed in \(counted(report.batches, "commit")), \(counted(report.freePagesScrubbed, "free page")) scrubbed"
            + (report.freePagesKept > 0 ? ", \(report.freePagesKept) kept for a reader still running (run rekey again once it has finished)" : ""))
    }
}
