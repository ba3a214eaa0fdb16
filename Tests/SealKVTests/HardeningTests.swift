@testable import SealKV
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// How many copies of a secret the process's private, writable memory holds, scanned through
/// /proc/self/mem (shared file mappings hold the sealed file, not secrets). The secret is passed
/// XOR-masked and unmasked only into a page of its own, which — like the scan buffer — is excluded,
/// so the scan does not find its own needle.
func copiesInProcessMemory(masked: [UInt8], mask: UInt8) -> Int {
    let chunkSize = 1 << 20
    guard let needleMap = mmap(nil, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), needleMap != MAP_FAILED,
          let chunkMap = mmap(nil, chunkSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), chunkMap != MAP_FAILED else { return -1 }
    defer {
        memset(needleMap, 0, 4096); munmap(needleMap, 4096)
        memset(chunkMap, 0, chunkSize); munmap(chunkMap, chunkSize)
    }
    let needle = needleMap.assumingMemoryBound(to: UInt8.self)
    for (i, b) in masked.enumerated() { needle[i] = b ^ mask }
    let excluded = [UInt(bitPattern: needleMap)..<(UInt(bitPattern: needleMap) + 4096),
                    UInt(bitPattern: chunkMap)..<(UInt(bitPattern: chunkMap) + UInt(chunkSize))]
    guard let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) else { return -1 }
    let fd = open("/proc/self/mem", O_RDONLY)
    guard fd >= 0 else { return -1 }
    defer { close(fd) }
    var hits = 0
    let chunk = chunkMap.assumingMemoryBound(to: UInt8.self)
    for line in maps.split(separator: "\n") {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 2, fields[1].hasPrefix("rw"), fields[1].hasSuffix("p") else { continue }
        let range = fields[0].split(separator: "-").compactMap { UInt($0, radix: 16) }
        guard range.count == 2, range[1] - range[0] <= 4 << 30 else { continue }
        var address = range[0]
        while address < range[1] {
            let want = Int(min(UInt(chunkSize), range[1] - address))
            let n = pread(fd, chunk, want, off_t(Int64(bitPattern: UInt64(address))))
            if n <= 0 { break }
            var i = 0
            while i + masked.count <= n {
                if chunk[i] == needle[0], memcmp(chunk + i, needle, masked.count) == 0 {
                    let at = address + UInt(i)
                    if !excluded.contains(where: { $0.contains(at) }) {
                        hits += 1
                        if getenv("SEALKV_SHOW_HITS") != nil { print("hit at \(String(at, radix: 16)) in \(line)") }
                    }
                }
                i += 1
            }
            address += UInt(max(1, n - masked.count + 1))
        }
    }
    return hits
}

@Suite("Hardening", .serialized)
struct HardeningTests {
    /// Whether a sanitizer runtime is loaded: its terabytes of shadow mappings make a memory scan
    /// impractical (and its allocator keeps freed memory in quarantine by design).
    static let underSanitizer = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__asan_init") != nil
        || dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__tsan_init") != nil

    /// After close, no copy of the raw key, the KEK, the data key or its subkeys is left in the
    /// process's memory, and no plaintext value from the cache.
    @Test(.disabled(if: HardeningTests.underSanitizer, "the scan of a sanitizer's shadow memory is impractical"))
    func noSecretOrCachedPlaintextOutlivesClose() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        // Random secrets, kept here only XOR-masked, so this test's own copies do not match.
        let mask: UInt8 = 0x5A
        var raw = (0..<32).map { _ in UInt8.random(in: 0...255) }
        let maskedRaw = raw.map { $0 ^ mask }
        var plaintext = Array("plaintext-canary-".utf8) + (0..<47).map { _ in UInt8.random(in: 0...255) }
        let maskedPlain = plaintext.map { $0 ^ mask }
        var masked: [(String, [UInt8])] = [("raw key", maskedRaw), ("cached plaintext", maskedPlain)]
        do {
            var options = TestSupport.options()
            options.cacheSize = 256 << 10
            let credential = try Credential.key(raw)
            for i in raw.indices { raw[i] = 0 }
            let db = try Database.open(at: dir + "/h.sealkv", credential: credential, options: options)
            try db.write { tx in
                try tx.put("canary", plaintext)
                for i in 0..<3000 { try tx.put("filler-\(i)", [UInt8](repeating: UInt8(i & 0xFF), count: 200)) }
            }
            for i in plaintext.indices { plaintext[i] = 0 }
            try db.read { tx in
                var v = try tx.get("canary")!
                for i in v.indices { v[i] = 0 }
                // Evict it: touch enough other pages to cycle the small cache (without copying values
                // out, which would leave the caller's own copies behind).
                for i in 0..<3000 { _ = try tx.contains("filler-\(i)") }
            }
            let keys = db.pager.sealer.keys
            for (name, secret) in [("data key", keys.dataKey), ("page key", keys.pageKey), ("meta key", keys.metaKey)] {
                masked.append((name, secret.withUnsafeBytes { $0.map { $0 ^ mask } }))
            }
            let header = try db.read { _ in db.shared.withLock { $0.header } }
            let kek = try KeyHierarchy.keyEncryptionKey(credential: credential, algorithm: header.kdfAlgorithm, strength: header.strength, salt: header.salt)
            masked.append(("KEK", kek.withUnsafeBytes { $0.map { $0 ^ mask } }))
            db.close()
        }
        for (name, m) in masked {
            let count = copiesInProcessMemory(masked: m, mask: mask)
            #expect(count == 0, "the \(name) is still in memory after close (\(count) copies)")
        }
    }

    /// 1,000 read transactions open at once, each on its own thread, while a writer commits.
    @Test func aThousandConcurrentReaders() throws {
        let (db, _) = try TestSupport.memoryStore()
        try db.write { tx in for i in 0..<500 { try tx.put("k\(i)", "v\(i)") } }
        let readers = 1000
        let inside = DispatchGroup(), release = DispatchSemaphore(value: 0), done = DispatchGroup()
        let failures = Locked(0)
        for _ in 0..<readers { inside.enter(); done.enter() }
        for r in 0..<readers {
            let thread = Thread {
                do {
                    try db.read { tx in
                        let before = try tx.getString("k\(r % 500)")
                        inside.leave()
                        release.wait()
                        // The snapshot holds while the writer changed every key.
                        if try tx.getString("k\(r % 500)") != before || before != "v\(r % 500)" { failures.withLock { $0 += 1 } }
                    }
                } catch {
                    failures.withLock { $0 += 1 }
                }
                done.leave()
            }
            thread.stackSize = 256 << 10
            thread.start()
        }
        inside.wait()
        try db.write { tx in for i in 0..<500 { try tx.put("k\(i)", "changed") } }
        for _ in 0..<readers { release.signal() }
        done.wait()
        #expect(failures.withLock { $0 } == 0)
        #expect(try db.read { try $0.getString("k1") } == "changed")
        db.close()
    }

    /// Readers, a writer, a rekey and a backup at the same time (run under ThreadSanitizer by
    /// Tools/scripts/sanitize.sh): every reader sees a consistent snapshot, the backup checks clean.
    @Test func readersWriterRekeyAndBackupTogether() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let credential = Credential.password(TestSupport.password)
        let db = try Database.open(at: dir + "/c.sealkv", credential: credential, options: TestSupport.options())
        defer { db.close() }
        try db.write { tx in for i in 0..<2000 { try tx.put("k\(i)", "0") } }
        let stop = Locked(false), errors = Locked<[String]>([])
        let group = DispatchGroup()
        for _ in 0..<3 {
            DispatchQueue.global().async(group: group) {
                while !stop.withLock({ $0 }) {
                    do {
                        try db.read { tx in
                            // Every commit sets all sampled keys to one round number: a snapshot must agree.
                            let values = try (0..<20).map { try tx.getString("k\($0 * 100)") }
                            if Set(values).count != 1 { errors.withLock { $0.append("torn snapshot \(values)") } }
                        }
                    } catch { errors.withLock { $0.append("reader: \(error)") } }
                }
            }
        }
        DispatchQueue.global().async(group: group) {
            var round = 1
            while !stop.withLock({ $0 }) {
                do { try db.write { tx in for i in 0..<20 { try tx.put("k\(i * 100)", "\(round)") } } } catch { errors.withLock { $0.append("writer: \(error)") } }
                round += 1
            }
        }
        try db.rekey(credential: credential)
        try db.backup(to: dir + "/backup.sealkv")
        try db.rekey(credential: credential)
        stop.withLock { $0 = true }
        group.wait()
        #expect(errors.withLock { $0 }.isEmpty, "\(errors.withLock { $0 }.prefix(3))")
        let copy = try Database.open(at: dir + "/backup.sealkv", credential: credential, options: TestSupport.options(.readOnly))
        try TestSupport.expectClean(copy)
        copy.close()
        try TestSupport.expectClean(db)
    }

    /// A reader in another process (here `sealkv export` blocked on a full pipe) never keeps the
    /// writer out, shows in `stats()` with its process and age, and pins the pages its snapshot
    /// reaches: the file grows while it lives. Killed with SIGKILL, its slot in the lock file is
    /// reclaimed and the pages become reusable: the file stops growing.
    @Test func aReaderInAnotherProcessPinsPagesUntilKilled() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let path = dir + "/r.sealkv"
        #expect(try Tool.run(["init", path]).status == 0)
        let db = try Database.open(at: path, credential: .password("tool pw"), options: TestSupport.options(.openExisting))
        func rewriteAll(_ round: Int) throws {
            // 2 MB of values: more than export's output buffer and the pipe hold, so it blocks
            // inside its read transaction.
            try db.write { tx in for i in 0..<2000 { try tx.put("k\(i)", [UInt8](repeating: UInt8(65 + round % 26), count: 1000)) } }
        }
        try rewriteAll(0)
        let reader = Process()
        reader.executableURL = URL(fileURLWithPath: Tool.binary)
        reader.arguments = ["export", path]
        var env = ProcessInfo.processInfo.environment
        env["SEALKV_PASSWORD"] = "tool pw"
        reader.environment = env
        let pipe = Pipe()   // never read: export blocks once the pipe is full, its snapshot held
        reader.standardOutput = pipe
        try reader.run()
        let deadline = ContinuousClock.now + .seconds(60)
        while try !db.stats().readers.contains(where: { $0.processID == reader.processIdentifier }) && ContinuousClock.now < deadline { usleep(20_000) }
        let seen = try #require(try db.stats().readers.first { $0.processID == reader.processIdentifier }, "the export's snapshot is not listed")
        #expect(seen.txnID == db.currentTxnID)
        let pinnedStart = try db.stats().fileBytes
        for round in 1...6 { try rewriteAll(round) }
        let pinnedEnd = try db.stats().fileBytes
        #expect(pinnedEnd > pinnedStart + 6 * 400 * 4096, "the reader's pages were reused under it (\(pinnedStart) -> \(pinnedEnd) bytes)")
        kill(reader.processIdentifier, SIGKILL)
        reader.waitUntilExit()
        // A live-looking slot is checked at most once a second: give the writer that long to find
        // the reader dead, then let it reuse what the reader pinned.
        let reclaimBy = ContinuousClock.now + .seconds(10)
        while try !db.stats().readers.isEmpty && ContinuousClock.now < reclaimBy { usleep(50_000) }
        #expect(try db.stats().readers.isEmpty, "the killed reader's slot was not reclaimed")
        for round in 7...20 { try rewriteAll(round) }
        let afterKill = try db.stats().fileBytes
        #expect(afterKill <= pinnedEnd, "pages stayed pinned after the reader died (\(pinnedEnd) -> \(afterKill) bytes)")
        try TestSupport.expectClean(db)
        db.close()
    }

    /// Out of file descriptors: a clear error and exit code 2, nothing changed.
    @Test func runningOutOfFileDescriptorsIsAClearError() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let path = dir + "/f.sealkv"
        #expect(try Tool.run(["init", path]).status == 0)
        #expect(try Tool.run(["put", path, "k", "v"]).status == 0)
        let before = TestSupport.readFile(path)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/prlimit")
        p.arguments = ["--nofile=4", Tool.binary, "put", path, "k", "changed"]
        var env = ProcessInfo.processInfo.environment
        env["SEALKV_PASSWORD"] = "tool pw"
        p.environment = env
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 2, "\(message)")
        #expect(message.contains("open files") || message.contains("descriptor"), "\(message)")
        #expect(TestSupport.readFile(path) == before)
    }

    /// A store past 4 GiB (page numbers above 2^20) opens, checks and reads. SEALKV_LONG=1 only:
    /// it writes 4.2 GB.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["SEALKV_LONG"] != nil))
    func aStorePastFourGiB() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let path = dir + "/big.sealkv"
        let db = try Database.open(at: path, credential: .password(TestSupport.password), options: TestSupport.options())
        let chunk = 64 << 20
        for i in 0..<66 {
            try db.write { tx in try tx.put("big-\(i)", [UInt8](repeating: UInt8(i), count: chunk)) }
        }
        try db.write { tx in try tx.put("last", "past 4 GiB") }
        db.close()
        #expect(fileSize(path) > 4 << 30)
        let reopened = try Database.open(at: path, credential: .password(TestSupport.password), options: TestSupport.options(.readOnly))
        defer { reopened.close() }
        try TestSupport.expectClean(reopened)
        #expect(try reopened.read { try $0.getString("last") } == "past 4 GiB")
        #expect(try reopened.read { try $0.get("big-65") } == [UInt8](repeating: 65, count: chunk))
    }
}

func fileSize(_ path: String) -> UInt64 {
    var st = stat()
    return stat(path, &st) == 0 ? UInt64(st.st_size) : 0
}
