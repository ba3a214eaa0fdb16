/// What a meta slot records of a rekey that has begun but not finished: pages are re-sealed under
/// the new data key in bounded batches, each its own commit, so until the last batch the live
/// trees hold pages sealed under both keys. The previous data key itself is stored beside this
/// record in the meta's sealed part (``FileFormat/metaRekeyPreviousKey``), not in this value.
struct RekeyProgress: Equatable, Sendable {
    /// The epoch of the data key being replaced.
    var previousEpoch: UInt32
    /// The newest commit written before the rekey began: a page whose link carries this txnid or an
    /// older one may still be sealed under the previous key; every newer page is sealed under the new.
    var startedAfter: UInt64

    /// The record in a meta page's plaintext at `p`, or nil when no rekey is in progress.
    init?(from p: UnsafeRawPointer) {
        let epoch = p.u32(FileFormat.metaRekeyPreviousEpoch)
        guard epoch != 0 else { return nil }
        previousEpoch = epoch
        startedAfter = p.u64(FileFormat.metaRekeyStartedAfter)
    }

    init(previousEpoch: UInt32, startedAfter: UInt64) {
        self.previousEpoch = previousEpoch
        self.startedAfter = startedAfter
    }

    /// Writes the record (not the key) into a meta page's plaintext.
    func store(to p: UnsafeMutableRawPointer) {
        p.setU32(FileFormat.metaRekeyPreviousEpoch, previousEpoch)
        p.setU32(FileFormat.metaRekeyReserved, 0)
        p.setU64(FileFormat.metaRekeyStartedAfter, startedAfter)
    }
}
