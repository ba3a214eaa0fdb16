#if canImport(Glibc)
import Glibc
#endif

/// Creating a file so that a crash leaves either no file or the complete one: written under a
/// temporary name in the same folder, synced, then linked (or renamed) into place, and the folder
/// synced. New stores, backups and compacted copies are made this way.
enum AtomicFile {
    /// Creates a store file atomically: writes it under a temporary name, syncs it, then links it
    /// into place (which fails if a file appeared there meanwhile) and syncs the folder.
    static func create(at path: String, contents: [UInt8]) throws(SealKVError) {
        try create(at: path, replacing: false) { (fd) throws(SealKVError) in
            let rc = contents.withUnsafeBytes { Syscalls.pwrite(fd, $0.baseAddress!, contents.count, 0) }
            if rc != 0 { throw SealKVError.system("write the new store", path: path, errno: rc) }
        }
    }

    /// Creates a file atomically with contents written by `fill` to a temporary file in the same
    /// folder: synced, then linked into place (or, with `replacing`, renamed over any existing file)
    /// and the folder synced. A crash leaves either no file or the complete one.
    static func create(at path: String, replacing: Bool, fill: (Int32) throws(SealKVError) -> Void) throws(SealKVError) {
        let dir = directoryOf(path)
        let temp = "\(dir)/.sealkv-new-\(randomBytes(count: 6).map { String($0, radix: 16) }.joined())"
        let fd: Int32
        switch Syscalls.open(temp, flags: O_RDWR | O_CREAT | O_EXCL, mode: 0o600) {
        case .success(let f): fd = f
        case .failure(let e): throw SealKVError.system("create a store in", path: dir, errno: e.errno)
        }
        defer { unlink(temp) }
        do throws(SealKVError) {
            try fill(fd)
            let rc = Syscalls.fsync(fd)
            if rc != 0 { throw SealKVError.system("sync the new store", path: temp, errno: rc) }
        } catch {
            Syscalls.close(fd)
            throw error
        }
        Syscalls.close(fd)
        if replacing {
            if rename(temp, path) != 0 { throw SealKVError.system("replace", path: path, errno: errno) }
        } else if link(temp, path) != 0 {
            throw SealKVError.system("create", path: path, errno: errno)
        }
        if case .success(let dfd) = Syscalls.open(dir, flags: O_RDONLY | O_DIRECTORY) {
            _ = Syscalls.fsync(dfd)
            Syscalls.close(dfd)
        }
    }
}
