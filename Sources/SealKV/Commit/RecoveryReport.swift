/// Everything needed to run a store, as found by opening its file: the keys, the chosen commit,
/// and which meta slot it came from.
package struct OpenedStore {
    var header: StoreHeader
    var keys: DataKeys
    var sealer: PageSealer
    package var state: CommitState
    var slot: UInt64
    /// What recovery saw, for `stat` and `check`.
    package var recovery: RecoveryReport
    /// The sealer of the data key a rekey in progress is replacing (pages it has not re-sealed yet
    /// open with it), or nil when no rekey is in progress.
    var previousSealer: PageSealer? = nil
}

/// What opening found in the two meta slots.
public struct RecoveryReport: Sendable, Equatable {
    /// Per slot: the txnid it holds, or nil if it failed to authenticate.
    public var slotTxnIDs: [UInt64?]
    /// The slot opened.
    public var chosenSlot: Int
    /// True if the newest valid meta's commit was torn and the older slot was used.
    public var fellBack: Bool
    /// Why the newer slot was refused, if it was.
    public var refusedReason: String?
    /// The slot whose commit was refused, if one was.
    public var refusedSlot: Int?
    /// The txnid of the refused commit, if one was.
    public var refusedTxnID: UInt64?
    /// The txnid of the commit opened.
    public var openedTxnID: UInt64

    /// A report of an open that did not fall back.
    init(slotTxnIDs: [UInt64?], chosenSlot: Int, openedTxnID: UInt64) {
        self.slotTxnIDs = slotTxnIDs
        self.chosenSlot = chosenSlot
        self.openedTxnID = openedTxnID
        fellBack = false
    }

    /// A report of an open that refused the commit in `refusedSlot` and opened an older one.
    init(slotTxnIDs: [UInt64?], chosenSlot: Int, openedTxnID: UInt64, refusedSlot: Int, refusedTxnID: UInt64, reason: String) {
        self.init(slotTxnIDs: slotTxnIDs, chosenSlot: chosenSlot, openedTxnID: openedTxnID)
        fellBack = true
        self.refusedSlot = refusedSlot
        self.refusedTxnID = refusedTxnID
        refusedReason = reason
    }

    /// One paragraph for the user when recovery fell back (nil when it did not): which commit was
    /// refused and why, what that usually means, and what to do if it was not expected.
    public var warning: String? {
        guard fellBack, let refusedTxnID, let refusedSlot else { return nil }
        return "the newest commit (transaction \(refusedTxnID), meta slot \(refusedSlot)) is incomplete, so the store "
            + "opened at transaction \(openedTxnID), the commit before it. An interrupted commit (a crash or power "
            + "cut while it was being written) leaves exactly this, and that commit was never acknowledged. If the "
            + "store was not interrupted, its file was damaged or tampered with: compare with the newest transaction "
            + "you know of, and refuse older files by giving that number as the minimum transaction. "
            + "(What failed: \(refusedReason ?? "unknown").)"
    }
}
