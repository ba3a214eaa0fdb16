/// Remembers which data keys a credential unwrapped from which meta-slot cleartext, so a process
/// that opens many images of the same store (the crash harness opens one per crash state) derives
/// and unwraps each key once instead of once per open.
///
/// Sound because unwrapping is a pure function of the credential and the slot's first
/// `FileFormat.metaNonce` bytes (magic, format, file id, KDF settings, salt, key epoch, wrapped key):
/// equal bytes and the same credential give the same result. The keys stay in guarded memory and
/// are wiped when the cache is dropped. Failures are remembered too, so a credential that does not
/// open a header costs one attempt.
package final class UnlockCache: Sendable {
    private struct Entry: Hashable {
        var credential: ObjectIdentifier
        var cleartext: [UInt8]
    }
    private let state = Locked<(results: [Entry: DataKeys?], credentials: [SecureBytes])>(([:], []))

    /// An empty cache.
    package init() {}

    /// The cached outcome for `credential` and this slot's cleartext: `.some(keys)`, `.some(nil)` for
    /// a credential known not to unwrap it, or `nil` when never tried.
    func lookup(_ credential: Credential, cleartext: [UInt8]) -> DataKeys?? {
        state.withLock { $0.results[Entry(credential: ObjectIdentifier(credential.secret), cleartext: cleartext)] }
    }

    /// A slot written while a rekey is in progress also carries the previous data key in its sealed
    /// part. Which key that is depends only on the slot's 4,096 sealed bytes, its number and the keys
    /// that open it (the same `DataKeys` object, whose keys never change), so it is remembered by
    /// those: an image sharing the slot then reuses the same `DataKeys`, instead of copying the key
    /// into new guarded memory and deriving its subkeys again.
    private struct PreviousEntry: Hashable {
        var keys: ObjectIdentifier
        var slot: UInt64
        var sealed: [UInt8]
    }
    /// The previous keys by slot, and every `DataKeys` a key refers to, kept alive so that its
    /// identity cannot be reused.
    private let previous = Locked<(results: [PreviousEntry: DataKeys], opening: [DataKeys])>(([:], []))

    /// The previous data key that meta slot `slot`, sealed as `sealed`, yielded when `keys` opened
    /// it before, if it did.
    func previousKeys(sealed: [UInt8], slot: UInt64, openedWith keys: DataKeys) -> DataKeys? {
        previous.withLock { $0.results[PreviousEntry(keys: ObjectIdentifier(keys), slot: slot, sealed: sealed)] }
    }

    /// Records the previous data key a meta slot yielded.
    func recordPreviousKeys(_ previousKeys: DataKeys, sealed: [UInt8], slot: UInt64, openedWith keys: DataKeys) {
        previous.withLock { s in
            if !s.opening.contains(where: { $0 === keys }) { s.opening.append(keys) }
            s.results[PreviousEntry(keys: ObjectIdentifier(keys), slot: slot, sealed: sealed)] = previousKeys
        }
    }

    /// Records an outcome; keeps the credential's secret alive so its identity cannot be reused.
    func record(_ keys: DataKeys?, for credential: Credential, cleartext: [UInt8]) {
        state.withLock { s in
            if !s.credentials.contains(where: { $0 === credential.secret }) { s.credentials.append(credential.secret) }
            s.results[Entry(credential: ObjectIdentifier(credential.secret), cleartext: cleartext)] = .some(keys)
        }
    }
}
