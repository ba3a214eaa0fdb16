#if canImport(Glibc)
import Glibc
#endif

/// Thin wrappers over the system calls SealKV uses: one per call, retrying on EINTR, returning the
/// errno on failure.
enum Syscalls {
    /// A failed call's errno.
    struct Failure: Error { let errno: Int32 }

    static func open(_ path: String, flags: Int32, mode: mode_t = 0o600) -> Result<Int32, Failure> {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return .success(fd) }
            if errno != EINTR { return .failure(Failure(errno: errno)) }
        }
    }

    static func pread(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int, _ offset: UInt64) -> Int32 {
        var done = 0
        while done < count {
            let n = Glibc.pread(fd, buffer + done, count - done, off_t(offset) + off_t(done))
            if n > 0 { done += n; continue }
            if n == 0 { return ENODATA }
            if errno != EINTR { return errno }
        }
        return 0
    }

    static func pwrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int, _ offset: UInt64) -> Int32 {
        var done = 0
        while done < count {
            let n = Glibc.pwrite(fd, buffer + done, count - done, off_t(offset) + off_t(done))
            if n > 0 { done += n; continue }
            if n == 0 { return EIO }
            if errno != EINTR { return errno }
        }
        return 0
    }

    /// Writes `buffers` (each `length` bytes) back to back from `offset`, as few `pwritev` calls as
    /// the kernel's vector limit allows. A short write is finished with `pwrite`.
    static func pwritev(_ fd: Int32, _ buffers: ArraySlice<UnsafeRawPointer>, length: Int, _ offset: UInt64) -> Int32 {
        let vectorLimit = 1024
        var next = buffers.startIndex
        var position = offset
        var vectors: [iovec] = []
        vectors.reserveCapacity(min(buffers.count, vectorLimit))
        while next < buffers.endIndex {
            let end = min(next + vectorLimit, buffers.endIndex)
            vectors.removeAll(keepingCapacity: true)
            for b in buffers[next..<end] { vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: b), iov_len: length)) }
            let wanted = (end - next) * length
            let n = vectors.withUnsafeBufferPointer { Glibc.pwritev(fd, $0.baseAddress, Int32($0.count), off_t(position)) }
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            if n == 0 { return EIO }
            var written = end - next
            if n < wanted {
                // Finish the buffer the kernel stopped in; the loop goes on with the next.
                written = n / length
                if n % length > 0 {
                    let rc = pwrite(fd, buffers[next + written] + n % length, length - n % length, position + UInt64(n))
                    if rc != 0 { return rc }
                    written += 1
                }
            }
            next += written
            position += UInt64(written * length)
        }
        return 0
    }

    static func fdatasync(_ fd: Int32) -> Int32 {
        while Glibc.fdatasync(fd) != 0 {
            if errno != EINTR { return errno }
        }
        return 0
    }

    /// Asks the kernel to start writing the range's dirty pages to the device now, without
    /// waiting (`sync_file_range(SYNC_FILE_RANGE_WRITE)`): a later fdatasync then has less left to
    /// do. Only a hint; it makes nothing durable, so its failure is ignored.
    static func startWriteback(_ fd: Int32, from offset: UInt64, bytes: UInt64) {
        _ = systemSyncFileRange(fd, off_t(offset), off_t(bytes), 2 /* SYNC_FILE_RANGE_WRITE */)
    }

    static func fsync(_ fd: Int32) -> Int32 {
        while Glibc.fsync(fd) != 0 {
            if errno != EINTR { return errno }
        }
        return 0
    }

    static func ftruncate(_ fd: Int32, _ size: UInt64) -> Int32 {
        while Glibc.ftruncate(fd, off_t(size)) != 0 {
            if errno != EINTR { return errno }
        }
        return 0
    }

    /// What kind of file `fd` is, when it is not a regular file ("a directory", "a named pipe
    /// (FIFO)", ...); nil for a regular file.
    static func nonRegularKind(_ fd: Int32) -> Result<String?, Failure> {
        var st = stat()
        if fstat(fd, &st) != 0 { return .failure(Failure(errno: errno)) }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return .success(nil)
        case S_IFDIR: return .success("a directory")
        case S_IFIFO: return .success("a named pipe (FIFO)")
        case S_IFCHR: return .success("a character device")
        case S_IFBLK: return .success("a block device")
        case S_IFSOCK: return .success("a socket")
        default: return .success("not a regular file")
        }
    }

    /// Clears `O_NONBLOCK` on `fd` (set only to open a path that might be a FIFO without waiting).
    static func clearNonBlocking(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
    }

    static func fileSize(_ fd: Int32) -> Result<UInt64, Failure> {
        var st = stat()
        if fstat(fd, &st) != 0 { return .failure(Failure(errno: errno)) }
        return .success(UInt64(st.st_size))
    }

    /// Takes an advisory whole-file lock without waiting: shared for readers, exclusive for a writer.
    static func flock(_ fd: Int32, exclusive: Bool) -> Int32 {
        while systemFlock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 {
            if errno != EINTR { return errno }
        }
        return 0
    }

    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }
}

/// The folder part of a path ("." when there is none).
func directoryOf(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    let dir = String(path[..<slash])
    return dir.isEmpty ? "/" : dir
}

/// flock(2); the name `flock` also names a struct in Glibc, which hides the function from Swift.
@_silgen_name("flock")
private func systemFlock(_ fd: Int32, _ operation: Int32) -> Int32

/// sync_file_range(2), which Glibc's Swift module does not declare.
@_silgen_name("sync_file_range")
private func systemSyncFileRange(_ fd: Int32, _ offset: off_t, _ bytes: off_t, _ flags: UInt32) -> Int32
