#if canImport(Glibc)
import Glibc
#endif

/// The temporary files that new stores, backups and compacted copies are built in before they are
/// linked into place, and the removal of those a killed process left behind.
///
/// A temporary is named `.sealkv-partial-<pid>-<random>` in the folder of the file it becomes, and
/// the process building it holds an exclusive `flock` on it until it is in place. A process killed
/// meanwhile leaves it behind; the next file built in that folder removes it once it is provably
/// abandoned: ours (a regular file of this user, with our prefix), unlocked, and either its process
/// is gone or it has not changed for ``abandonedAfter`` (a recycled pid). Its contents cannot be
/// mistaken for a store: the meta pages are written last.
enum PartialFiles {
    /// The prefix of every temporary this version makes.
    static let prefix = ".sealkv-partial-"
    /// The prefix earlier versions used (without a pid or a lock).
    static let legacyPrefix = ".sealkv-new-"
    /// An unlocked temporary untouched for this long is abandoned whatever its pid says.
    static let abandonedAfterSeconds = 600

    /// A new temporary's path in `dir`, naming this process.
    static func newPath(in dir: String) -> String {
        "\(dir)/\(prefix)\(getpid())-\(randomBytes(count: 6).map { String($0, radix: 16) }.joined())"
    }

    /// Removes every abandoned temporary in `dir`; returns how many. Failures are ignored: a file
    /// that cannot be inspected or removed is left alone.
    @discardableResult
    static func removeAbandoned(in dir: String) -> Int {
        guard let d = opendir(dir) else { return 0 }
        defer { closedir(d) }
        var names: [String] = []
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name.hasPrefix(prefix) || name.hasPrefix(legacyPrefix) { names.append(name) }
        }
        return names.filter { removeIfAbandoned("\(dir)/\($0)", name: $0) }.count
    }

    /// The pid a temporary's name records, or nil (a legacy name).
    static func pid(inName name: String) -> pid_t? {
        guard name.hasPrefix(prefix) else { return nil }
        return name.dropFirst(prefix.count).split(separator: "-").first.flatMap { pid_t($0) }
    }

    private static func removeIfAbandoned(_ path: String, name: String) -> Bool {
        var before = stat()
        guard lstat(path, &before) == 0, (before.st_mode & S_IFMT) == S_IFREG, before.st_uid == geteuid() else { return false }
        guard case .success(let fd) = Syscalls.open(path, flags: O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY) else { return false }
        defer { Syscalls.close(fd) }
        // Held by a live builder (or locks do not work here): leave it.
        guard Syscalls.flock(fd, exclusive: true) == 0 else { return false }
        var opened = stat()
        guard fstat(fd, &opened) == 0, opened.st_dev == before.st_dev, opened.st_ino == before.st_ino else { return false }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let stale = Int(now.tv_sec) - Int(opened.st_mtim.tv_sec) > abandonedAfterSeconds
        if !stale {
            // Unlocked but recent: abandoned only if the process its name records is gone.
            guard let pid = pid(inName: name), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { return false }
        }
        // Still the same file under that name, and locked by us: remove it.
        var again = stat()
        guard lstat(path, &again) == 0, again.st_ino == opened.st_ino, again.st_dev == opened.st_dev else { return false }
        return unlink(path) == 0
    }
}
