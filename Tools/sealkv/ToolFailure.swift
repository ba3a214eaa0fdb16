import Foundation
import SealKV
#if canImport(Glibc)
import Glibc
#endif

/// A failure turned into the tool's one-line message and exit code (2 unless stated).
struct ToolFailure: Error, CustomStringConvertible {
    let message: String
    let exitCode: Int32

    /// A library error in the tool's words, for a command on the store at `store` (and, for
    /// `compact` and `backup`, the copy at `output`); `newStore` when `store` is being created.
    init(_ error: SealKVError, store: String? = nil, output: String? = nil, newStore: Bool = false) {
        message = ToolFailure.toolWords(for: error, store: store, output: output, newStore: newStore)
        exitCode = 2
    }

    init(_ message: String, exitCode: Int32) {
        self.message = message
        self.exitCode = exitCode
    }

    var description: String { "sealkv: \(message)" }

    /// What a library error means for someone at the command line: the flags and commands to use,
    /// not the library's option names.
    static func toolWords(for error: SealKVError, store: String?, output: String?, newStore: Bool = false) -> String {
        let target = output ?? store
        let quoted = target.map { "'\($0)'" } ?? "the store"
        let creating = output != nil || newStore
        switch error.code {
        case .fileExists:
            if output != nil { return "\(quoted) already exists; pass --force to replace it, or choose another path." }
            return "\(quoted) already exists; init never replaces a file: choose another path."
        case .fileNotFound:
            if creating { return "cannot create \(quoted): its folder does not exist; create the folder first, or choose another path." }
            guard let target else { return "there is no store at that path; check it, or create one with `sealkv init PATH`." }
            return "there is no store at '\(target)'; check the path, or create one with `sealkv init \(target)`."
        case .readOnly where error.errno == EROFS && creating:
            return "cannot create \(quoted): its folder is on a read-only file system, so nothing was written; choose a path on a writable file system."
        case .permissionDenied where creating:
            return "cannot create \(quoted): this user may not write in its folder, so nothing was written; choose a folder you can write to."
        case .readOnly where error.errno == EROFS:
            return "\(quoted) is on a read-only file system, so this command cannot write it; commands that only read (get, scan, export, stat, check) still work."
        case .readOnly:
            return "this command cannot write the store: \(error.message)"
        case .locked:
            if error.message.contains("lock file") {
                return "\(quoted) is being written by another process, and this user cannot write the lock file beside it (\(quoted.dropLast())-lock') to read alongside; wait until the writer finishes, or run as the store's owner."
            }
            if error.message.contains("open for writing") {
                return "\(quoted) is being written by another process (such as `sealkv serve` or `sealkv load`): one process writes at a time, so try again once it has finished. Commands that only read (get, scan, stat, check, export, backup) work beside it."
            }
            return "\(quoted) is in use by another process (such as `sealkv serve`, or another command still running); stop it or let it finish, then try again."
        case .wrongCredential:
            return "\(error.message) (The credential comes from --key-file, --password-file, SEALKV_PASSWORD or the prompt, in that order.)"
        case .rolledBack:
            return scrub(error.message.replacingOccurrences(of: "you last saw", with: "that --min-txn or SEALKV_MIN_TXN demands"))
        case .noSpace:
            return "no space left on the device holding \(quoted); free some space and run the command again. The store keeps its last complete commit."
        case .namespaceNotFound:
            return "\(error.message.split(separator: ";").first.map(String.init) ?? error.message); `sealkv stat` lists the namespaces of a store."
        case .ioError where error.errno.map({ $0 != 0 }) ?? false && error.message.hasSuffix(" failed."):
            // "open the lock file 'x-lock' failed.": say why too.
            let what = error.message.dropLast(" failed.".count)
            let reason = String(cString: strerror(error.errno!)).lowercased()
            if what.hasPrefix("open the lock file") {
                return "cannot \(what): \(reason); the store keeps its lock file at that path, so move whatever is there away, then try again."
            }
            return "cannot \(what): \(reason)."
        default:
            return naming(scrub(error.message), target, code: error.code)
        }
    }

    /// A message about the file that says "the file" (or nothing) names it: `'x.bin' is not a
    /// SealKV store`, not `the file is not a SealKV store`, which leaves the user to guess which.
    static func naming(_ message: String, _ target: String?, code: SealKVError.Code) -> String {
        guard let target, !message.contains("'\(target)'") else { return message }
        for subject in ["the file ", "the store "] where message.hasPrefix(subject) {
            return "'\(target)' " + message.dropFirst(subject.count)
        }
        guard [.corrupted, .truncated, .notASealKVFile].contains(code) else { return message }
        return "'\(target)': \(message)"
    }

    /// Library vocabulary that means nothing at the command line, and what to say instead.
    static let libraryPhrases: [(String, String)] = [
        ("open it with .openExisting", "open it as it is"),
        ("with .createIfMissing", "with `sealkv init`"),
        ("use it with .readOnly", "it is for inspection only"),
        ("or allow overwriting", "or pass --force"),
        ("Open the store read-only.", "Use a command that only reads."),
        ("reopen it writable to change it", "this command cannot change it"),
        ("use `Database.write`", "use a command that writes"),
        ("Options.minimumTxnID", "--min-txn"),
    ]

    /// Replaces library vocabulary in a message.
    static func scrub(_ message: String) -> String {
        libraryPhrases.reduce(message) { $0.replacingOccurrences(of: $1.0, with: $1.1) }
    }
}

/// Runs a store operation, turning store errors into the tool's one-line failure (exit 2).
func storeCall<R>(store: String? = nil, output: String? = nil, newStore: Bool = false, _ body: () throws -> R) throws -> R {
    do {
        return try body()
    } catch let error as SealKVError {
        throw ToolFailure(error, store: store, output: output, newStore: newStore)
    }
}
