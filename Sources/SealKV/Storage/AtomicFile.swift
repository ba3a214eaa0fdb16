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
    /// and the folder synced. A crash leaves either no file or the complete one, plus at most a
    /// temporary that the next file built in that folder removes (see ``PartialFiles``); `fill`
    /// writes the meta pages last, so a temporary cut short never opens as a store.
    static func create(at path: String, replacing: Bool, fill: (Int32) throws(SealKVError) -> Void) throws(SealKVError) {
        let dir = directoryOf(path)
        PartialFiles.removeAbandoned(in: dir)
        let temp = PartialFiles.newPath(in: dir)
        let fd: Int32
        switch Syscalls.open(temp, flags: O_RDWR | O_CREAT | O_EXCL, mode: 0o600) {
        case .success(let f): fd = f
        case .failure(let e): throw SealKVError.system("create a store in", path: dir, errno: e.errno)
        }
        // Held until the file is in place: it tells other processes the temporary is in use.
        _ = Syscalls.flock(fd, exclusive: true)
        defer { Syscalls.close(fd) }
        do throws(SealKVError) {
            try fill(fd)
            let rc = Syscalls.fsync(fd)
            if rc != 0 { throw SealKVError.system("sync the new store", path: temp, errno: rc) }
            if replacing {
                if rename(temp, path) != 0 { throw SealKVError.system("replace", path: path, errno: errno) }
            } else if link(temp, path) != 0 {
                throw SealKVError.system("create", path: path, errno: errno)
            }
        } catch {
            unlink(temp)
            throw error
        }
        if !replacing { unlink(temp) }
        if case .success(let dfd) = Syscalls.open(dir, flags: O_RDONLY | O_DIRECTORY) {
            _ = Syscalls.fsync(dfd)
            Syscalls.close(dfd)
        }
    }
}
