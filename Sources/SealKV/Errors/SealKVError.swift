#if canImport(Glibc)
import Glibc
#endif

/// The one error type SealKV throws.
///
/// Every error carries a stable ``Code`` to switch on, a message that says what happened and what to
/// do, the `errno` of a failed system call where there was one, and the page number where a page was
/// at fault. Messages never contain secrets (passwords, keys) or stored values.
public struct SealKVError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure this is. New codes may be added; switch with a `default` branch.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Value: Hashable, Sendable {
            case wrongCredential, notASealKVFile, unsupportedFormat, truncated, corrupted
            case fileNotFound, fileExists, permissionDenied, readOnly, locked
            case ioError, noSpace, poisoned, closed
            case invalidArgument, keyTooLarge, valueTooLarge, emptyKey
            case transactionClosed, notFound, namespaceNotFound, decodingFailed, conflict, rolledBack, rekeyed
        }
        let value: Value
        init(_ value: Value) { self.value = value }

        /// The password or key does not open this store.
        public static let wrongCredential = Code(.wrongCredential)
        /// The file is not a SealKV store (wrong magic, empty, or foreign content).
        public static let notASealKVFile = Code(.notASealKVFile)
        /// The store was written by a format version, cipher or page size this build does not read.
        public static let unsupportedFormat = Code(.unsupportedFormat)
        /// The file is shorter than its own metadata says it must be.
        public static let truncated = Code(.truncated)
        /// A page or meta slot failed authentication or holds impossible contents.
        public static let corrupted = Code(.corrupted)
        /// Opening an existing store, but there is no file at the path.
        public static let fileNotFound = Code(.fileNotFound)
        /// Creating a new store, but a file already exists at the path.
        public static let fileExists = Code(.fileExists)
        /// The operating system refused access to the file or its folder.
        public static let permissionDenied = Code(.permissionDenied)
        /// A write was attempted on a store opened read-only.
        public static let readOnly = Code(.readOnly)
        /// Another process holds a conflicting lock on the store.
        public static let locked = Code(.locked)
        /// A read, write, sync or other system call failed.
        public static let ioError = Code(.ioError)
        /// The file system is full.
        public static let noSpace = Code(.noSpace)
        /// An earlier write or sync failed; this handle acknowledges no more commits until reopened.
        public static let poisoned = Code(.poisoned)
        /// The database handle was closed.
        public static let closed = Code(.closed)
        /// A caller's argument is out of range.
        public static let invalidArgument = Code(.invalidArgument)
        /// A key is longer than ``Limits/maxKeyLength``.
        public static let keyTooLarge = Code(.keyTooLarge)
        /// A value is longer than ``Limits/maxValueLength``.
        public static let valueTooLarge = Code(.valueTooLarge)
        /// Keys must be at least one byte long.
        public static let emptyKey = Code(.emptyKey)
        /// Another process rekeyed the store: this handle's data key no longer opens its newest
        /// commits. Reopen the store with its credential.
        public static let rekeyed = Code(.rekeyed)
        /// A transaction was used after its closure returned.
        public static let transactionClosed = Code(.transactionClosed)
        /// A required entry is absent.
        public static let notFound = Code(.notFound)
        /// A namespace that does not exist was named where it must exist.
        public static let namespaceNotFound = Code(.namespaceNotFound)
        /// A stored value could not be decoded as the requested type.
        public static let decodingFailed = Code(.decodingFailed)
        /// The operation conflicts with the store's current state (e.g. a nested write transaction).
        public static let conflict = Code(.conflict)
        /// The file holds an older commit than `Options.minimumTxnID` demands: it was rolled back.
        public static let rolledBack = Code(.rolledBack)

        /// The code's name, e.g. "wrongCredential".
        public var description: String { "\(value)" }
    }

    /// What kind of failure this is.
    public let code: Code
    /// What happened and what to do about it.
    public let message: String
    /// The `errno` of the failed system call, when a system call failed.
    public let errno: Int32?
    /// The page at fault, when one page was.
    public let page: UInt64?

    /// Makes an error. Messages must not contain secrets or stored values.
    public init(_ code: Code, _ message: String, errno: Int32? = nil, page: UInt64? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
        self.page = page
    }

    /// "SealKV error (code): message", with the errno and page when known.
    public var description: String {
        var text = "SealKV error (\(code)): \(message)"
        if let errno { text += " [errno \(errno): \(String(cString: strerror(errno)))]" }
        return text
    }
}

extension SealKVError {
    static func corrupted(page: UInt64, _ what: String) -> SealKVError {
        SealKVError(.corrupted, "page \(page) \(what)\(damageAdvice)", page: page)
    }

    /// What a message about a damaged page ends with: what it means and what to do.
    static let damageAdvice = "; the file was damaged or tampered with. Run `sealkv check` and restore from a backup."

    /// The message without ``damageAdvice``: what failed, for a caller that knows better what it
    /// means (recovery refusing a torn commit, which a power cut also leaves).
    var messageWithoutAdvice: String {
        message.hasSuffix(Self.damageAdvice) ? String(message.dropLast(Self.damageAdvice.count)) : message
    }

    /// Maps a failed system call to an error whose code follows the errno.
    package static func system(_ operation: String, path: String?, errno code: Int32) -> SealKVError {
        let target = path.map { " '\($0)'" } ?? ""
        switch code {
        case ENOENT:
            return SealKVError(.fileNotFound, "\(operation)\(target): no such file. Check the path, or create the store.", errno: code)
        case EEXIST:
            return SealKVError(.fileExists, "\(operation)\(target): a file already exists there. Choose another path or open the existing store.", errno: code)
        case EACCES, EPERM:
            return SealKVError(.permissionDenied, "\(operation)\(target): permission denied. Check the file's and folder's permissions.", errno: code)
        case EROFS:
            return SealKVError(.readOnly, "\(operation)\(target): the file system is read-only. Open the store read-only.", errno: code)
        case ENOSPC, EDQUOT:
            return SealKVError(.noSpace, "\(operation)\(target): no space left on the device. Free space, then reopen the store.", errno: code)
        case EMFILE, ENFILE:
            return SealKVError(.ioError, "\(operation)\(target): too many open files. Close other files or raise the limit (ulimit -n), then try again.", errno: code)
        case EWOULDBLOCK:
            return SealKVError(.locked, "\(operation)\(target): the store is locked by another process. Close the other process's handle or open read-only once it has finished writing.", errno: code)
        default:
            return SealKVError(.ioError, "\(operation)\(target) failed.", errno: code)
        }
    }
}
