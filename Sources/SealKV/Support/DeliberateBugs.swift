/// Known-wrong behaviours the crash harness's own tests switch on, to prove the harness reports a
/// violation for each. Honoured only in debug builds, and settable only inside this package.
package struct DeliberateBugs: OptionSet, Sendable {
    package let rawValue: Int
    package init(rawValue: Int) { self.rawValue = rawValue }

    /// Acknowledge a one-fsync commit without syncing it.
    package static let skipCommitSync = DeliberateBugs(rawValue: 1 << 0)
    /// Reuse pages a commit frees within the same commit (overwriting the previous commit's tree).
    package static let reuseFreedPagesInSameCommit = DeliberateBugs(rawValue: 1 << 1)
    /// Accept the newest meta without authenticating the pages its commit wrote.
    package static let skipRecoveryCheck = DeliberateBugs(rawValue: 1 << 2)
    /// Cut free pages off the end of the file before the commit that freed them is durable.
    package static let truncateBeforeDurable = DeliberateBugs(rawValue: 1 << 3)

    /// Whether `bug` is switched on (always false in release builds).
    @inline(__always)
    package func has(_ bug: DeliberateBugs) -> Bool {
        #if DEBUG
        return contains(bug)
        #else
        return false
        #endif
    }
}
