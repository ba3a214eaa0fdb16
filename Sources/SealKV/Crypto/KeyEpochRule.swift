/// Which data keys may have sealed the pages one snapshot reaches: its own epoch's, and, while its
/// commit records a rekey in progress, the previous epoch's for pages written up to the rekey's
/// start. A handle keeps older keys for older snapshots, but a page of a newer snapshot sealed under
/// an older key is refused: whoever holds a replaced key could otherwise forge a page that matches
/// its parent's tag (Poly1305 is no defence against a holder of the key).
struct KeyEpochRule: Equatable, Sendable {
    let current: UInt32
    let rekey: RekeyProgress?

    init(current: UInt32, rekey: RekeyProgress?) {
        self.current = current
        self.rekey = rekey
    }

    /// Whether a page linked with `txnID` may be sealed under `epoch`.
    @inline(__always)
    func allows(_ epoch: UInt32, txnID: UInt64) -> Bool {
        if epoch == current { return true }
        guard let rekey else { return false }
        return epoch == rekey.previousEpoch && txnID <= rekey.startedAfter
    }

    /// The sealer of `keys` that may open a page linked with `txnID` and sealed under `epoch`.
    @inline(__always)
    func sealer(_ epoch: UInt32, txnID: UInt64, in keys: KeyRing) -> PageSealer? {
        allows(epoch, txnID: txnID) ? keys.sealer(for: epoch) : nil
    }
}
