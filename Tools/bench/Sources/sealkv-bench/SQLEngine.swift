#if canImport(Glibc)
import Glibc
#endif

/// The SQLite C API, loaded at run time from libsqlite3 or libsqlcipher. Both export the same
/// symbols, so they cannot be linked into one binary; each benchmark child loads exactly one.
struct SQLiteAPI {
    typealias Open = @convention(c) (UnsafePointer<CChar>?, UnsafeMutablePointer<OpaquePointer?>?, Int32, UnsafePointer<CChar>?) -> Int32
    typealias Exec = @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, UnsafeRawPointer?, UnsafeMutableRawPointer?, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32
    typealias Prepare = @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, Int32, UnsafeMutablePointer<OpaquePointer?>?, UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32
    typealias BindBlob = @convention(c) (OpaquePointer?, Int32, UnsafeRawPointer?, Int32, Int) -> Int32
    typealias Stmt = @convention(c) (OpaquePointer?) -> Int32
    typealias ColumnBlob = @convention(c) (OpaquePointer?, Int32) -> UnsafeRawPointer?
    typealias ColumnBytes = @convention(c) (OpaquePointer?, Int32) -> Int32
    typealias ErrMsg = @convention(c) (OpaquePointer?) -> UnsafePointer<CChar>?

    let open: Open, exec: Exec, prepare: Prepare, bindBlob: BindBlob
    let step: Stmt, reset: Stmt, finalize: Stmt, close: Stmt
    let columnBlob: ColumnBlob, columnBytes: ColumnBytes, errmsg: ErrMsg

    static func load(_ library: String) throws -> SQLiteAPI {
        guard let handle = dlopen(library, RTLD_NOW | RTLD_LOCAL) else {
            throw BenchError("cannot load \(library): \(String(cString: dlerror()))")
        }
        func sym<T>(_ name: String, _: T.Type) throws -> T {
            guard let p = dlsym(handle, name) else { throw BenchError("\(library) lacks \(name)") }
            return unsafeBitCast(p, to: T.self)
        }
        return SQLiteAPI(open: try sym("sqlite3_open_v2", Open.self), exec: try sym("sqlite3_exec", Exec.self),
                         prepare: try sym("sqlite3_prepare_v2", Prepare.self), bindBlob: try sym("sqlite3_bind_blob", BindBlob.self),
                         step: try sym("sqlite3_step", Stmt.self), reset: try sym("sqlite3_reset", Stmt.self),
                         finalize: try sym("sqlite3_finalize", Stmt.self), close: try sym("sqlite3_close", Stmt.self),
                         columnBlob: try sym("sqlite3_column_blob", ColumnBlob.self), columnBytes: try sym("sqlite3_column_bytes", ColumnBytes.self),
                         errmsg: try sym("sqlite3_errmsg", ErrMsg.self))
    }
}

/// SQLite (or SQLCipher, with a key) in WAL mode with `synchronous=FULL`: a `WITHOUT ROWID` table
/// keyed by the blob key, prepared statements, one connection per thread.
final class SQLEngine: Engine {
    static let transient = -1   // SQLITE_TRANSIENT: SQLite copies the bound bytes
    let api: SQLiteAPI
    let path: String
    let cipher: Bool
    private let connection: Connection

    init(directory: String, cipher: Bool) throws {
        api = try SQLiteAPI.load(cipher ? "libsqlcipher.so.0" : "libsqlite3.so.0")
        self.cipher = cipher
        path = directory + "/bench.db"
        connection = try Connection(api: api, path: path, cipher: cipher)
        try connection.exec("CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID")
    }

    final class Connection {
        let api: SQLiteAPI
        var db: OpaquePointer?
        var getStmt: OpaquePointer?, putStmt: OpaquePointer?, delStmt: OpaquePointer?

        init(api: SQLiteAPI, path: String, cipher: Bool) throws {
            self.api = api
            let flags: Int32 = 0x2 | 0x4 | 0x8000   // READWRITE | CREATE | NOMUTEX (one connection per thread)
            guard api.open(path, &db, flags, nil) == 0 else { throw BenchError("sqlite open \(path) failed") }
            if cipher { try exec("PRAGMA key = 'benchmark password'") }
            try exec("PRAGMA journal_mode = WAL")
            try exec("PRAGMA synchronous = FULL")
            try exec("PRAGMA cache_size = -65536")   // 64 MiB page cache per connection
        }

        func exec(_ sql: String) throws {
            var message: UnsafeMutablePointer<CChar>? = nil
            if api.exec(db, sql, nil, nil, &message) != 0 {
                let text = message.map { String(cString: $0) } ?? "?"
                throw BenchError("sqlite: \(sql): \(text)")
            }
        }

        func statement(_ sql: String, _ slot: inout OpaquePointer?) throws -> OpaquePointer? {
            if slot == nil, api.prepare(db, sql, -1, &slot, nil) != 0 {
                throw BenchError("sqlite prepare \(sql): \(String(cString: api.errmsg(db)!))")
            }
            return slot
        }

        func get(_ key: [UInt8]) throws -> Bool {
            let s = try statement("SELECT v FROM kv WHERE k = ?", &getStmt)
            defer { _ = api.reset(s) }
            _ = key.withUnsafeBytes { api.bindBlob(s, 1, $0.baseAddress, Int32($0.count), SQLEngine.transient) }
            let rc = api.step(s)
            if rc == 100 {   // SQLITE_ROW
                consume(UnsafeRawBufferPointer(start: api.columnBlob(s, 0), count: Int(api.columnBytes(s, 0))))
                return true
            }
            if rc != 101 { throw BenchError("sqlite get: \(String(cString: api.errmsg(db)!))") }
            return false
        }

        func close() {
            guard db != nil else { return }
            for s in [getStmt, putStmt, delStmt] where s != nil { _ = api.finalize(s) }
            getStmt = nil; putStmt = nil; delStmt = nil
            _ = api.close(db)
            db = nil
        }
    }

    private func transaction(_ body: () throws -> Void) throws {
        try connection.exec("BEGIN")
        do {
            try body()
            try connection.exec("COMMIT")
        } catch {
            try? connection.exec("ROLLBACK")
            throw error
        }
    }

    func put(_ pairs: [([UInt8], [UInt8])]) throws {
        let s = try connection.statement("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", &connection.putStmt)
        try transaction {
            for (k, v) in pairs {
                _ = k.withUnsafeBytes { api.bindBlob(s, 1, $0.baseAddress, Int32($0.count), Self.transient) }
                _ = v.withUnsafeBytes { api.bindBlob(s, 2, $0.baseAddress, Int32($0.count), Self.transient) }
                guard api.step(s) == 101 else { throw BenchError("sqlite put: \(String(cString: api.errmsg(connection.db)!))") }
                _ = api.reset(s)
            }
        }
    }

    func delete(_ keys: [[UInt8]]) throws {
        let s = try connection.statement("DELETE FROM kv WHERE k = ?", &connection.delStmt)
        try transaction {
            for k in keys {
                _ = k.withUnsafeBytes { api.bindBlob(s, 1, $0.baseAddress, Int32($0.count), Self.transient) }
                guard api.step(s) == 101 else { throw BenchError("sqlite delete: \(String(cString: api.errmsg(connection.db)!))") }
                _ = api.reset(s)
            }
        }
        try connection.exec("PRAGMA wal_checkpoint(TRUNCATE)")
    }

    func get(_ key: [UInt8]) throws -> Bool { try connection.get(key) }

    func scan() throws -> Int {
        var s: OpaquePointer?
        _ = try connection.statement("SELECT k, v FROM kv ORDER BY k", &s)
        defer { _ = api.finalize(s) }
        var n = 0, bytes = 0
        while api.step(s) == 100 {
            bytes &+= Int(api.columnBytes(s, 0)) &+ Int(api.columnBytes(s, 1))
            n += 1
        }
        keep(bytes)
        return n
    }

    func makeReader() throws -> any EngineReader { Reader(connection: try Connection(api: api, path: path, cipher: cipher)) }
    /// A connection of its own that waits for the write lock (busy_timeout) rather than failing.
    func makeWriter() throws -> any EngineWriter {
        let connection = try Connection(api: api, path: path, cipher: cipher)
        try connection.exec("PRAGMA busy_timeout = 60000")
        return Writer(connection: connection)
    }

    final class Writer: EngineWriter {
        let connection: Connection
        init(connection: Connection) { self.connection = connection }
        func put(_ key: [UInt8], _ value: [UInt8]) throws {
            let api = connection.api
            let s = try connection.statement("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", &connection.putStmt)
            try connection.exec("BEGIN IMMEDIATE")
            _ = key.withUnsafeBytes { api.bindBlob(s, 1, $0.baseAddress, Int32($0.count), SQLEngine.transient) }
            _ = value.withUnsafeBytes { api.bindBlob(s, 2, $0.baseAddress, Int32($0.count), SQLEngine.transient) }
            guard api.step(s) == 101 else {
                _ = api.reset(s)
                try? connection.exec("ROLLBACK")
                throw BenchError("sqlite put: \(String(cString: api.errmsg(connection.db)!))")
            }
            _ = api.reset(s)
            try connection.exec("COMMIT")
        }
        func close() { connection.close() }
    }

    final class Reader: EngineReader {
        let connection: Connection
        init(connection: Connection) { self.connection = connection }
        func get(_ key: [UInt8]) throws -> Bool { try connection.get(key) }
        func close() { connection.close() }
    }

    func close() {
        guard connection.db != nil else { return }
        try? connection.exec("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.close()
    }

    var files: [String] { [path, path + "-wal", path + "-shm"] }
}
