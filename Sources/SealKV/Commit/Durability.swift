/// How a commit reaches the disk.
public enum Durability: Sendable, Equatable {
    /// Default. Every dirty page and the meta slot are written in one batch followed by one
    /// fdatasync. Safe because recovery authenticates every page the newest commit wrote (they are
    /// all reachable through links carrying its txnid) and falls back to the other slot if any fails.
    case oneSync
    /// Pages, fdatasync, then the meta slot, fdatasync: two syncs, no recovery check needed.
    case twoPhase
    /// No sync at commit; call `Database.sync()` to make commits durable. A power cut may lose the
    /// commits since the last sync but never corrupts the store: pages freed after the last synced
    /// commit are not reused until the next sync.
    case noSync
}
