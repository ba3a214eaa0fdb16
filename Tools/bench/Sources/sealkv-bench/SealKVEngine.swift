import SealKV

/// SealKV with a password (Argon2id "interactive"), one-fsync durable commits, a 256 MiB cache,
/// scan read-ahead on unless asked otherwise, and the automatic write engine unless one is given.
final class SealKVEngine: Engine {
    static let cacheBytes = 256 << 20
    let database: Database
    let path: String

    init(directory: String, posix: Bool = false, readAhead: Bool = true, defaults: Bool = false, writeEngine: WriteEngine = .automatic) throws {
        path = directory + "/bench.sealkv"
        // `defaults`: `Options()` untouched, as a user who writes `Database.open(at:credential:)` gets.
        var options = defaults ? Options() : Options(kdf: .interactive, durability: .oneSync, cacheSize: Self.cacheBytes)
        options.ioEngine = posix ? .posix : .automatic
        options.writeEngine = writeEngine
        if !readAhead { options.scanReadAhead = 0 }
        database = try Database.open(at: path, credential: .password("benchmark password"), options: options)
    }

    func put(_ pairs: [([UInt8], [UInt8])]) throws {
        try database.write { tx in for (k, v) in pairs { try tx.put(k, v) } }
    }

    func delete(_ keys: [[UInt8]]) throws {
        try database.write { tx in for k in keys { try tx.delete(k) } }
    }

    func get(_ key: [UInt8]) throws -> Bool { try Self.get(key, in: database) }

    /// A get through `withValue(for:)`, SealKV's read without an allocation.
    static func get(_ key: [UInt8], in database: Database) throws -> Bool {
        try database.read { tx in try tx.withValue(for: key) { consume($0) } != nil }
    }

    func scan() throws -> Int {
        try database.read { tx in
            let cursor = try tx.cursor()
            var n = 0, bytes = 0
            var more = try cursor.first()
            while more {
                try cursor.withEntry { k, v in bytes &+= k.count &+ v.count }
                n += 1
                more = try cursor.next()
            }
            keep(bytes)
            return n
        }
    }

    func makeReader() throws -> any EngineReader { Reader(database: database) }

    /// A read-only handle in another process (coordinated through the lock file), with the same
    /// cache as the writer's.
    final class ReadOnlyHandle: EngineReader {
        let database: Database
        init(directory: String) throws {
            var options = Options(kdf: .interactive, durability: .oneSync, cacheSize: SealKVEngine.cacheBytes)
            options.mode = .readOnly
            database = try Database.open(at: directory + "/bench.sealkv", credential: .password("benchmark password"), options: options)
        }
        func get(_ key: [UInt8]) throws -> Bool { try SealKVEngine.get(key, in: database) }
        func close() { database.close() }
    }
    func makeWriter() throws -> any EngineWriter { Writer(database: database) }
    var syncCalls: UInt64? { try? database.stats().syncCalls }
    var writeEngine: String? { try? database.stats().writeEngine }

    /// Writes through the shared handle: concurrent writers share commits (group commit).
    final class Writer: EngineWriter {
        let database: Database
        init(database: Database) { self.database = database }
        func put(_ key: [UInt8], _ value: [UInt8]) throws { try database.write { tx in try tx.put(key, value) } }
        func close() {}
    }

    final class Reader: EngineReader {
        let database: Database
        init(database: Database) { self.database = database }
        func get(_ key: [UInt8]) throws -> Bool { try SealKVEngine.get(key, in: database) }
        func close() {}
    }

    func treeShape() throws -> TreeShape? {
        let report = try database.check()
        return TreeShape(depth: Int(report.depth), branchPages: report.pagesByKind[.branch, default: 0],
                         leafPages: report.pagesByKind[.leaf, default: 0])
    }

    func close() { database.close() }
    var files: [String] { [path] }
}
