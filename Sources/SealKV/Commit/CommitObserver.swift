/// Hooks a test harness sets to follow commits one by one, including the several commits a single
/// call such as `changePassword` or `rekey` makes. Called with the writer lock held.
package struct CommitObserver: Sendable {
    /// Before the first byte of commit `txnID` is written.
    package var willWrite: @Sendable (UInt64) -> Void
    /// After commit `txnID` is durable (or, without sync, issued) and published.
    package var didPublish: @Sendable (UInt64) -> Void

    package init(willWrite: @escaping @Sendable (UInt64) -> Void, didPublish: @escaping @Sendable (UInt64) -> Void) {
        self.willWrite = willWrite
        self.didPublish = didPublish
    }
}
