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

    /// Records an outcome; keeps the credential's secret alive so its identity cannot be reused.
    func record(_ keys: DataKeys?, for credential: Credential, cleartext: [UInt8]) {
        state.withLock { s in
            if !s.credentials.contains(where: { $0 === credential.secret }) { s.credentials.append(credential.secret) }
            s.results[Entry(credential: ObjectIdentifier(credential.secret), cleartext: cleartext)] = .some(keys)
        }
    }
}
