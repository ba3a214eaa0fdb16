#if canImport(Glibc)
import Glibc
#endif

/// What a path or descriptor names, for refusing the wrong kind of file before anything blocks on
/// it (a FIFO without a writer blocks `open` and `read` forever) or misreads it (a directory, or
/// `/dev/null`, reads as an empty file).
enum FileKind: Equatable {
    case regular, directory, namedPipe, pipe, characterDevice, blockDevice, socket, other

    init(mode: mode_t) {
        switch mode & S_IFMT {
        case S_IFREG: self = .regular
        case S_IFDIR: self = .directory
        case S_IFIFO: self = .namedPipe
        case S_IFCHR: self = .characterDevice
        case S_IFBLK: self = .blockDevice
        case S_IFSOCK: self = .socket
        default: self = .other
        }
    }

    /// The kind of what `path` names (following symbolic links), or nil if nothing is there.
    static func of(_ path: String) throws -> FileKind? {
        var st = stat()
        if stat(path, &st) == 0 { return FileKind(mode: st.st_mode) }
        if errno == ENOENT { return nil }
        throw ToolFailure("cannot inspect '\(path)': \(String(cString: strerror(errno))).", exitCode: 2)
    }

    /// The kind of an open descriptor; a pipe without a name (`<(command)`, `|`) is told apart
    /// from a named FIFO by what /proc says the descriptor is.
    static func of(descriptor fd: Int32) -> FileKind {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return .other }
        let kind = FileKind(mode: st.st_mode)
        guard kind == .namedPipe else { return kind }
        var target = [CChar](repeating: 0, count: 256)
        let n = readlink("/proc/self/fd/\(fd)", &target, target.count - 1)
        let name = n > 0 ? String(decoding: target[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        return name.hasPrefix("pipe:") ? .pipe : .namedPipe
    }

    /// "a directory", "a FIFO (named pipe)", ...: what it is, in a sentence.
    var phrase: String {
        switch self {
        case .regular: "a regular file"
        case .directory: "a directory"
        case .namedPipe: "a FIFO (named pipe)"
        case .pipe: "a pipe"
        case .characterDevice: "a character device"
        case .blockDevice: "a block device"
        case .socket: "a socket"
        case .other: "not a regular file"
        }
    }
}

/// Refuses a store path that is not a regular file, naming what it is instead; nothing is opened,
/// so a FIFO cannot block. A missing path is the caller's to report.
func requireRegularStore(_ path: String) throws {
    guard let kind = try FileKind.of(path), kind != .regular else { return }
    throw ToolFailure("'\(path)' is \(kind.phrase), not a store file; check the path.", exitCode: 2)
}

/// Whether a command may replace a file at the path it creates.
enum Replacing {
    /// Never (`init`).
    case never
    /// Only with `--force`, which was given or not.
    case withForce(Bool)
}

/// Checks a path the tool is about to create (a new store, a copy): its folder must exist, and an
/// existing file there must be a regular file that `replacing` allows replacing. `source` names the
/// store being copied, which the output must not be.
func requireCreatable(_ path: String, replacing: Replacing, source: String? = nil) throws {
    let dir = parentFolder(of: path)
    switch try FileKind.of(dir) {
    case nil: throw ToolFailure("the folder '\(dir)' does not exist; create it first, or choose another path.", exitCode: 2)
    case .directory?: break
    case let kind?: throw ToolFailure("'\(dir)' is \(kind.phrase), not a folder, so '\(path)' cannot be created there.", exitCode: 2)
    }
    guard let kind = try FileKind.of(path) else { return }
    guard kind == .regular else {
        let force = if case .withForce = replacing { " (--force replaces only regular files)" } else { "" }
        throw ToolFailure("'\(path)' is \(kind.phrase); choose a path for a new file\(force).", exitCode: 2)
    }
    if let source, sameFile(source, path) {
        throw ToolFailure("'\(path)' is the store itself; write the copy elsewhere, then move it.", exitCode: 2)
    }
    switch replacing {
    case .never: throw ToolFailure("'\(path)' already exists; init never replaces a file: choose another path.", exitCode: 2)
    case .withForce(false): throw ToolFailure("'\(path)' already exists; pass --force to replace it, or choose another path.", exitCode: 2)
    case .withForce(true): break
    }
}

/// The folder part of a path ("." when there is none).
func parentFolder(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    let dir = String(path[..<slash])
    return dir.isEmpty ? "/" : dir
}

/// Whether two paths name the same file.
func sameFile(_ a: String, _ b: String) -> Bool {
    var x = stat(), y = stat()
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino
}

/// A file the tool reads (a password or key file, a value file, the input of `load`), opened
/// without blocking and refused unless it is a regular file or a pipe that already has a writer
/// (`--password-file <(command)`). Closed on deinit.
final class InputFile {
    let fd: Int32
    let kind: FileKind
    let name: String
    /// The size of a regular file (nil for a pipe).
    let size: Int?
    private let owned: Bool

    /// Opens `path`; `what` names its role in messages ("the password file").
    convenience init(path: String, what: String) throws {
        var fd: Int32
        repeat { fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC) } while fd < 0 && errno == EINTR
        guard fd >= 0 else {
            let reason = errno == ENOENT ? "it does not exist" : String(cString: strerror(errno)).lowercased()
            throw ToolFailure("cannot read \(what) '\(path)': \(reason).", exitCode: 2)
        }
        let kind = FileKind.of(descriptor: fd)
        guard kind == .regular || kind == .pipe else {
            close(fd)
            let hint = kind == .namedPipe ? " Give its contents on standard input instead, or as <(command)." : ""
            throw ToolFailure("\(what) '\(path)' is \(kind.phrase), not a regular file.\(hint)", exitCode: 2)
        }
        // Reads block from here on: a regular file never waits, and a pipe has a writer.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        var st = stat()
        fstat(fd, &st)
        self.init(fd: fd, kind: kind, name: "\(what) '\(path)'", size: kind == .regular ? Int(st.st_size) : nil, owned: true)
    }

    /// Standard input, refused if it is a directory.
    static func standardInput() throws -> InputFile {
        let kind = FileKind.of(descriptor: STDIN_FILENO)
        if kind == .directory {
            throw ToolFailure("standard input is a directory; redirect a file or a pipe into it.", exitCode: 2)
        }
        var st = stat()
        fstat(STDIN_FILENO, &st)
        return InputFile(fd: STDIN_FILENO, kind: kind, name: "standard input", size: kind == .regular ? Int(st.st_size) : nil, owned: false)
    }

    private init(fd: Int32, kind: FileKind, name: String, size: Int?, owned: Bool) {
        self.fd = fd
        self.kind = kind
        self.name = name
        self.size = size
        self.owned = owned
    }

    deinit { if owned { close(fd) } }

    /// Reads up to `count` bytes into `buffer`; 0 at the end. Retries on EINTR.
    func read(into buffer: UnsafeMutableRawPointer, count: Int) throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer, count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            if errno == EAGAIN {
                // A descriptor shared with a non-blocking writer: wait until it is readable.
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                _ = poll(&p, 1, -1)
                continue
            }
            throw ToolFailure("cannot read \(name): \(String(cString: strerror(errno)).lowercased()).", exitCode: 2)
        }
    }

    /// Reads everything, up to `limit` bytes, into `buffer` (which holds at least `limit + 1`
    /// bytes); returns the count, or nil when there is more than `limit`.
    func readAll(into buffer: UnsafeMutableRawBufferPointer, limit: Int) throws -> Int? {
        var total = 0
        while total <= limit {
            let n = try read(into: buffer.baseAddress! + total, count: limit + 1 - total)
            if n == 0 { return total }
            total += n
        }
        return nil
    }
}
