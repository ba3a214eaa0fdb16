import ArgumentParser
import Foundation
import SealKV
#if canImport(Glibc)
import Glibc
#endif

/// How a command reaches a store: the credential, and the oldest commit it accepts (rollback
/// detection). Every command that opens a store takes these options.
struct StoreOptions: ParsableArguments {
    @OptionGroup var credentials: CredentialOptions

    @Option(name: .customLong("min-txn"), parsing: .unconditional,
            help: ArgumentHelp("Refuse the store if its newest commit is older than this txnid (default: SEALKV_MIN_TXN, else 0).", valueName: "txnid"))
    var minTxn: String?

    /// The oldest txnid accepted: `--min-txn`, else `SEALKV_MIN_TXN`, else 0.
    func minimumTxnID() throws -> UInt64 {
        if let minTxn { return try NumericArgument.integer(minTxn, "--min-txn", in: 0...UInt64.max, note: "a txnid") }
        return try minimumTxnIDFromEnvironment()
    }
}

/// `SEALKV_MIN_TXN`, or 0 when it is not set or set to nothing (`SEALKV_MIN_TXN=`, as a script
/// that clears it leaves it).
func minimumTxnIDFromEnvironment() throws -> UInt64 {
    guard let text = getenv("SEALKV_MIN_TXN").map({ String(cString: $0) }), !text.isEmpty else { return 0 }
    return try NumericArgument.integer(text, "SEALKV_MIN_TXN", in: 0...UInt64.max, note: "a txnid; unset it to accept any")
}

/// Opens a store for a command: existing stores only; read-only unless the command writes. Warns on
/// stderr when recovery had to fall back to the previous commit.
func openStore(_ path: String, _ store: StoreOptions, writable: Bool, slot: Int? = nil, verify: Bool = true,
               credential: Credential? = nil, cacheSize: Int? = oneShotCacheSize) throws -> Database {
    try openStore(path, credential: credential ?? store.credentials.credential(), minimumTxnID: store.minimumTxnID(),
                  writable: writable, slot: slot, verify: verify, cacheSize: cacheSize)
}

/// Opens a store with only credential options (`SEALKV_MIN_TXN` still applies).
func openStore(_ path: String, _ credentials: CredentialOptions, writable: Bool, slot: Int? = nil, verify: Bool = true) throws -> Database {
    try openStore(path, credential: credentials.credential(), minimumTxnID: minimumTxnIDFromEnvironment(),
                  writable: writable, slot: slot, verify: verify)
}

/// The page cache of a one-shot command, which reads each page about once (a scan, a check, a
/// load): fixed, so the process's memory does not grow with the store. `serve` passes nil, the
/// library's cache that sizes itself from the store.
let oneShotCacheSize: Int? = 64 << 20

/// Opens the store at `path` with `credential`.
func openStore(_ path: String, credential: Credential, minimumTxnID: UInt64, writable: Bool, slot: Int? = nil, verify: Bool = true,
               cacheSize: Int? = oneShotCacheSize) throws -> Database {
    guard try FileKind.of(path) != nil else {
        throw ToolFailure("there is no store at '\(path)'; check the path, or create one with `sealkv init \(path)`.", exitCode: 2)
    }
    try requireRegularStore(path)
    var options = Options(mode: writable ? .openExisting : .readOnly, cacheSize: cacheSize)
    options.metaSlot = slot
    options.verifyNewestCommit = verify
    options.minimumTxnID = minimumTxnID
    // Told during open, before a writable open overwrites the refused commit.
    options.recoveryNotice = { report in
        if let warning = recoveryWarning(report, path: path, writable: writable) { printError("sealkv: warning: \(warning)") }
    }
    return try storeCall(store: path) { try Database.open(at: path, credential: credential, options: options) }
}

/// One line saying that recovery refused the newest commit and opened the previous one, or nil.
func recoveryWarning(_ recovery: RecoveryReport, path: String, writable: Bool) -> String? {
    guard recovery.fellBack else { return nil }
    let refused = recovery.refusedTxnID.map { "transaction \($0)" } ?? "the newest commit"
    let slot = recovery.refusedSlot.map { ", meta slot \($0)" } ?? ""
    let reason = refusalReason(recovery) ?? "its pages do not authenticate"
    let consequence = writable ? " This command writes, so it replaces the refused commit." : ""
    let inspect = recovery.refusedSlot.map { " (`sealkv check --meta \($0)` lists what is damaged in it)" } ?? ""
    return "the newest commit of '\(path)' (\(refused)\(slot)) is incomplete, so transaction \(recovery.openedTxnID), the commit before it, was opened: \(reason)."
        + " A crash or power cut during a commit leaves exactly this; if there was none, the file was damaged\(inspect) or rolled back:"
        + " compare with the newest transaction you know of and pass it as --min-txn.\(consequence)"
}

/// Why recovery refused the newest commit, without the library's advice for damage ("restore from
/// a backup"): after a power cut, the previous commit is exactly the one to open.
func refusalReason(_ recovery: RecoveryReport) -> String? {
    guard var reason = recovery.refusedReason else { return nil }
    if let advice = reason.range(of: "; the file was damaged") { reason = String(reason[..<advice.lowerBound]) }
    while reason.hasSuffix(".") { reason.removeLast() }
    return reason
}

extension ReadTransaction {
    /// The namespace `name` for a command that reads it, refusing a name the store does not hold:
    /// the library reads a missing namespace as empty, but at the command line a name that lists
    /// nothing is far more often a typo than a question.
    func existingNamespace(_ name: String) throws -> Namespace {
        guard try hasNamespace(name) else {
            throw SealKVError(.namespaceNotFound, "the store has no namespace named '\(name)'")
        }
        return try namespace(name)
    }
}
