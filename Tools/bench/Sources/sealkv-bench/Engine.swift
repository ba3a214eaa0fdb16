#if canImport(Glibc)
import Glibc
#endif

/// One store under test. Every method is one transaction unless it says otherwise.
protocol Engine: AnyObject {
    /// Puts every pair in one transaction, committed durably.
    func put(_ pairs: [([UInt8], [UInt8])]) throws
    /// Deletes every key in one transaction.
    func delete(_ keys: [[UInt8]]) throws
    /// Whether `key` is present. Its value is read in full, in place (``consume(_:)``): no engine
    /// copies it out, so each does the work of its best read path.
    func get(_ key: [UInt8]) throws -> Bool
    /// Visits every entry in key order, in place, as a plain cursor loop does: the key's and the
    /// value's sizes are added up (``keep(_:)``), nothing is copied. Returns how many.
    func scan() throws -> Int
    /// A handle for reading from another thread.
    func makeReader() throws -> any EngineReader
    /// A handle for durable single-put transactions from another thread, beside other writers.
    func makeWriter() throws -> any EngineWriter
    /// fdatasync/fsync calls the store has made, for engines that count them (nil for the peers).
    var syncCalls: UInt64? { get }
    /// How the store's commits write, for engines that say (SealKV's `Statistics.writeEngine`).
    var writeEngine: String? { get }
    /// Closes the store, flushing what it holds.
    func close()
    /// The files the store consists of (for their size, and to drop them from the OS cache).
    var files: [String] { get }
    /// The shape of the store's B+tree, for engines that report one (nil for the SQL engines).
    func treeShape() throws -> TreeShape?
}

extension Engine {
    func treeShape() throws -> TreeShape? { nil }
    var syncCalls: UInt64? { nil }
    var writeEngine: String? { nil }
}

/// Depth and page counts of a B+tree, to compare page layouts (how many children a branch holds
/// decides how many pages a random update rewrites).
struct TreeShape: Codable, Equatable {
    var depth: Int
    var branchPages: Int
    var leafPages: Int

    /// Average children per branch page.
    var childrenPerBranch: Double { branchPages == 0 ? 0 : Double(leafPages + branchPages - 1) / Double(branchPages) }
}

/// Adds up every byte of `bytes` and hands the sum to ``keep(_:)``, so reading a value in full
/// cannot be optimised away.
@inline(__always) func consume(_ bytes: UnsafeRawBufferPointer) {
    var sum: UInt8 = 0
    for b in bytes { sum &+= b }
    keep(sum)
}

/// Takes a result the optimiser must then compute: the call is opaque to it.
@_optimize(none) func keep<T>(_ value: T) {}

/// Reads on one thread.
protocol EngineReader: AnyObject {
    func get(_ key: [UInt8]) throws -> Bool
    func close()
}

/// Durable one-put transactions on one thread.
protocol EngineWriter: AnyObject {
    func put(_ key: [UInt8], _ value: [UInt8]) throws
    func close()
}

/// The engines, by name, and how to open one in a folder.
enum Engines {
    static let all = ["sealkv", "sealkv-pwritev", "sealkv-uring-writes", "sealkv-defaults", "lmdb", "sqlite", "sqlcipher"]
    /// Engines that differ from `sealkv` only in their write engine (`sealkv` has the automatic
    /// one, which picks between the two as it runs): they run the writing workloads alone (the
    /// fill always runs).
    static let writeVariants: Set<String> = ["sealkv-pwritev", "sealkv-uring-writes"]
    static let writingWorkloads: Set<String> = ["batch-updates", "durable-puts", "writers-1", "writers-4", "writers-16", "writers-64"]

    /// Whether `engine` runs `workload` at all.
    static func runs(_ workload: String, on engine: String) -> Bool {
        !writeVariants.contains(engine) || writingWorkloads.contains(workload)
    }
    /// The engines whose read-only handle in another process reads beside a writer process.
    static let multiProcess: Set<String> = ["sealkv", "lmdb"]

    /// A read-only handle on the store `name` keeps in `directory`, for a process of its own.
    static func openReadOnly(_ name: String, directory: String) throws -> any EngineReader {
        switch name {
        case "sealkv": return try SealKVEngine.ReadOnlyHandle(directory: directory)
        case "lmdb": return try LMDBEngine.ReadOnlyHandle(directory: directory)
        default: throw BenchError("\(name) has no read-only handle for another process")
        }
    }

    /// The engines that are B+trees and report their shape.
    static let bTrees: Set<String> = ["sealkv", "sealkv-posix", "sealkv-defaults", "lmdb"]

    /// Opens `name` in `directory`; `readAhead: false` turns SealKV's scan read-ahead off (the
    /// peers have no such switch and ignore it).
    static func open(_ name: String, directory: String, readAhead: Bool = true) throws -> any Engine {
        switch name {
        case "sealkv": return try SealKVEngine(directory: directory, readAhead: readAhead)
        case "sealkv-posix": return try SealKVEngine(directory: directory, posix: true, readAhead: readAhead)
        case "sealkv-defaults": return try SealKVEngine(directory: directory, readAhead: readAhead, defaults: true)
        // Each write engine alone (io_uring: writes and sync in one submission), to compare with
        // each other and with `sealkv`'s automatic choice in every run.
        case "sealkv-pwritev": return try SealKVEngine(directory: directory, readAhead: readAhead, writeEngine: .pwritev)
        case "sealkv-uring-writes": return try SealKVEngine(directory: directory, readAhead: readAhead, writeEngine: .ioUring)
        case "lmdb": return try LMDBEngine(directory: directory)
        case "sqlite": return try SQLEngine(directory: directory, cipher: false)
        case "sqlcipher": return try SQLEngine(directory: directory, cipher: true)
        default: throw BenchError("unknown engine '\(name)'; use \(all.joined(separator: ", "))")
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Size of a file in bytes (0 if absent).
func fileSize(_ path: String) -> UInt64 {
    var st = stat()
    return stat(path, &st) == 0 ? UInt64(st.st_size) : 0
}

/// Asks the kernel to forget the file's cached pages (they are clean: the store was closed and synced).
func dropFromOSCache(_ path: String) {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return }
    _ = fdatasync(fd)
    _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
    Glibc.close(fd)
}

/// Peak resident memory of this process, bytes.
func peakRSS() -> UInt64 {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return UInt64(usage.ru_maxrss) * 1024
}
