#if canImport(Glibc)
import Glibc
#endif
import CSealAtomics

/// The file beside a store (`<store>-lock`) through which processes sharing the store coordinate:
/// the newest durable commit (so readers in other processes move on to it) and one slot per open
/// handle that reads, holding the oldest snapshot that handle's readers hold (so the writer, in
/// whatever process, never reuses a page such a snapshot reaches). LMDB's lock file is the model.
///
/// The file holds no secret and no plaintext: process ids, txnids and times. Nothing in it is
/// trusted: a process that can write it can at most make readers refresh in vain, keep pages from
/// being reused (a slot claiming an old snapshot), or let a writer reuse pages a reader still
/// reads — which that reader then refuses, since every page is authenticated against its parent.
/// Layout (all little-endian, see FORMAT.md, "The lock file"):
///
/// | offset | size | field |
/// |---:|---:|---|
/// | 0 | 8 | magic "SealKVLk" |
/// | 8 | 4 | version 1 |
/// | 12 | 4 | slot count |
/// | 16 | 8 | newest durable txnid (written by the writer after each durable commit) |
/// | 24 | 4 | pid of the writer (0: none) |
/// | 32 | 16 | the store's file id |
/// | 4096 + 32·i | 32 | slot i: pid u32, reserved u32, process start time u64, oldest snapshot txnid u64 (max: none now), since u64 (monotonic ms) |
///
/// Every method is called under the owning handle's state lock, so the per-handle fields below need
/// no lock of their own; the shared mapping is accessed only through atomic operations.
final class LockFile: @unchecked Sendable {
    static let magic: [UInt8] = Array("SealKVLk".utf8)
    static let version: UInt32 = 1
    static let slotCount = 1024
    static let slotsOffset = 4096
    static let slotSize = 32
    static let fileSize = slotsOffset + slotCount * slotSize
    /// A slot's snapshot when its handle has no live reader.
    static let idle = UInt64.max

    /// The lock file of the store at `storePath`.
    static func path(forStore storePath: String) -> String { storePath + "-lock" }

    /// A reader slot as another process filled it in.
    struct Slot: Sendable {
        var index: Int
        var pid: Int32
        var txnID: UInt64
        /// When that snapshot began, in milliseconds of the system's monotonic clock.
        var since: UInt64
    }

    let path: String
    private let fd: Int32
    private let base: UnsafeMutableRawPointer
    /// This handle's slot, once it has claimed one.
    private var ownSlot: Int?
    private let pid = getpid()
    private let startTime = LockFile.processStartTime(getpid()) ?? 0
    /// When each slot's process was last found alive (reclaiming checks at most once a second).
    private var aliveChecked: [Int: UInt64] = [:]

    /// Opens (creating if needed) the lock file of the store at `storePath`, whose file id is
    /// `fileID`. Returns nil when the folder is on a read-only file system: no writer can exist
    /// there, so readers need no coordination. A header that is missing, damaged or for another
    /// store is written afresh (its slots cleared) under a lock, by whoever opens first.
    static func open(forStore storePath: String, fileID: [UInt8], storeMode: mode_t) throws(SealKVError) -> LockFile? {
        let path = path(forStore: storePath)
        let fd: Int32
        switch Syscalls.open(path, flags: O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK, mode: storeMode & 0o666) {
        case .success(let f): fd = f
        case .failure(let e) where e.errno == EROFS: return nil
        case .failure(let e): throw SealKVError.system("open the lock file", path: path, errno: e.errno)
        }
        switch Syscalls.nonRegularKind(fd) {
        case .success(nil): break
        case .success(let kind?):
            Syscalls.close(fd)
            throw SealKVError(.invalidArgument, "'\(path)', the store's lock file, is \(kind); remove it so it can be made again.")
        case .failure(let e):
            Syscalls.close(fd)
            throw SealKVError.system("stat the lock file", path: path, errno: e.errno)
        }
        // Initialise under an exclusive lock on the lock file itself (held only for this).
        while systemLockFileFlock(fd, LOCK_EX) != 0 && errno == EINTR {}
        defer { _ = systemLockFileFlock(fd, LOCK_UN) }
        if case .success(let size) = Syscalls.fileSize(fd), size < UInt64(fileSize) {
            let rc = Syscalls.ftruncate(fd, UInt64(fileSize))
            if rc != 0 {
                Syscalls.close(fd)
                throw SealKVError.system("size the lock file", path: path, errno: rc)
            }
        }
        let m = mmap(nil, fileSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        guard m != MAP_FAILED, let m else {
            let e = errno
            Syscalls.close(fd)
            throw SealKVError.system("map the lock file", path: path, errno: e)
        }
        let file = LockFile(path: path, fd: fd, base: m)
        if !file.headerIsValid(fileID: fileID) { file.initialise(fileID: fileID) }
        return file
    }

    private init(path: String, fd: Int32, base: UnsafeMutableRawPointer) {
        self.path = path
        self.fd = fd
        self.base = base
    }

    /// Whether ``close()`` ran: the mapping is gone and every method does nothing.
    private var isClosed = false

    deinit { close() }

    /// Gives this handle's slot back, unmaps the file and closes it.
    func close() {
        guard !isClosed else { return }
        releaseOwnSlot()
        isClosed = true
        munmap(base, Self.fileSize)
        Syscalls.close(fd)
    }

    private func headerIsValid(fileID: [UInt8]) -> Bool {
        memcmp(base, Self.magic, 8) == 0 && base.u32(8) == Self.version && base.u32(12) == UInt32(Self.slotCount)
            && memcmp(base + 32, fileID, 16) == 0
    }

    private func initialise(fileID: [UInt8]) {
        (base + Self.slotsOffset).initializeMemory(as: UInt8.self, repeating: 0, count: Self.slotCount * Self.slotSize)
        Self.magic.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: 8) }
        base.setU32(8, Self.version)
        base.setU32(12, UInt32(Self.slotCount))
        sealkv_store64(base + 16, 0)
        sealkv_store32(base + 24, 0)
        fileID.withUnsafeBytes { (base + 32).copyMemory(from: $0.baseAddress!, byteCount: 16) }
        _ = msync(base, Self.fileSize, MS_ASYNC)
    }

    // MARK: The writer's side

    /// The newest durable commit, as the writer last published it (0: none yet). A hint only: a
    /// reader refreshes when it grows, and opens only what authenticates.
    var committedTxnID: UInt64 { isClosed ? 0 : sealkv_load64(base + 16) }

    /// Publishes `txnID` as the newest durable commit (the writer, after each durable commit).
    func publishCommitted(_ txnID: UInt64) { if !isClosed { sealkv_store64(base + 16, txnID) } }

    /// Records whether this process is the store's writer.
    func markWriter(_ isWriter: Bool) { if !isClosed { sealkv_store32(base + 24, isWriter ? UInt32(bitPattern: pid) : 0) } }

    /// The pid the file names as the writer (0 for none).
    var writerPID: Int32 { isClosed ? 0 : Int32(bitPattern: sealkv_load32(base + 24)) }

    /// The newest durable commit the writer published, if a writer process is alive now (a
    /// reader then opens nothing newer: a newer meta is a commit still being made durable).
    var liveWriterCommitted: UInt64? {
        let pid = writerPID
        guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return nil }
        let txn = committedTxnID
        return txn == 0 ? nil : txn
    }

    // MARK: Reader slots

    private func slot(_ i: Int) -> UnsafeMutableRawPointer { base + Self.slotsOffset + i * Self.slotSize }

    /// Publishes the oldest snapshot this handle's readers hold (nil: none), claiming a slot first
    /// if the handle has none. Returns false when every slot is taken by live processes.
    func publishOldest(_ txnID: UInt64?, since: UInt64) -> Bool {
        guard !isClosed else { return true }
        // A slot taken from this process (it must never be, but a writer would then not see
        // this reader): claim another.
        if let own = ownSlot, sealkv_load32(slot(own)) != UInt32(bitPattern: pid) { ownSlot = nil }
        if ownSlot == nil {
            guard txnID != nil else { return true }
            guard let claimed = claimSlot() else { return false }
            ownSlot = claimed
        }
        let s = slot(ownSlot!)
        sealkv_store64(s + 24, since)
        sealkv_store64(s + 16, txnID ?? Self.idle)
        return true
    }

    private func claimSlot() -> Int? {
        for pass in 0..<2 {
            for i in 0..<Self.slotCount {
                let s = slot(i)
                if sealkv_load32(s) == 0 && sealkv_cas32(s, 0, UInt32(bitPattern: pid)) {
                    sealkv_store64(s + 16, Self.idle)
                    sealkv_store64(s + 8, startTime)
                    return i
                }
            }
            // Every slot taken: reclaim those of processes that died, and try once more.
            if pass == 0 { for i in 0..<Self.slotCount { _ = reclaimIfDead(i, force: true) } }
        }
        return nil
    }

    /// Gives this handle's slot back.
    func releaseOwnSlot() {
        guard !isClosed, let i = ownSlot else { return }
        let s = slot(i)
        sealkv_store64(s + 16, Self.idle)
        sealkv_store64(s + 8, 0)
        sealkv_store32(s, 0)
        ownSlot = nil
    }

    /// The slots of other handles whose readers hold a snapshot now, after reclaiming those of
    /// processes that no longer exist.
    func otherReaders() -> [Slot] {
        guard !isClosed else { return [] }
        var out: [Slot] = []
        for i in 0..<Self.slotCount where i != ownSlot {
            let s = slot(i)
            let pid = Int32(bitPattern: sealkv_load32(s))
            guard pid != 0 else { continue }
            let txn = sealkv_load64(s + 16)
            guard txn != Self.idle else { continue }
            if reclaimIfDead(i, force: false) { continue }
            out.append(Slot(index: i, pid: pid, txnID: txn, since: sealkv_load64(s + 24)))
        }
        return out
    }

    /// Clears slot `i` if the process it names is gone (or its pid now belongs to another process,
    /// told by the start time). Checks a live process at most once a second unless `force`.
    private func reclaimIfDead(_ i: Int, force: Bool) -> Bool {
        let s = slot(i)
        let raw = sealkv_load32(s)
        let pid = Int32(bitPattern: raw)
        guard pid != 0, pid != self.pid || i == ownSlot else { return false }
        let now = UInt64(ReaderInfo.clock() / 1_000_000)
        if !force, let checked = aliveChecked[i], now &- checked < 1000 { return false }
        // A pid outside what the kernel hands out is garbage: a dead slot.
        var dead = pid <= 0
        if !dead {
            if kill(pid, 0) != 0 && errno == ESRCH {
                dead = true
            } else if let started = Self.processStartTime(pid), started != sealkv_load64(s + 8), sealkv_load64(s + 8) != 0 {
                dead = true   // the pid was reused by another process
            }
        }
        guard dead else {
            aliveChecked[i] = now
            return false
        }
        // Forget the dead owner's start time before the slot can be claimed again: a claimant
        // stores its own start time only after its pid, and a start time left from the previous
        // owner would make its fresh slot look like a reused pid's, to be reclaimed under it.
        sealkv_store64(s + 8, 0)
        if sealkv_cas32(s, raw, 0) { sealkv_store64(s + 16, Self.idle) }
        aliveChecked[i] = nil
        return true
    }

    /// A process's start time in clock ticks since boot (/proc/PID/stat, field 22), nil if unknown.
    static func processStartTime(_ pid: Int32) -> UInt64? {
        guard let f = fopen("/proc/\(pid)/stat", "r") else { return nil }
        defer { fclose(f) }
        var buffer = [CChar](repeating: 0, count: 1024)
        guard fgets(&buffer, Int32(buffer.count), f) != nil else { return nil }
        let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // The command name (field 2) may hold spaces and parentheses: count from its last ')'.
        guard let close = line.lastIndex(of: ")") else { return nil }
        let fields = line[line.index(after: close)...].split(separator: " ")
        // Fields 3 onwards follow the name; the start time is field 22.
        guard fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }
}

/// flock(2) on the lock file; the name `flock` also names a struct in Glibc.
@_silgen_name("flock")
private func systemLockFileFlock(_ fd: Int32, _ operation: Int32) -> Int32
