@testable import SealKV
import Testing
import Foundation
import CSealURing
#if canImport(Glibc)
import Glibc
#endif

/// The same behaviour through io_uring and through POSIX calls, for reads (``IOEngine``) and for
/// commits' writes (``WriteEngine``). io_uring cases are skipped (with the reason printed) where
/// the kernel refuses io_uring.
@Suite("Storage backends")
struct StorageBackendTests {
    static let engines: [IOEngine] = [.posix, .ioUring]
    static let writeEngines: [WriteEngine] = [.pwritev, .ioUring]

    func skipIfUnavailable(_ engine: IOEngine, _ writeEngine: WriteEngine = .pwritev) -> Bool {
        if (engine == .ioUring || writeEngine == .ioUring) && !TestSupport.ioUringAvailable {
            print("skipped: io_uring is unavailable on this kernel (disabled or blocked by seccomp)")
            return true
        }
        return false
    }

    /// Small commits (writes and sync in one call), a commit large enough to sync separately
    /// (more than ``Commit/overlapPublishingFrom`` pages), deletes, a reopen and a check, through
    /// every pair of engines; statistics name the engines in use, so an option silently ignored
    /// fails here.
    @Test(arguments: engines, writeEngines)
    func writeReopenRead(engine: IOEngine, writeEngine: WriteEngine) throws {
        guard !skipIfUnavailable(engine, writeEngine) else { return }
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let path = dir + "/b.sealkv"
        var options = TestSupport.options(engine: engine)
        options.writeEngine = writeEngine
        let db = try Database.open(at: path, credential: .password("p"), options: options)
        #expect(try db.stats().ioEngine == (engine == .posix ? "posix" : "io_uring"))
        #expect(try db.stats().writeEngine == (writeEngine == .pwritev ? "pwritev" : "io_uring"))
        let syncsBefore = try db.stats().syncCalls
        try db.write { tx in for i in 0..<5000 { try tx.put("key-\(i)", "value-\(i)") } }
        try db.write { tx in try tx.put("large", [UInt8](repeating: 9, count: 300_000)) }
        try db.write { tx in try tx.put("larger", [UInt8](repeating: 7, count: 2_000_000)) }
        try db.write { tx in for i in stride(from: 0, to: 5000, by: 2) { try tx.delete("key-\(i)") } }
        #expect(try db.stats().syncCalls >= syncsBefore + 4, "each durable commit syncs at least once")
        try TestSupport.expectClean(db)
        db.close()
        options.mode = .openExisting
        let again = try Database.open(at: path, credential: .password("p"), options: options)
        #expect(try again.read { try $0.getString("key-1") } == "value-1")
        #expect(try again.read { try $0.get("key-2") } == nil)
        #expect(try again.read { try $0.get("large")?.count } == 300_000)
        #expect(try again.read { try $0.get("larger") } == [UInt8](repeating: 7, count: 2_000_000))
        #expect(try again.read { try $0.count() } == 2502)
        try TestSupport.expectClean(again)
        again.close()
    }

    /// Runs of consecutive pages go out as vectored writes (in pieces when longer than the kernel's
    /// vector limit; through io_uring, in rounds when there are more runs than the ring holds);
    /// every page must land where it belongs, whatever the run boundaries.
    @Test(arguments: engines, writeEngines)
    func vectoredWritesPlaceEveryPage(engine: IOEngine, writeEngine: WriteEngine) throws {
        guard !skipIfUnavailable(engine, writeEngine) else { return }
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let path = dir + "/raw"
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let storage = try FileStorage(path: path, readOnly: false, engine: engine, writeEngine: writeEngine)
        defer { storage.close() }
        #expect(storage.writeEngineName == (writeEngine == .pwritev ? "pwritev" : "io_uring"))
        try storage.resize(toPages: 2800)
        // One run of 1,100 pages (longer than 1,024 vectors), single pages, a short run, and 300
        // single pages (more runs than the write ring has entries).
        let pages: [UInt64] = Array(3..<1103) + [1200, 1202, 1203, 1204, 2199] + Array(stride(from: 2201, to: 2800, by: 2))
        let buffers = pages.map { n -> UnsafeMutableRawPointer in
            let b = UnsafeMutableRawPointer.allocate(byteCount: FileFormat.pageSize, alignment: 4096)
            for i in 0..<FileFormat.pageSize / 8 { b.storeBytes(of: n &* 1_000_003 &+ UInt64(i), toByteOffset: i * 8, as: UInt64.self) }
            return b
        }
        defer { for b in buffers { b.deallocate() } }
        try storage.writePages(zip(pages, buffers).map { PageWrite(page: $0, bytes: UnsafeRawPointer($1)) }, sync: true)
        let check = UnsafeMutableRawPointer.allocate(byteCount: FileFormat.pageSize, alignment: 4096)
        defer { check.deallocate() }
        for (n, b) in zip(pages, buffers) {
            try storage.readPage(n, into: check)
            #expect(memcmp(check, b, FileFormat.pageSize) == 0, "page \(n) holds the wrong bytes")
        }
        for n: UInt64 in [0, 1, 2, 1103, 1201, 1205, 2198, 2200, 2202, 2798] {
            try storage.readPage(n, into: check)
            #expect(UnsafeRawBufferPointer(start: check, count: FileFormat.pageSize).allSatisfy { $0 == 0 }, "page \(n) was written")
        }
    }

    @Test(arguments: engines)
    func batchReadsReturnEveryPage(engine: IOEngine) throws {
        guard !skipIfUnavailable(engine) else { return }
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let path = dir + "/r.sealkv"
        let db = try Database.open(at: path, credential: .password("p"), options: TestSupport.options(engine: engine))
        try db.write { tx in for i in 0..<3000 { try tx.put("key-\(i)", [UInt8](repeating: UInt8(i & 0xFF), count: 200)) } }
        let storage = db.storage
        let count = Int(storage.pageCount)
        let pool = PageBufferPool()
        let buffers = (0..<count).map { _ in pool.take() }
        try storage.readPages((0..<count).map { UInt64($0) }, into: buffers)
        let single = pool.take()
        for i in 0..<count {
            try storage.readPage(UInt64(i), into: single)
            #expect(memcmp(single, buffers[i], FileFormat.pageSize) == 0, "page \(i) differs")
        }
        #expect(throws: SealKVError.self) { try storage.readPages([UInt64(count + 5)], into: [single]) }
        db.close()
    }

    /// A scan from a cold cache reads leaves ahead in batches: far fewer cache misses than leaves,
    /// the same entries in the same order, and a damaged leaf among those read ahead still ends the
    /// scan with a corruption error (read-ahead drops what fails; the normal read reports it).
    @Test(arguments: engines)
    func scanReadAheadBatchesLeavesAndStillReportsDamage(engine: IOEngine) throws {
        guard !skipIfUnavailable(engine) else { return }
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let path = dir + "/scan.sealkv"
        let db = try Database.open(at: path, credential: .password("p"), options: TestSupport.options(engine: engine))
        try db.write { tx in for i in 0..<20_000 { try tx.put("key-\(i)", [UInt8](repeating: UInt8(i & 0xFF), count: 200)) } }
        // A later commit, so the damaged leaf below is not one the newest commit wrote (recovery
        // would treat that as a torn commit and open the previous one).
        try db.write { tx in try tx.put("key-0", "changed") }
        let leaves = try db.check().pagesByKind[.leaf, default: 0]
        db.close()

        func coldScan(readAhead: Int) throws -> (entries: Int, misses: UInt64) {
            var options = TestSupport.options(.openExisting, engine: engine)
            options.scanReadAhead = readAhead
            let db = try Database.open(at: path, credential: .password("p"), options: options)
            defer { db.close() }
            let before = db.pager.cache.misses
            var previous: [UInt8]? = nil
            let n = try db.read { tx in
                var n = 0
                for (k, _) in try tx.all() {
                    if let previous { #expect(compareBytes(previous, k) < 0) }
                    previous = k
                    n += 1
                }
                return n
            }
            return (n, db.pager.cache.misses - before)
        }
        let plain = try coldScan(readAhead: 0)
        let batched = try coldScan(readAhead: 32)
        #expect(plain.entries == 20_000 && batched.entries == 20_000)
        #expect(leaves > 500)
        #expect(plain.misses >= UInt64(leaves), "without read-ahead every leaf is a miss")
        #expect(batched.misses * 4 < UInt64(leaves), "read-ahead left \(batched.misses) misses for \(leaves) leaves")

        // Damage one page in the middle of the file (nearly all pages are leaves).
        var bytes = TestSupport.readFile(path)
        let victim = bytes.count / FileFormat.pageSize / 2
        bytes[victim * FileFormat.pageSize + 1000] ^= 0x40
        TestSupport.writeFile(path, bytes)
        #expect(throws: SealKVError.self) { _ = try coldScan(readAhead: 32) }
    }

    /// Pages read through the mapping do not pile up in the resident set: after reading every page
    /// of a 40 MiB file (through a cache of 1 MiB) the mapping holds at most a few MiB.
    @Test func mappedReadsDoNotStayResident() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let path = dir + "/rss.sealkv"
        let db = try Database.open(at: path, credential: .password("p"), options: TestSupport.options())
        try db.write { tx in for i in 0..<100_000 { try tx.put("key-\(i)", [UInt8](repeating: UInt8(i & 0xFF), count: 300)) } }
        db.close()
        var options = TestSupport.options(.openExisting, engine: .posix, cacheSize: 1 << 20)
        options.scanReadAhead = 0
        let again = try Database.open(at: path, credential: .password("p"), options: options)
        defer { again.close() }
        let storage = try #require(again.storage as? FileStorage)
        let start = try #require(storage.mappingAddress, "no mapping to measure")
        #expect(try again.read { tx in try tx.all().reduce(0) { n, _ in n + 1 } } == 100_000)
        let filePages = Int(storage.pageCount), resident = Self.residentKiB(ofMappingAt: start) / 4
        #expect(filePages > 8_000, "the file has only \(filePages) pages")
        #expect(resident >= 0, "the mapping was not found in /proc/self/smaps")
        let bound = 2 * FileStorage.mappedReadsBetweenReleases
        #expect(resident <= bound, "\(resident) of \(filePages) pages stayed mapped (bound \(bound))")
    }

    /// The mapping keeps the kernel's read-around: with `MADV_RANDOM` (VmFlags `rr`) every fault
    /// read one 4 KiB page, and cold random reads of a store whose leaves updates had scattered were
    /// 4.4x slower (Docs/BENCHMARKS.md, "Cold reads and scans").
    @Test func theMappingKeepsTheKernelsReadAround() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let db = try Database.open(at: dir + "/ra.sealkv", credential: .password("p"), options: TestSupport.options())
        defer { db.close() }
        try db.write { tx in try tx.put("k", "v") }
        let storage = try #require(db.storage as? FileStorage)
        let start = try #require(storage.mappingAddress, "no mapping")
        let flags = try #require(Self.smapsField("VmFlags:", ofMappingAt: start), "the mapping was not found in /proc/self/smaps")
        #expect(!flags.split(separator: " ").contains("rr"), "the mapping is advised random: \(flags)")
    }

    /// The `Rss` of the mapping that starts at `address`, from `/proc/self/smaps`, in KiB (-1 if
    /// not found).
    static func residentKiB(ofMappingAt address: UInt) -> Int {
        smapsField("Rss:", ofMappingAt: address).flatMap { Int($0.split(separator: " ")[0]) } ?? -1
    }

    /// What follows `field` (such as "Rss:") for the mapping that starts at `address`, from
    /// `/proc/self/smaps`, or nil if not found. Read line by line: the file is large in a test
    /// process and has no size to stat.
    static func smapsField(_ field: String, ofMappingAt address: UInt) -> String? {
        guard let file = fopen("/proc/self/smaps", "r") else { return nil }
        defer { fclose(file) }
        let prefix = String(address, radix: 16) + "-"
        var inMapping = false
        var line: UnsafeMutablePointer<CChar>? = nil
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line)
            // Each mapping starts with "start-end perms offset dev inode [path]".
            if let first = text.split(separator: " ").first, first.contains("-"), first.allSatisfy({ $0.isHexDigit || $0 == "-" }) {
                inMapping = text.hasPrefix(prefix)
            } else if inMapping, text.hasPrefix(field) {
                return text.dropFirst(field.count).trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }
        return nil
    }

    @Test func ioUringRequestedWhereUnavailableIsAClearError() throws {
        guard !TestSupport.ioUringAvailable else { return }
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        #expect(throws: SealKVError.self) {
            try Database.open(at: dir + "/x", credential: .password("p"), options: TestSupport.options(engine: .ioUring))
        }
        var writes = TestSupport.options(engine: .posix)
        writes.writeEngine = .ioUring
        let error = #expect(throws: SealKVError.self) {
            try Database.open(at: dir + "/y", credential: .password("p"), options: writes)
        }
        #expect(error?.message.contains("WriteEngine.automatic or .pwritev") == true, "\(String(describing: error))")
    }

    /// The automatic write engine times both paths: after a few synced commits it has a time for
    /// each, and a read-only handle has no ring for writes it will never make.
    @Test func automaticWriteEngineTimesBothPaths() throws {
        guard !skipIfUnavailable(.posix, .ioUring) else { return }
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let path = dir + "/a.sealkv"
        let db = try Database.open(at: path, credential: .password("p"), options: TestSupport.options())
        #expect(try db.stats().writeEngine.hasPrefix("automatic: "))
        for i in 0..<WritePathChooser.warmUp { try db.write { tx in try tx.put("k\(i)", "v") } }
        let name = try db.stats().writeEngine
        let half = WritePathChooser.warmUp / 2
        #expect(name.contains("\(half) through pwritev (") && name.contains("\(half) through io_uring ("), "\(name)")
        db.close()
        var options = TestSupport.options(.readOnly)
        options.writeEngine = .ioUring
        let reader = try Database.open(at: path, credential: .password("p"), options: options)
        #expect(try reader.stats().writeEngine == "pwritev")
        #expect(try reader.read { try $0.count() } == WritePathChooser.warmUp)
        reader.close()
    }

    /// The chooser alternates while warming up, then takes the faster path, tries the other one
    /// once in ``WritePathChooser/exploreEvery`` batches, and moves over when that one becomes faster.
    @Test func writePathChooserFollowsTheFasterPath() {
        let chooser = WritePathChooser()
        var taken: [WritePathChooser.Path] = []
        func batch(pwritev: UInt64, ring: UInt64) {
            let path = chooser.next()
            taken.append(path)
            chooser.record(path, nanoseconds: path == .ring ? ring : pwritev)
        }
        for _ in 0..<WritePathChooser.warmUp { batch(pwritev: 300_000, ring: 100_000) }
        #expect(taken == (0..<WritePathChooser.warmUp).map { $0 % 2 == 0 ? .pwritev : .ring })
        taken = []
        for _ in 0..<64 { batch(pwritev: 300_000, ring: 100_000) }
        #expect(taken.filter { $0 == .pwritev }.count == 64 / WritePathChooser.exploreEvery, "explores once in 16")
        #expect(chooser.preferred == .ring)
        // The ring becomes slow: the exploring batches of pwritev see it is now the faster one.
        taken = []
        for _ in 0..<256 { batch(pwritev: 300_000, ring: 5_000_000) }
        #expect(chooser.preferred == .pwritev)
        #expect(taken.suffix(32).filter { $0 == .ring }.count == 2, "after the switch, the ring is only explored")
    }

    /// One stall of the faster path does not send the next commits down the slower one (it did for a
    /// few hundred commits, until explorations wore the spike off), while a path that stays slow is
    /// still left within a few batches.
    @Test func writePathChooserRidesOutOneStall() {
        let chooser = WritePathChooser()
        func batch(pwritev: UInt64, ring: UInt64) -> WritePathChooser.Path {
            let path = chooser.next()
            chooser.record(path, nanoseconds: path == .ring ? ring : pwritev)
            return path
        }
        for _ in 0..<64 { _ = batch(pwritev: 250_000, ring: 450_000) }
        #expect(chooser.preferred == .pwritev)
        var stalled = false
        var taken: [WritePathChooser.Path] = []
        for _ in 0..<64 {
            // The first pwritev batch stalls for 20 ms.
            let path = chooser.next()
            let time: UInt64 = path == .ring ? 450_000 : (stalled ? 250_000 : 20_000_000)
            if path == .pwritev { stalled = true }
            chooser.record(path, nanoseconds: time)
            taken.append(path)
        }
        #expect(taken.filter { $0 == .pwritev }.count >= 64 - 64 / WritePathChooser.exploreEvery - 1,
                "one stall sent \(taken.filter { $0 == .ring }.count) of 64 commits down the slower path")
        // Slow for good: within a few batches the other path is preferred.
        var left = 0
        for i in 0..<16 where batch(pwritev: 5_000_000, ring: 450_000) == .pwritev && chooser.preferred == .ring && left == 0 { left = i + 1 }
        #expect(chooser.preferred == .ring)
        #expect(left > 0 && left <= 8, "left pwritev after \(left) slow batches")
    }

    /// The ring's writes report failures as pwritev's do: the errno, and which run of pages failed
    /// (a descriptor open only for reading refuses every write with EBADF); a failed sync names no
    /// pages. Nothing is left in flight: the ring takes the next batch.
    @Test(arguments: [false, true])
    func ringWriteFailuresNameTheRun(registered: Bool) throws {
        guard !skipIfUnavailable(.posix, .ioUring) else { return }
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let path = dir + "/ro"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(count: 64 * FileFormat.pageSize)))
        let fd = open(path, O_RDONLY)
        #expect(fd >= 0)
        defer { close(fd) }
        var ring: OpaquePointer? = nil
        #expect(sealkv_ring_create(8, &ring) == 0)
        defer { sealkv_ring_destroy(ring) }
        if registered { #expect(sealkv_ring_register_file(ring, fd) == 0) }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: FileFormat.pageSize, alignment: 4096)
        defer { buffer.deallocate() }
        let pages: [UInt64] = [5, 6, 7, 20]
        let buffers = [UnsafeMutableRawPointer?](repeating: buffer, count: pages.count)
        for _ in 0..<2 {
            var first = 99, count = 99
            let rc = sealkv_ring_write_pages(ring, fd, buffers, pages, pages.count, FileFormat.pageSize, 1, &first, &count)
            #expect(rc == -EBADF)
            // Either run may complete first; the one reported is a whole run of the batch.
            #expect((first, count) == (0, 3) || (first, count) == (3, 1), "reported \(first), \(count)")
        }
        // A pipe cannot be synced: the sync fails, and names no pages.
        var pipeEnds: [Int32] = [-1, -1]
        #expect(pipe(&pipeEnds) == 0)
        defer { close(pipeEnds[0]); close(pipeEnds[1]) }
        var first = 99, count = 99
        #expect(sealkv_ring_write_pages(ring, pipeEnds[0], [], [], 0, FileFormat.pageSize, 1, &first, &count) == -EINVAL)
        #expect(count == 0, "a failed sync names no pages")
    }
}

#if canImport(Glibc)
import Glibc
#endif
