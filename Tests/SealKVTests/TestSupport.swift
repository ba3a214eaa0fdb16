@testable import SealKV
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Helpers shared by the test suites.
enum TestSupport {
    /// Argon2id at its minimum cost: tests open many stores; production presets are tested once.
    static let fastKDF = try! KDFStrength(opsLimit: 1, memLimit: 8192)
    static let password = "test password"

    static func options(_ mode: OpenMode = .createIfMissing, engine: IOEngine = .automatic,
                        durability: Durability = .oneSync, cacheSize: Int = 4 << 20) -> Options {
        Options(mode: mode, kdf: fastKDF, durability: durability, cacheSize: cacheSize, ioEngine: engine)
    }

    /// A fresh temporary folder, removed by the caller with `removeTree`.
    static func temporaryDirectory() -> String {
        var template = Array("/tmp/sealkv-test-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { fatalError("mkdtemp failed") }
        return String(cString: p)
    }

    static func removeTree(_ path: String) {
        _ = system("rm -rf '\(path)'")
    }

    /// A store in memory with a password, plus its storage so tests can copy or damage the bytes.
    static func memoryStore(durability: Durability = .oneSync, cacheSize: Int = 4 << 20) throws -> (Database, MemoryStorage) {
        let storage = MemoryStorage()
        let db = try Database.open(storage: storage, credential: .password(password),
                                   options: options(durability: durability, cacheSize: cacheSize), create: true)
        return (db, storage)
    }

    /// Opens a store over `bytes` (a copy of another store's storage).
    static func reopen(_ bytes: [UInt8], password: String = TestSupport.password) throws(SealKVError) -> Database {
        try Database.open(storage: MemoryStorage(bytes: bytes), credential: .password(password), options: options())
    }

    static func readFile(_ path: String) -> [UInt8] {
        guard let f = fopen(path, "rb") else { return [] }
        defer { fclose(f) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, f)
            if n == 0 { break }
            out.append(contentsOf: buffer[..<n])
        }
        return out
    }

    static func writeFile(_ path: String, _ bytes: [UInt8]) {
        let f = fopen(path, "wb")!
        _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        fclose(f)
    }

    /// Whether `needle` occurs in `haystack`.
    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count, let first = needle.first else { return false }
        var i = 0
        while i <= haystack.count - needle.count {
            if haystack[i] == first && haystack[i..<(i + needle.count)].elementsEqual(needle) { return true }
            i += 1
        }
        return false
    }

    /// Runs the full check and fails the test with every problem found.
    static func expectClean(_ db: Database, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let report = try db.check()
        #expect(report.problems.isEmpty, "check found: \(report.problems.prefix(5))", sourceLocation: sourceLocation)
    }

    static var ioUringAvailable: Bool {
        var handle: OpaquePointer? = nil
        let ok = sealkvRingProbe(&handle)
        return ok
    }

    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
}

import CSealURing
func sealkvRingProbe(_ handle: inout OpaquePointer?) -> Bool {
    let rc = sealkv_ring_create(8, &handle)
    if rc == 0 { sealkv_ring_destroy(handle) }
    return rc == 0
}

/// A deterministic generator for reproducible random tests (SplitMix64).
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
