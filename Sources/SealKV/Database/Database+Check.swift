extension Database {
    /// Checks the newest commit completely: authenticates every reachable page from storage (not
    /// the cache), verifies every tree's invariants, and accounts for every page. Runs as a reader,
    /// so writers may keep committing meanwhile.
    ///
    /// - Parameters:
    ///   - readBatch: pages read per submission (in parallel under io_uring); 1 reads page by page,
    ///     synchronously.
    ///   - progress: called as pages are checked.
    public func check(readBatch: Int = 64, progress: ((OperationProgress) -> Void)? = nil) throws -> CheckReport {
        var report = try read(keepingHeader: true) { tx in
            var checker = StoreChecker(transaction: tx)
            checker.batchSize = max(1, readBatch)
            checker.progress = progress
            return checker.run()
        }
        // The commit checked is the one recovery opened (or a later one): a refused newer commit is
        // what an interrupted commit leaves, so it is a warning, as it is to recovery, not a problem.
        if let warning = recovery.warning, let slot = recovery.refusedSlot {
            report.warnings.append(.init(page: UInt64(slot), message: warning))
        }
        return report
    }
}
