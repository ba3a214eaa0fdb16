import Synchronization

/// The `async` API: the same operations as the synchronous one, each run on a thread of the
/// store's own (``BlockingExecutor``) while the caller suspends, so key derivation and fsync waits
/// never hold a thread of Swift's cooperative pool.
///
/// Closures run on that thread, synchronously: they are `@Sendable`, may use the transaction they
/// are given (and values they captured), and must not escape the transaction or wait for other
/// tasks. Errors are `SealKVError`, or what the closure threw, or `CancellationError`.
extension Database {
    /// Opens (by default creating) the store at `path`, deriving the key off the cooperative pool.
    /// See ``open(at:credential:options:)-13jae`` for what it throws.
    public static func open(at path: String, credential: Credential, options: Options = Options()) async throws(SealKVError) -> Database {
        do {
            return try await BlockingExecutor.opening.run { () throws -> Database in
                try Database.open(at: path, credential: credential, options: options)
            }
        } catch {
            throw (error as? SealKVError) ?? SealKVError(.ioError, "opening '\(path)' failed: \(error)")
        }
    }

    /// Runs `body` in a read transaction on the newest committed snapshot, on a thread of the
    /// store's own. Throws `CancellationError` if the task was cancelled before it started.
    public func read<R: Sendable>(_ body: @escaping @Sendable (ReadTransaction) throws -> R) async throws -> R {
        try Task.checkCancellation()
        return try await executor.run { try self.read(body) }
    }

    /// Runs `body` in a write transaction and commits it, on a thread of the store's own; returns
    /// once the commit is durable. Writers calling at once share commits (see ``write(_:)-1yr3a``).
    ///
    /// Cancellation before the commit rolls the transaction back and throws `CancellationError`:
    /// a task cancelled before its closure runs, or while it runs, makes no change. Once the
    /// closure has returned, the commit goes ahead and its result stands.
    public func write<R: Sendable>(_ body: @escaping @Sendable (WriteTransaction) throws -> R) async throws -> R {
        try Task.checkCancellation()
        let cancelled = CancellationFlag()
        return try await withTaskCancellationHandler {
            try await executor.run {
                try self.write { tx in
                    if cancelled.isSet { throw CancellationError() }
                    let result = try body(tx)
                    if cancelled.isSet { throw CancellationError() }
                    return result
                }
            }
        } onCancel: {
            cancelled.set()
        }
    }

    /// Runs `body` in a write transaction on a thread of the store's own and calls `completion`
    /// there with the result once the commit is durable (or has failed). For callers that must not
    /// depend on Swift's cooperative pool, which other work in the process can keep busy for
    /// seconds: the server's event loops complete their replies from here.
    package func write<R: Sendable>(_ body: @escaping @Sendable (WriteTransaction) throws -> R,
                                    completion: @escaping @Sendable (Result<R, any Error>) -> Void) {
        executor.submit { completion(Result { try self.write(body) }) }
    }

    /// Makes every commit durable (no-sync mode), off the cooperative pool.
    public func sync() async throws {
        try await executor.run { () throws in try self.sync() }
    }

    /// ``backup(to:overwrite:progress:)-9w0pf``, off the cooperative pool.
    public func backup(to path: String, overwrite: Bool = false, progress: (@Sendable (OperationProgress) -> Void)? = nil) async throws {
        try await executor.run { try self.backup(to: path, overwrite: overwrite, progress: progress) }
    }

    /// ``compact(to:overwrite:progress:)-vrnd``, off the cooperative pool.
    public func compact(to path: String, overwrite: Bool = false, progress: (@Sendable (OperationProgress) -> Void)? = nil) async throws {
        try await executor.run { try self.compact(to: path, overwrite: overwrite, progress: progress) }
    }

    /// ``rekey(credential:progress:)-2lora``, off the cooperative pool; `progress` is called on the
    /// store's thread as pages are re-sealed.
    @discardableResult
    public func rekey(credential: Credential, progress: (@Sendable (OperationProgress) -> Void)? = nil) async throws -> RekeyReport {
        try await executor.run { try self.rekey(credential: credential, progress: progress) }
    }

    /// ``changePassword(from:to:kdf:)-4jgl4``, with the key derivations off the cooperative pool.
    public func changePassword(from old: Credential, to new: Credential, kdf: KDFStrength? = nil) async throws {
        try await executor.run { try self.changePassword(from: old, to: new, kdf: kdf) }
    }

    /// ``check(readBatch:progress:)-98gjx``, off the cooperative pool.
    public func check(readBatch: Int = 64, progress: (@Sendable (OperationProgress) -> Void)? = nil) async throws -> CheckReport {
        try await executor.run { try self.check(readBatch: readBatch, progress: progress) }
    }
}

/// A flag one task's cancellation handler sets and the store's thread reads.
final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .acquiring) }
    func set() { flag.store(true, ordering: .releasing) }
}
