import CLMDB
#if canImport(Glibc)
import Glibc
#endif

/// LMDB with its defaults: durable commits (data, then meta, each synced), one read-only mapping.
final class LMDBEngine: Engine {
    private var env: OpaquePointer?
    private var dbi = MDB_dbi()
    let directory: String

    init(directory: String) throws {
        self.directory = directory
        try check(mdb_env_create(&env), "env_create")
        try check(mdb_env_set_mapsize(env, 64 << 30), "set_mapsize")
        try check(mdb_env_set_maxreaders(env, 64), "set_maxreaders")
        try check(mdb_env_open(env, directory, 0, 0o600), "env_open")
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, 0, &txn), "txn_begin")
        try check(mdb_dbi_open(txn, nil, 0, &dbi), "dbi_open")
        try check(mdb_txn_commit(txn), "commit")
    }

    private func check(_ rc: Int32, _ what: String) throws {
        if rc != 0 { throw BenchError("lmdb \(what): \(String(cString: mdb_strerror(rc)))") }
    }

    private func write(_ body: (OpaquePointer?) throws -> Void) throws {
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, 0, &txn), "txn_begin")
        do {
            try body(txn)
            try check(mdb_txn_commit(txn), "commit")
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
    }

    func put(_ pairs: [([UInt8], [UInt8])]) throws {
        try write { txn in
            for (k, v) in pairs {
                var k = k, v = v
                try k.withUnsafeMutableBytes { kb in
                    try v.withUnsafeMutableBytes { vb in
                        var key = MDB_val(mv_size: kb.count, mv_data: kb.baseAddress)
                        var val = MDB_val(mv_size: vb.count, mv_data: vb.baseAddress)
                        try check(mdb_put(txn, dbi, &key, &val, 0), "put")
                    }
                }
            }
        }
    }

    func delete(_ keys: [[UInt8]]) throws {
        try write { txn in
            for k in keys {
                var k = k
                let rc = k.withUnsafeMutableBytes { kb in
                    var key = MDB_val(mv_size: kb.count, mv_data: kb.baseAddress)
                    return mdb_del(txn, dbi, &key, nil)
                }
                if rc != 0 && rc != MDB_NOTFOUND { try check(rc, "del") }
            }
        }
    }

    func get(_ key: [UInt8]) throws -> Bool {
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), "txn_begin")
        defer { mdb_txn_abort(txn) }
        return try get(key, txn: txn)
    }

    fileprivate func get(_ key: [UInt8], txn: OpaquePointer?) throws -> Bool {
        var k = key
        let rc = k.withUnsafeMutableBytes { kb -> Int32 in
            var mk = MDB_val(mv_size: kb.count, mv_data: kb.baseAddress)
            var mv = MDB_val()
            let rc = mdb_get(txn, dbi, &mk, &mv)
            if rc == 0 { consume(UnsafeRawBufferPointer(start: mv.mv_data, count: mv.mv_size)) }
            return rc
        }
        if rc == MDB_NOTFOUND { return false }
        try check(rc, "get")
        return true
    }

    func scan() throws -> Int {
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), "txn_begin")
        defer { mdb_txn_abort(txn) }
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(txn, dbi, &cursor), "cursor_open")
        defer { mdb_cursor_close(cursor) }
        var k = MDB_val(), v = MDB_val()
        var n = 0, bytes = 0
        var op = MDB_FIRST
        while mdb_cursor_get(cursor, &k, &v, op) == 0 {
            bytes &+= k.mv_size &+ v.mv_size
            n += 1
            op = MDB_NEXT
        }
        keep(bytes)
        return n
    }

    func makeReader() throws -> any EngineReader { Reader(engine: self) }

    /// A read-only environment in another process (MDB_RDONLY), sharing the writer's lock file.
    final class ReadOnlyHandle: EngineReader {
        private var env: OpaquePointer?
        private var dbi = MDB_dbi()
        init(directory: String) throws {
            func check(_ rc: Int32, _ what: String) throws {
                if rc != 0 { throw BenchError("lmdb \(what): \(String(cString: mdb_strerror(rc)))") }
            }
            try check(mdb_env_create(&env), "env_create")
            try check(mdb_env_set_mapsize(env, 64 << 30), "set_mapsize")
            try check(mdb_env_set_maxreaders(env, 64), "set_maxreaders")
            try check(mdb_env_open(env, directory, UInt32(MDB_RDONLY), 0o600), "env_open")
            var txn: OpaquePointer?
            try check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), "txn_begin")
            try check(mdb_dbi_open(txn, nil, 0, &dbi), "dbi_open")
            mdb_txn_abort(txn)
        }
        func get(_ key: [UInt8]) throws -> Bool {
            var txn: OpaquePointer?
            guard mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn) == 0 else { throw BenchError("lmdb read txn_begin failed") }
            defer { mdb_txn_abort(txn) }
            var k = key
            return k.withUnsafeMutableBytes { kb in
                var mk = MDB_val(mv_size: kb.count, mv_data: kb.baseAddress)
                var v = MDB_val()
                guard mdb_get(txn, dbi, &mk, &v) == 0 else { return false }
                consume(UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
                return true
            }
        }
        func close() { mdb_env_close(env); env = nil }
    }
    /// LMDB's writers take turns on its writer mutex; each commit syncs on its own.
    func makeWriter() throws -> any EngineWriter { Writer(engine: self) }

    final class Writer: EngineWriter {
        let engine: LMDBEngine
        init(engine: LMDBEngine) { self.engine = engine }
        func put(_ key: [UInt8], _ value: [UInt8]) throws { try engine.put([(key, value)]) }
        func close() {}
    }

    final class Reader: EngineReader {
        let engine: LMDBEngine
        init(engine: LMDBEngine) { self.engine = engine }
        func get(_ key: [UInt8]) throws -> Bool { try engine.get(key) }
        func close() {}
    }

    func treeShape() throws -> TreeShape? {
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), "txn_begin")
        defer { mdb_txn_abort(txn) }
        var st = MDB_stat()
        try check(mdb_stat(txn, dbi, &st), "stat")
        return TreeShape(depth: Int(st.ms_depth), branchPages: st.ms_branch_pages, leafPages: st.ms_leaf_pages)
    }

    func close() {
        if let env { mdb_env_close(env) }
        env = nil
    }

    var files: [String] { [directory + "/data.mdb", directory + "/lock.mdb"] }
}
