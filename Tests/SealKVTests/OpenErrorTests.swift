@testable import SealKV
import Testing
#if canImport(Glibc)
import Glibc
import Foundation
#endif

/// Bad input at open: each gets its own error code, and the file's bytes never change.
@Suite("Opening bad input")
struct OpenErrorTests {
    /// Opens `path` expecting `code`, and checks the file is byte-for-byte unchanged.
    func expectFailure(_ path: String, _ code: SealKVError.Code, password: String = TestSupport.password,
                       mode: OpenMode = .openExisting, sourceLocation: SourceLocation = #_sourceLocation) {
        let before = TestSupport.readFile(path)
        do {
            let db = try Database.open(at: path, credential: .password(password), options: TestSupport.options(mode))
            db.close()
            Issue.record("opened, expected \(code)", sourceLocation: sourceLocation)
        } catch let error {
            #expect(error.code == code, "got \(error)", sourceLocation: sourceLocation)
            #expect(!error.message.contains(password) || password.isEmpty, sourceLocation: sourceLocation)
        }
        #expect(TestSupport.readFile(path) == before, "the file changed", sourceLocation: sourceLocation)
    }

    func makeStore(_ dir: String, entries: Int = 300) throws -> String {
        let path = dir + "/s.sealkv"
        let db = try Database.open(at: path, credential: .password(TestSupport.password), options: TestSupport.options())
        try db.write { tx in for i in 0..<entries { try tx.put("key-\(i)", [UInt8](repeating: UInt8(i & 0xFF), count: 100)) } }
        try db.write { tx in try tx.put("last", "commit") }
        db.close()
        return path
    }

    @Test func wrongPassword() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let path = try makeStore(dir)
        expectFailure(path, .wrongCredential, password: "not the password")
        for mode in [OpenMode.readOnly, .createIfMissing] { expectFailure(path, .wrongCredential, password: "nope", mode: mode) }
    }

    /// Settings that cannot work are refused before anything is created or read: a cache larger
    /// than the machine (which overflowed or failed to map deep inside open) and a negative
    /// read-ahead. No file is created for them.
    @Test func impossibleOptionsAreAnErrorNotACrash() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        for cache in [Int.max, 1 << 60, -1] {
            var options = TestSupport.options()
            options.cacheSize = cache
            #expect {
                try Database.open(at: dir + "/new.sealkv", credential: .password(TestSupport.password), options: options)
            } throws: { ($0 as? SealKVError)?.code == .invalidArgument && "\($0)".contains("cacheSize") }
            #expect(access(dir + "/new.sealkv", F_OK) != 0)
        }
        var options = TestSupport.options()
        options.scanReadAhead = -5
        #expect { try Database.inMemory(options: options) } throws: { ($0 as? SealKVError)?.code == .invalidArgument }
        let path = try makeStore(dir)
        expectFailureWith(path, cacheSize: Int.max)
    }

    func expectFailureWith(_ path: String, cacheSize: Int) {
        let before = TestSupport.readFile(path)
        var options = TestSupport.options(.openExisting)
        options.cacheSize = cacheSize
        #expect(throws: SealKVError.self) { try Database.open(at: path, credential: .password(TestSupport.password), options: options) }
        #expect(TestSupport.readFile(path) == before)
    }

    @Test func rawKeyForAPasswordStore() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let path = try makeStore(dir)
        let before = TestSupport.readFile(path)
        #expect(throws: SealKVError.self) {
            try Database.open(at: path, credential: Credential.key([UInt8](repeating: 7, count: 32)), options: TestSupport.options(.openExisting))
        }
        #expect(TestSupport.readFile(path) == before)
    }

    @Test func notASealKVFile() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        var rng = SeededRandom(seed: 1)
        let cases: [(String, [UInt8])] = [
            ("random", (0..<16384).map { _ in UInt8.random(in: 0...255, using: &rng) }),
            ("empty", []),
            ("text", Array(String(repeating: "hello, this is a text file\n", count: 400).utf8)),
            ("short", [1, 2, 3]),
        ]
        for (name, bytes) in cases {
            let path = "\(dir)/\(name)"
            TestSupport.writeFile(path, bytes)
            expectFailure(path, .notASealKVFile)
            expectFailure(path, .notASealKVFile, mode: .createIfMissing)
        }
    }

    @Test func truncatedAtAnyLength() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let path = try makeStore(dir)
        let full = TestSupport.readFile(path)
        let recorded = try TestSupport.reopen(full).read { $0.base.pageCount }
        var lengths = Array(stride(from: 0, to: full.count, by: 509))
        lengths += [1, 7, 8, 4095, 4096, 4097, 8191, 8192, 8193, full.count - 1]
        for length in lengths where length < full.count {
            let path2 = "\(dir)/t\(length)"
            TestSupport.writeFile(path2, Array(full[..<length]))
            if UInt64(length / FileFormat.pageSize) >= recorded {
                // Only slack past the high-water mark was cut: every commit is still there.
                let db = try Database.open(at: path2, credential: .password(TestSupport.password), options: TestSupport.options(.openExisting))
                #expect(try db.read { try $0.getString("last") } == "commit")
                db.close()
            } else if length < 8 {
                expectFailure(path2, length == 0 ? .notASealKVFile : .notASealKVFile)
            } else {
                expectFailure(path2, .truncated)
            }
            unlink(path2)
        }
    }

    @Test func unknownFormatVersion() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let path = try makeStore(dir)
        var bytes = TestSupport.readFile(path)
        for slot in 0..<2 { bytes[slot * FileFormat.pageSize + FileFormat.metaVersion] = 9 }
        TestSupport.writeFile(path, bytes)
        expectFailure(path, .unsupportedFormat)
    }

    @Test func missingFile() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        for mode in [OpenMode.openExisting, .readOnly] {
            #expect(throws: SealKVError.self) {
                try Database.open(at: dir + "/absent", credential: .password("x"), options: TestSupport.options(mode))
            }
            do { _ = try Database.open(at: dir + "/absent", credential: .password("x"), options: TestSupport.options(mode)) }
            catch let e { #expect(e.code == .fileNotFound) }
            #expect(access(dir + "/absent", F_OK) != 0)
        }
    }

    @Test func createNewRefusesAnExistingFile() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let path = try makeStore(dir)
        expectFailure(path, .fileExists, mode: .createNew)
    }

    @Test func missingFolder() throws {
        do {
            _ = try Database.open(at: "/nonexistent-folder-sealkv/x.sealkv", credential: .password("x"), options: TestSupport.options())
            Issue.record("opened")
        } catch let e {
            #expect(e.code == .fileNotFound)
        }
    }

    @Test func secondWriterIsLockedOut() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let path = try makeStore(dir)
        let first = try Database.open(at: path, credential: .password(TestSupport.password), options: TestSupport.options())
        defer { first.close() }
        expectFailure(path, .locked, mode: .openExisting)
        // Readers open beside the writer.
        let reader = try Database.open(at: path, credential: .password(TestSupport.password), options: TestSupport.options(.readOnly))
        #expect(try reader.read { try $0.getString("last") } == "commit")
        reader.close()
    }

    /// A lock held only for a moment — as by a child process between fork and exec, which shares
    /// the lock of a handle open in its parent — does not fail the open; one held longer does.
    @Test func openWaitsOutABrieflyHeldLock() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let path = try makeStore(dir)
        let holder = Glibc.open(path, O_RDONLY)
        #expect(holder >= 0)
        #expect(Syscalls.flock(holder, exclusive: true) == 0)
        // A thread of its own: the shared dispatch pool may be busy with other tests' blocked work.
        let released = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            usleep(50_000)
            Glibc.close(holder)
            released.signal()
        }
        let db = try Database.open(at: path, credential: .password(TestSupport.password), options: TestSupport.options(.openExisting))
        db.close()
        released.wait()
        // Held past the patience: refused, as before.
        let first = try Database.open(at: path, credential: .password(TestSupport.password), options: TestSupport.options())
        defer { first.close() }
        let start = ContinuousClock.now
        expectFailure(path, .locked, mode: .openExisting)
        #expect(ContinuousClock.now - start < FileStorage.lockPatience + .seconds(3))
    }

    /// A writable open that waits for another writer's lock must read the file's size after it
    /// gets the lock: the other writer may grow the file meanwhile, and a size read before the wait
    /// made a healthy store look truncated ("Restore it from a backup").
    @Test func anOpenThatWaitedForTheLockSeesTheGrownFile() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let path = try makeStore(dir, entries: 10)
        let writer = try Database.open(at: path, credential: .password(TestSupport.password), options: TestSupport.options(.openExisting))
        let opened = Locked<Result<UInt64, SealKVError>?>(nil)
        let started = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            started.signal()
            do throws(SealKVError) {
                let second = try Database.open(at: path, credential: .password(TestSupport.password), options: TestSupport.options(.openExisting))
                opened.withLock { $0 = .success(second.currentTxnID) }
                second.close()
            } catch {
                opened.withLock { $0 = .failure(error) }
            }
        }
        started.wait()
        usleep(150_000)   // the second writer has recorded the size and waits for the lock
        try writer.write { tx in for i in 0..<3000 { try tx.put("grow-\(i)", [UInt8](repeating: 7, count: 400)) } }
        let grownTo = writer.currentTxnID
        writer.close()
        let deadline = ContinuousClock.now + .seconds(30)
        while opened.withLock({ $0 }) == nil && ContinuousClock.now < deadline { usleep(10_000) }
        switch opened.withLock({ $0 }) {
        case .success(let txn)?: #expect(txn == grownTo)
        case .failure(let e)?: Issue.record("the waiting open failed: \(e)")
        case nil: Issue.record("the waiting open never returned")
        }
    }

    /// A FIFO as the store path must not hang the open (a read-only open of a FIFO blocks until a
    /// writer appears); it, a directory and a device are refused, each named.
    @Test func notARegularFileIsRefusedWithoutBlocking() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let fifo = dir + "/pipe.sealkv"
        #expect(mkfifo(fifo, 0o600) == 0)
        let folder = dir + "/folder.sealkv"
        #expect(mkdir(folder, 0o700) == 0)
        for (path, kind) in [(fifo, "FIFO"), (folder, "directory"), ("/dev/null", "character device")] {
            for mode in [OpenMode.readOnly, .openExisting, .createIfMissing] {
                let result = Locked<SealKVError?>(nil)
                let done = DispatchSemaphore(value: 0)
                Thread.detachNewThread {
                    do throws(SealKVError) {
                        let db = try Database.open(at: path, credential: .password(TestSupport.password), options: TestSupport.options(mode))
                        db.close()
                    } catch {
                        result.withLock { $0 = error }
                    }
                    done.signal()
                }
                guard done.wait(timeout: .now() + 10) == .success else {
                    Issue.record("opening \(kind) \(path) in \(mode) hangs")
                    if path == fifo { let w = Glibc.open(fifo, O_WRONLY | O_NONBLOCK); if w >= 0 { Glibc.close(w) } }
                    continue
                }
                let error = result.withLock { $0 }
                #expect(error?.code == .notASealKVFile, "\(kind) in \(mode): \(String(describing: error))")
                #expect(error?.message.contains(kind) == true, "\(String(describing: error?.message))")
            }
        }
    }

    @Test func readOnlyModeNeverWrites() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeTree(dir) }
        let path = try makeStore(dir)
        let before = TestSupport.readFile(path)
        let a = try Database.open(at: path, credential: .password(TestSupport.password), options: TestSupport.options(.readOnly))
        let b = try Database.open(at: path, credential: .password(TestSupport.password), options: TestSupport.options(.readOnly))
        #expect(try a.read { try $0.getString("last") } == "commit")
        #expect(try b.read { try $0.count() } == 301)
        do {
            try a.write { tx in try tx.put("x", "y") }
            Issue.record("wrote to a read-only store")
        } catch let e as SealKVError {
            #expect(e.code == .readOnly)
        }
        a.close()
        b.close()
        #expect(TestSupport.readFile(path) == before)
    }

    @Test func readOnlyFileOrFolder() throws {
        guard getuid() != 0 else {
            // Root ignores file permissions; the read-only file system case below covers root.
            try readOnlyFileSystem()
            return
        }
        let dir = TestSupport.temporaryDirectory()
        defer { chmod(dir, 0o700); TestSupport.removeTree(dir) }
        let path = try makeStore(dir)
        chmod(path, 0o400)
        expectFailure(path, .permissionDenied, mode: .openExisting)
        chmod(dir, 0o500)
        do {
            _ = try Database.open(at: dir + "/new.sealkv", credential: .password("x"), options: TestSupport.options())
            Issue.record("created a store in a read-only folder")
        } catch let e {
            #expect(e.code == .permissionDenied)
        }
    }

    /// As root: a store on a tmpfs remounted read-only opens only with `.readOnly`.
    func readOnlyFileSystem() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { _ = system("umount \(dir) 2>/dev/null"); TestSupport.removeTree(dir) }
        guard system("mount -t tmpfs -o size=4m tmpfs \(dir) 2>/dev/null") == 0 else {
            print("skipped: cannot mount a tmpfs here (no CAP_SYS_ADMIN)")
            return
        }
        let path = try makeStore(dir)
        guard system("mount -o remount,ro \(dir)") == 0 else { return }
        expectFailure(path, .readOnly, mode: .openExisting)
        let db = try Database.open(at: path, credential: .password(TestSupport.password), options: TestSupport.options(.readOnly))
        #expect(try db.read { try $0.getString("last") } == "commit")
        db.close()
        do {
            _ = try Database.open(at: dir + "/new.sealkv", credential: .password("x"), options: TestSupport.options())
            Issue.record("created a store on a read-only file system")
        } catch let e {
            #expect(e.code == .readOnly)
        }
    }
}
