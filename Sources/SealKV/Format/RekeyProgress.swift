/// What a meta slot records of a rekey that has begun but not finished: pages are re-sealed under
/// the new data key in bounded batches, each its own commit, so until the last batch the live
/// trees hold pages sealed under both keys. The previous data key itself is stored beside this
/// record in the meta's sealed part (``FileFormat/metaRekeyPreviousKey``), not in this value.
struct RekeyProgress: Hashable, Sendable {
    /// The epoch of the data key being replaced.
    var previousEpoch: UInt32
    /// The newest commit written before the rekey began: a page whose link carries this txnid or an
    /// older one may still be sealed under the previous key; every newer page is sealed under the new.
    var startedAfter: UInt64

    /// Nonzero reserved bytes make a record that ``isPlausible(in:txnID:)`` refuses.
    private var reservedIsZero = true

    /// The record in a meta page's plaintext at `p`, or nil when no rekey is in progress (all its
    /// fields zero).
    init?(from p: UnsafeRawPointer) {
        let epoch = p.u32(FileFormat.metaRekeyPreviousEpoch)
        let reserved = p.u32(FileFormat.metaRekeyReserved)
        let start = p.u64(FileFormat.metaRekeyStartedAfter)
        guard epoch != 0 || reserved != 0 || start != 0 else { return nil }
        previousEpoch = epoch
        startedAfter = start
        reservedIsZero = reserved == 0
    }

    init(previousEpoch: UInt32, startedAfter: UInt64) {
        self.previousEpoch = previousEpoch
        self.startedAfter = startedAfter
    }

    /// Whether a rekey could have written this record into a commit with `txnID` under `header`:
    /// a version 2 slot, a previous epoch from 1 to below the current one, a start before the
    /// commit, the reserved field zero. (The record is authenticated, so only a holder of the data
    /// key could write it; recovery and `check` still refuse one that no rekey writes.)
    func isPlausible(in header: StoreHeader, txnID: UInt64) -> Bool {
        header.version >= 2 && previousEpoch >= 1 && previousEpoch < header.keyEpoch && startedAfter < txnID && reservedIsZero
    }

    /// Writes the record (not the key) into a meta page's plaintext.
    func store(to p: UnsafeMutableRawPointer) {
        p.setU32(FileFormat.metaRekeyPreviousEpoch, previousEpoch)
        p.setU32(FileFormat.metaRekeyReserved, 0)
        p.setU64(FileFormat.metaRekeyStartedAfter, startedAfter)
    }
}
