import Synchronization
#if canImport(Glibc)
import Glibc
#endif
import CSealURing


/// How a file store reads many pages at once. How it writes them is ``WriteEngine``.
public enum IOEngine: Sendable, Equatable {
    /// io_uring where the kernel allows it, otherwise POSIX calls.
    case automatic
    /// io_uring only; opening fails where it is unavailable.
    case ioUring
    /// pread only.
    case posix
}

/// A store in a file. Committed pages are read through a read-only shared mapping of a large
/// reserved range (the file grows into it without remapping). A commit's writes are one `pwritev`
/// per run of consecutive pages, followed by one fdatasync system call, or the same writes and the
/// sync in one io_uring submission on a ring of their own (``WriteEngine``; the automatic engine
/// times both and takes the faster, ``WritePathChooser``); batch reads go to io_uring in one
/// submission where it is available.
///
/// A page read from the mapping stays mapped, and so counts in the process's resident set, until
/// the mapping lets it go; its plaintext is in the page cache by then. So every
/// ``mappedReadsBetweenReleases`` pages read, the mapped range is released with `MADV_DONTNEED`
/// (for a shared file mapping this only drops the process's page-table entries: the data stays in
/// the OS's cache, and a later read maps it again). The resident ciphertext stays a few MiB
/// instead of growing to the size of the file.
final class FileStorage: PageStorage, @unchecked Sendable {
    let path: String
    let fd: Int32
    let readOnly: Bool
    private let mapping: UnsafeRawPointer?
    private let mappedBytes: Int
    private let pages: Atomic<UInt64>
    private let ring: Locked<OpaquePointer?>
    private let usesRing: Bool
    /// The ring commits write through (``WriteEngine/ioUring``, or ``WriteEngine/automatic`` when
    /// it chooses the ring), or nil for `pwritev` alone. Separate from the read ring, so a scan's
    /// batch reads never wait for a commit's sync.
    private let writeRing: Locked<OpaquePointer?>
    private let writesThroughRing: Bool
    /// For ``WriteEngine/automatic`` with a ring: picks the path of each synced batch by timing both.
    let writePathChooser: WritePathChooser?
    private let closed = Atomic<Bool>(false)
    /// A descriptor of its own for the advisory lock, never handed to io_uring. When a process dies,
    /// the kernel may drop its ring's last reference to the data descriptor only later, from a
    /// worker; a lock on that descriptor would outlive the process and refuse the next open.
    private let lockFD = Atomic<Int32>(-1)

    /// Reserved virtual range for the mapping; pages beyond it are read with pread.
    static let reservation = 1 << 40
    /// Pages read from the mapping between two releases of its resident pages (4 MiB).
    static let mappedReadsBetweenReleases = 1024
    /// Pages read from the mapping so far.
    private let mappedReads = Atomic<Int>(0)

    var pageCount: UInt64 { pages.load(ordering: .acquiring) }
    var engineName: String { usesRing ? "io_uring" : "posix" }
    var writeEngineName: String {
        guard let writePathChooser else { return writesThroughRing ? "io_uring" : "pwritev" }
        return "automatic: " + writePathChooser.summary
    }

    /// Entries in the write ring: a batch with more runs of pages is submitted in rounds.
    static let writeRingEntries: UInt32 = 256

    /// Opens `path` (already existing) for reading and, unless `readOnly`, writing. Anything but a
    /// regular file (a FIFO, a directory, a device) is refused without blocking. The size is read
    /// again by ``lock()``: until the lock is held, another process may still change it.
    init(path: String, readOnly: Bool, engine: IOEngine, writeEngine: WriteEngine = .automatic) throws(SealKVError) {
        self.path = path
        self.readOnly = readOnly
        let fd = try Self.openRegularFile(path, flags: readOnly ? O_RDONLY : O_RDWR)
        let size: UInt64
        switch Syscalls.fileSize(fd) {
        case .success(let s): size = s
        case .failure(let e):
            Syscalls.close(fd)
            throw SealKVError.system("stat", path: path, errno: e.errno)
        }
        self.fd = fd
        pages = Atomic(size / UInt64(FileFormat.pageSize))

        // Map a large range once; pages past the end of the file are never touched (readers only
        // see pages below pageCount), so the file can grow into the range without remapping.
        var length = Self.reservation
        var base: UnsafeMutableRawPointer? = nil
        while length >= 1 << 30 {
            let p = mmap(nil, length, PROT_READ, MAP_SHARED | MAP_NORESERVE, fd, 0)
            if p != MAP_FAILED, let p {
                base = p
                break
            }
            length >>= 2
        }
        mapping = base.map { UnsafeRawPointer($0) }
        mappedBytes = base == nil ? 0 : length
        // The mapping keeps the kernel's default read-around. MADV_RANDOM (one 4 KiB read per
        // fault) made cold random reads of a store whose leaves updates had scattered 4.4x slower
        // (13.5k against 59.4k gets/s at 1M keys); the cache holds only what was read, so the
        // neighbours read around a page cost page cache, not this process's memory.

        var ringHandle: OpaquePointer? = nil
        if engine != .posix {
            let rc = sealkv_ring_create(256, &ringHandle)
            if rc != 0 {
                ringHandle = nil
                if engine == .ioUring {
                    if let base { munmap(base, length) }
                    Syscalls.close(fd)
                    throw SealKVError(.ioError, "io_uring is unavailable here (the kernel or a seccomp profile refused it); use IOEngine.automatic or .posix.", errno: -rc)
                }
            }
        }
        usesRing = ringHandle != nil
        ring = Locked(ringHandle)

        var writeHandle: OpaquePointer? = nil
        if writeEngine != .pwritev && !readOnly {
            let rc = sealkv_ring_create(Self.writeRingEntries, &writeHandle)
            if rc != 0 {
                writeHandle = nil
                if writeEngine == .ioUring {
                    sealkv_ring_destroy(ringHandle)
                    if let base { munmap(base, length) }
                    Syscalls.close(fd)
                    throw SealKVError(.ioError, "io_uring is unavailable here for writes (the kernel or a seccomp profile refused it); use WriteEngine.automatic or .pwritev.", errno: -rc)
                }
            } else {
                // Only saves a file lookup per request: without it the ring still writes the same fd.
                _ = sealkv_ring_register_file(writeHandle, fd)
            }
        }
        writesThroughRing = writeHandle != nil
        writeRing = Locked(writeHandle)
        writePathChooser = writeHandle != nil && writeEngine == .automatic ? WritePathChooser() : nil
    }

    /// Opens `path` without waiting (a FIFO would block an ordinary open until a writer appears)
    /// and refuses it unless it is a regular file, naming what it is.
    static func openRegularFile(_ path: String, flags: Int32) throws(SealKVError) -> Int32 {
        let fd: Int32
        switch Syscalls.open(path, flags: flags | O_NONBLOCK) {
        case .success(let f): fd = f
        case .failure(let e) where e.errno == EISDIR:
            throw notAStoreFile(path, kind: "a directory")
        case .failure(let e): throw SealKVError.system("open", path: path, errno: e.errno)
        }
        switch Syscalls.nonRegularKind(fd) {
        case .success(nil):
            Syscalls.clearNonBlocking(fd)
            return fd
        case .success(let kind?):
            Syscalls.close(fd)
            throw notAStoreFile(path, kind: kind)
        case .failure(let e):
            Syscalls.close(fd)
            throw SealKVError.system("stat", path: path, errno: e.errno)
        }
    }

    private static func notAStoreFile(_ path: String, kind: String) -> SealKVError {
        SealKVError(.notASealKVFile, "'\(path)' is \(kind), not a SealKV store: a store is a regular file. Check the path.")
    }

    /// Wraps an already open, writable descriptor (taking ownership) with the POSIX engine. Used
    /// for files being built, such as compacted copies.
    init(descriptor fd: Int32, path: String) throws(SealKVError) {
        self.path = path
        self.fd = fd
        readOnly = false
        switch Syscalls.fileSize(fd) {
        case .success(let s): pages = Atomic(s / UInt64(FileFormat.pageSize))
        case .failure(let e):
            Syscalls.close(fd)
            throw SealKVError.system("stat", path: path, errno: e.errno)
        }
        mapping = nil
        mappedBytes = 0
        usesRing = false
        ring = Locked(nil)
        writesThroughRing = false
        writeRing = Locked(nil)
        writePathChooser = nil
    }

    deinit { close() }

    func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        ring.withLock { r in
            sealkv_ring_destroy(r)
            r = nil
        }
        writeRing.withLock { r in
            sealkv_ring_destroy(r)
            r = nil
        }
        if let mapping { munmap(UnsafeMutableRawPointer(mutating: mapping), mappedBytes) }
        Syscalls.close(fd)
        let l = lockFD.exchange(-1, ordering: .acquiringAndReleasing)
        if l >= 0 { Syscalls.close(l) }
    }

    func readPage(_ number: UInt64, into buffer: UnsafeMutableRawPointer) throws(SealKVError) {
        guard number < pageCount else {
            throw SealKVError(.corrupted, "page \(number) lies beyond the end of the file (\(pageCount) pages); the file was truncated or damaged.", page: number)
        }
        let offset = number * UInt64(FileFormat.pageSize)
        if let mapping, offset + UInt64(FileFormat.pageSize) <= UInt64(mappedBytes) {
            buffer.copyMemory(from: mapping + Int(offset), byteCount: FileFormat.pageSize)
            if mappedReads.wrappingAdd(1, ordering: .relaxed).newValue % Self.mappedReadsBetweenReleases == 0 {
                releaseMappedPages()
            }
            return
        }
        let rc = Syscalls.pread(fd, buffer, FileFormat.pageSize, offset)
        if rc != 0 { throw SealKVError.system("read page \(number) of", path: path, errno: rc) }
    }

    /// Drops the mapping's resident pages up to the end of the file (other threads reading from
    /// it meanwhile simply map their page again).
    func releaseMappedPages() {
        guard let mapping else { return }
        let bytes = min(mappedBytes, Int(pageCount) * FileFormat.pageSize)
        guard bytes > 0 else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: mapping), bytes, MADV_DONTNEED)
    }

    /// Where the mapping starts (to find it in `/proc/self/smaps`), or nil without one.
    var mappingAddress: UInt? { mapping.map { UInt(bitPattern: $0) } }

    func readPages(_ numbers: [UInt64], into buffers: [UnsafeMutableRawPointer]) throws(SealKVError) {
        let count = pageCount
        for n in numbers where n >= count {
            throw SealKVError(.corrupted, "page \(n) lies beyond the end of the file (\(count) pages); the file was truncated or damaged.", page: n)
        }
        guard usesRing, numbers.count > 1 else {
            for (n, b) in zip(numbers, buffers) { try readPage(n, into: b) }
            return
        }
        let offsets = numbers.map { $0 * UInt64(FileFormat.pageSize) }
        let rc: Int32 = ring.withLock { r in
            buffers.withUnsafeBufferPointer { bufs in
                offsets.withUnsafeBufferPointer { offs in
                    bufs.withMemoryRebound(to: UnsafeMutableRawPointer?.self) { b in
                        sealkv_ring_read_batch(r, fd, b.baseAddress, offs.baseAddress, numbers.count, FileFormat.pageSize)
                    }
                }
            }
        }
        if rc != 0 { throw SealKVError.system("read \(numbers.count) pages of", path: path, errno: -rc) }
    }

    func writePages(_ writes: [PageWrite], sync: Bool) throws(SealKVError) {
        guard !readOnly else { throw SealKVError(.readOnly, "the store was opened read-only; reopen it writable to change it.") }
        if let writePathChooser {
            // Writes without a sync take pwritev, faster for them in every measurement.
            if sync { try writeAndSync(writes, choosingWith: writePathChooser) } else { try writePagesWithPwritev(writes, sync: false) }
        } else if writesThroughRing {
            try writePagesThroughRing(writes, sync: sync)
        } else {
            try writePagesWithPwritev(writes, sync: sync)
        }
    }

    /// Writes and syncs down the path `chooser` picks, and tells it how long that took.
    private func writeAndSync(_ writes: [PageWrite], choosingWith chooser: WritePathChooser) throws(SealKVError) {
        let path = chooser.next()
        let start = ContinuousClock.now
        switch path {
        case .ring: try writePagesThroughRing(writes, sync: true)
        case .pwritev: try writePagesWithPwritev(writes, sync: true)
        }
        let elapsed = (ContinuousClock.now - start).components
        chooser.record(path, nanoseconds: UInt64(elapsed.seconds) * 1_000_000_000 + UInt64(elapsed.attoseconds / 1_000_000_000))
    }

    /// Positional writes, one call per run of consecutive pages, then (when `sync`) fdatasync.
    private func writePagesWithPwritev(_ writes: [PageWrite], sync: Bool) throws(SealKVError) {
        let buffers = writes.map { $0.bytes }
        var start = 0
        while start < writes.count {
            var end = start + 1
            while end < writes.count && writes[end].page == writes[end - 1].page + 1 { end += 1 }
            let rc = Syscalls.pwritev(fd, buffers[start..<end], length: FileFormat.pageSize, writes[start].page * UInt64(FileFormat.pageSize))
            if rc != 0 { throw writeFailure(writes[start..<end], errno: rc) }
            start = end
        }
        if sync { try self.sync() }
    }

    /// The same writes (and sync) as one io_uring submission: the sync is ordered after every write.
    private func writePagesThroughRing(_ writes: [PageWrite], sync: Bool) throws(SealKVError) {
        if sync { syncsMade.add(1, ordering: .relaxed) }
        let buffers = writes.map { UnsafeMutableRawPointer(mutating: $0.bytes) as UnsafeMutableRawPointer? }
        let pages = writes.map(\.page)
        var failedFirst = 0
        var failedCount = 0
        let rc: Int32 = writeRing.withLock { r in
            buffers.withUnsafeBufferPointer { b in
                pages.withUnsafeBufferPointer { p in
                    sealkv_ring_write_pages(r, fd, b.baseAddress, p.baseAddress, writes.count, FileFormat.pageSize,
                                            sync ? 1 : 0, &failedFirst, &failedCount)
                }
            }
        }
        guard rc != 0 else { return }
        if failedCount == 0 { throw SealKVError.system("fdatasync", path: path, errno: -rc) }
        throw writeFailure(writes[failedFirst..<(failedFirst + failedCount)], errno: -rc)
    }

    /// The error for a failed write of a run of consecutive pages.
    private func writeFailure(_ run: ArraySlice<PageWrite>, errno: Int32) -> SealKVError {
        let pages = run.count == 1 ? "page \(run.first!.page)" : "pages \(run.first!.page)-\(run.last!.page)"
        return SealKVError.system("write \(pages) of", path: path, errno: errno)
    }

    func startWriteback(_ writes: [PageWrite]) {
        guard let first = writes.lazy.map(\.page).min(), let last = writes.lazy.map(\.page).max() else { return }
        let size = UInt64(FileFormat.pageSize)
        Syscalls.startWriteback(fd, from: first * size, bytes: (last - first + 1) * size)
    }

    /// fdatasync calls made (directly or through the write ring), for statistics.
    private let syncsMade = Atomic<UInt64>(0)
    var syncCalls: UInt64 { syncsMade.load(ordering: .relaxed) }

    func sync() throws(SealKVError) {
        syncsMade.add(1, ordering: .relaxed)
        let rc = Syscalls.fdatasync(fd)
        if rc != 0 { throw SealKVError.system("fdatasync", path: path, errno: rc) }
    }

    func resize(toPages count: UInt64) throws(SealKVError) {
        guard !readOnly else { throw SealKVError(.readOnly, "the store was opened read-only; reopen it writable to change it.") }
        let rc = Syscalls.ftruncate(fd, count * UInt64(FileFormat.pageSize))
        if rc != 0 { throw SealKVError.system("resize", path: path, errno: rc) }
        pages.store(count, ordering: .releasing)
    }

    /// Up to `count` bytes from the start of the file, however short it is.
    func head(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let n = out.withUnsafeMutableBytes { Glibc.pread(fd, $0.baseAddress, count, 0) }
        return Array(out.prefix(max(0, n)))
    }

    /// How long an open waits, by default, for a lock someone else holds before it reports
    /// `locked`. A process that forks (to run another program, say) while a handle is open shares
    /// that handle's lock until its child's exec closes the descriptor, so a handle closed and
    /// opened again at that moment would see its own store locked for a few milliseconds.
    static let lockPatience: Duration = .seconds(1)

    /// Takes the store's advisory lock: exclusive for a writable handle (the writer lock: one
    /// writer at a time, in any process), shared for a read-only one that cannot use the lock file
    /// (it then keeps writers out while it is open). A lock held by someone else is tried again for
    /// up to `patience`.
    func lock(patience: Duration = FileStorage.lockPatience) throws(SealKVError) {
        var l = lockFD.load(ordering: .acquiring)
        if l < 0 {
            // The same file as `fd`, opened afresh (a new open file description, so the lock is its
            // own), through /proc so a rename of the path meanwhile cannot make it another file.
            switch Syscalls.open("/proc/self/fd/\(fd)", flags: O_RDONLY | O_NONBLOCK) {
            case .success(let f): l = f
            case .failure:
                l = try Self.openRegularFile(path, flags: O_RDONLY)
            }
            lockFD.store(l, ordering: .releasing)
        }
        var rc = Syscalls.flock(l, exclusive: !readOnly)
        let deadline = ContinuousClock.now + patience
        while rc == EWOULDBLOCK && ContinuousClock.now < deadline {
            usleep(5_000)
            rc = Syscalls.flock(l, exclusive: !readOnly)
        }
        if rc == EWOULDBLOCK {
            throw SealKVError(.locked, readOnly
                ? "'\(path)' is open for writing in another process, and this process cannot use its lock file to read beside it; wait until that writer closes it, or let this process write the lock file."
                : "'\(path)' is open for writing in another process (one writer at a time); close that handle first. Readers need no lock: open read-only to read beside it.", errno: rc)
        }
        if rc != 0 { throw SealKVError.system("lock", path: path, errno: rc) }
        try refreshSize()
    }

    /// Reads the file's size again: another process may have grown or cut it (a stale size would
    /// make a healthy store look truncated, or a reader miss pages a newer commit added).
    func refreshSize() throws(SealKVError) {
        switch Syscalls.fileSize(fd) {
        case .success(let size): pages.store(size / UInt64(FileFormat.pageSize), ordering: .releasing)
        case .failure(let e): throw SealKVError.system("stat", path: path, errno: e.errno)
        }
    }

    /// The file id in the cleartext of either meta slot (the first that parses), or nil.
    func storeFileID() -> [UInt8]? {
        var page = [UInt8](repeating: 0, count: FileFormat.pageSize)
        for slot in UInt64(0)..<min(2, pageCount) {
            guard (try? page.withMutableBytes({ (b) throws(SealKVError) in try readPage(slot, into: b.baseAddress!) })) != nil,
                  case .success(let header) = page.withUnsafeBytes({ StoreHeader.parse($0.baseAddress!) }) else { continue }
            return header.fileID
        }
        return nil
    }

    /// The file's permission bits (the lock file beside it is made with the same).
    var mode: mode_t {
        var st = stat()
        return fstat(fd, &st) == 0 ? st.st_mode & 0o777 : 0o600
    }
}
