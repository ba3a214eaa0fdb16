/// One connection's protocol state: who it is, what it selected and authenticated, the protocol
/// it speaks, and its MULTI queue. Lives on the connection's event loop; commands read and change
/// it while they are planned, never from the closures that run in a transaction.
final class Session {
    /// How the rest of the server sees this client.
    let record: ClientRecord
    /// CLIENT ID.
    var id: UInt64 { record.id }
    /// The SealKV namespace SELECT chose ("" is database 0).
    var namespace = ""
    /// The database as CLIENT LIST shows it: its number, or its name with `--ns-per-db`.
    var databaseLabel = "0"
    var authenticated: Bool
    var protocolVersion = RESPVersion.resp2
    /// CLIENT SETNAME; empty for none.
    var name: [UInt8] = []
    /// CLIENT SETINFO LIB-NAME and LIB-VER.
    var libraryName: [UInt8] = []
    var libraryVersion: [UInt8] = []
    /// Commands queued since MULTI (nil outside a transaction).
    var queued: [[[UInt8]]]? = nil
    /// Bytes of the queued commands' arguments.
    var queuedBytes = 0
    /// A command queued after MULTI was refused: EXEC then aborts.
    var queueFailed = false
    /// Keys WATCHed since the last EXEC, DISCARD or UNWATCH.
    var watchedKeys = 0
    /// The last command's name as CLIENT LIST shows it (`get`, `client|list`).
    var lastCommand = "NULL"

    init(record: ClientRecord, authenticated: Bool) {
        self.record = record
        self.authenticated = authenticated
    }

    /// Copies what CLIENT LIST shows of the session into `details`.
    func publish(into details: inout ClientDetails) {
        details.name = name
        details.libraryName = libraryName
        details.libraryVersion = libraryVersion
        details.database = databaseLabel
        details.lastCommand = lastCommand
        details.protocolVersion = protocolVersion
        details.queuedCommands = queued?.count ?? -1
        details.watchedKeys = watchedKeys
    }

    /// Publishes the session now (CLIENT LIST and CLIENT INFO show the caller as it is).
    func publish() {
        record.details.withLockedValue { publish(into: &$0) }
    }

    /// Whether a MULTI is open.
    var inTransaction: Bool { queued != nil }

    /// Leaves MULTI, forgetting what was queued.
    func endTransaction() {
        queued = nil
        queuedBytes = 0
        queueFailed = false
    }
}
