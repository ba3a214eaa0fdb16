/// The page sealers a store handle knows: the current one, which seals every new page and meta,
/// and older ones kept after a rekey for snapshots that still reach pages sealed under them.
final class KeyRing: Sendable {
    private let state: Locked<(current: PageSealer, byEpoch: [UInt32: PageSealer])>

    init(_ sealer: PageSealer) {
        state = Locked((sealer, [sealer.keys.epoch: sealer]))
    }

    /// The sealer for new pages and metas.
    var current: PageSealer { state.withLock { $0.current } }

    /// The sealer that opens pages of `epoch`, if this handle knows it.
    func sealer(for epoch: UInt32) -> PageSealer? { state.withLock { $0.byEpoch[epoch] } }

    /// Lets pages of `sealer`'s epoch be opened, without sealing with it yet (a rekey registers the
    /// new key before its commit becomes visible, so no reader can meet a page it cannot open).
    func add(_ sealer: PageSealer) {
        state.withLock { $0.byEpoch[sealer.keys.epoch] = sealer }
    }

    /// Makes `sealer` current; older sealers stay for live snapshots.
    func install(_ sealer: PageSealer) {
        state.withLock { s in
            s.current = sealer
            s.byEpoch[sealer.keys.epoch] = sealer
        }
    }
}
