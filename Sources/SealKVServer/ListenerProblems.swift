import NIOCore
import NIOPosix
import SealKV
#if canImport(Glibc)
import Glibc
#endif

/// Why a listener could not be set up, in plain words that name the `sealkv serve` option
/// (`--listen`, `--unix`), the address or path, and what to do. SwiftNIO's own errors print as its
/// type names (`UnixDomainSocketPathWrongType()`, `bind(descriptor:ptr:bytes:)`), which tell a user
/// nothing.
enum ListenerProblems {
    /// The longest Unix socket path: `sun_path` holds 108 bytes, the terminating NUL included.
    static let longestUnixPath = 107

    /// `host:port`, with an IPv6 address in brackets (`[::1]:6380`).
    static func endpoint(_ host: String, _ port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Checks a `--unix` path before binding, so each way it can fail gets its own message: empty,
    /// too long, in a folder that does not exist, taken by something that is not a socket, or a
    /// socket another process still listens on (which binding would silently take over, since a
    /// socket left behind by an earlier run is removed first).
    static func checkUnixPath(_ path: String) throws(SealKVError) {
        guard !path.isEmpty else {
            throw problem("--unix: the path is empty; give the path of the socket to create, like /tmp/sealkv.sock.")
        }
        let length = path.utf8.count
        guard length <= longestUnixPath else {
            throw problem("--unix: '\(path)' is \(length) bytes long, but a Unix socket path holds at most \(longestUnixPath) bytes; choose a shorter path, such as one under /tmp or /run, or a relative one.")
        }
        let folder = folderOf(path)
        var st = stat()
        if stat(folder, &st) != 0 {
            if errno == ENOENT || errno == ENOTDIR {
                throw problem("--unix: the folder '\(folder)' does not exist, so the socket '\(path)' cannot be created there; create the folder first, or choose a path in an existing one.")
            }
        } else if st.st_mode & S_IFMT != S_IFDIR {
            throw problem("--unix: '\(folder)' is not a folder, so the socket '\(path)' cannot be created in it; choose a path in a folder.")
        }
        guard lstat(path, &st) == 0 else { return }
        guard st.st_mode & S_IFMT == S_IFSOCK else {
            throw problem("--unix: '\(path)' already exists and is \(kindPhrase(st.st_mode)), not a socket; remove it, or choose another path (serve replaces only a socket an earlier run left behind).")
        }
        if someoneListens(at: path) {
            throw problem("--unix: another process is listening on '\(path)' already (another `sealkv serve`?); stop it, or choose another path.")
        }
    }

    /// The message for a failed bind of the Unix socket at `path`.
    static func unixBindFailure(_ error: any Error, path: String) -> SealKVError {
        let folder = folderOf(path)
        switch error {
        case SocketAddressError.unixDomainSocketPathTooLong:
            return problem("--unix: '\(path)' is too long for a Unix socket path (at most \(longestUnixPath) bytes); choose a shorter path.")
        case is UnixDomainSocketPathWrongType:
            return problem("--unix: '\(path)' already exists and is not a socket; remove it, or choose another path.")
        case let error as IOError:
            switch error.errnoCode {
            case EACCES, EPERM:
                return problem("--unix: no permission to create the socket '\(path)' in '\(folder)'; choose a folder this user can write to, or run serve as a user who can write there.")
            case EROFS:
                return problem("--unix: '\(folder)' is on a read-only file system, so the socket '\(path)' cannot be created; choose a path on a writable one, such as under /tmp.")
            case ENOENT, ENOTDIR:
                return problem("--unix: the folder '\(folder)' does not exist, so the socket '\(path)' cannot be created there; create the folder first, or choose a path in an existing one.")
            case EADDRINUSE:
                return problem("--unix: '\(path)' is taken (something created it meanwhile); remove it, or choose another path.")
            case ENAMETOOLONG:
                return problem("--unix: '\(path)' (or a folder in it) has a name too long for the file system; choose a shorter path.")
            default:
                return problem("--unix: cannot listen on '\(path)': \(reason(error.errnoCode)).")
            }
        default:
            return problem("--unix: cannot listen on '\(path)': \(error).")
        }
    }

    /// The message for a failed bind of the TCP address `host:port`.
    static func tcpBindFailure(_ error: any Error, host: String, port: Int) -> SealKVError {
        let address = endpoint(host, port)
        guard let error = error as? IOError else {
            return problem("--listen: cannot listen on \(address): \(error).")
        }
        switch error.errnoCode {
        case EADDRINUSE:
            return problem("--listen: \(address) is already in use by another process (another `sealkv serve`, or a Redis server?); stop it, or choose another port (0 picks a free one).")
        case EADDRNOTAVAIL:
            return problem("--listen: \(host) is not an address of this machine; give one of its addresses, like 127.0.0.1, or 0.0.0.0 for all of them (with --requirepass-file).")
        case EACCES, EPERM:
            if port < 1024 {
                return problem("--listen: port \(port) is below 1024, and this process lacks the privilege to listen there; choose a port from 1024 up, like 6380.")
            }
            return problem("--listen: not permitted to listen on \(address); choose another address or port.")
        default:
            return problem("--listen: cannot listen on \(address): \(reason(error.errnoCode)).")
        }
    }

    /// The message for a `--listen` host name that does not resolve.
    static func unresolvable(_ host: String) -> SealKVError {
        problem("--listen: the host '\(host)' does not resolve to an address; give an IP address like 127.0.0.1 or ::1 (in brackets: [::1]:6380), or a name this machine resolves.")
    }

    private static func problem(_ message: String) -> SealKVError {
        SealKVError(.invalidArgument, message)
    }

    /// Whether a process accepts connections on the Unix socket at `path`.
    private static func someoneListens(at path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8)
            raw.copyBytes(from: bytes.prefix(raw.count - 1))
        }
        let rc = withUnsafePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return rc == 0
    }

    /// The folder a path is in ("." for a bare name).
    private static func folderOf(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let folder = String(path[..<slash])
        return folder.isEmpty ? "/" : folder
    }

    /// "a regular file", "a directory", ...
    private static func kindPhrase(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: "a regular file"
        case S_IFDIR: "a directory"
        case S_IFIFO: "a FIFO (named pipe)"
        case S_IFLNK: "a symbolic link"
        case S_IFCHR, S_IFBLK: "a device"
        default: "something else"
        }
    }

    /// strerror's text, lowercased to sit inside a sentence.
    private static func reason(_ code: Int32) -> String {
        String(cString: strerror(code)).lowercased()
    }
}
