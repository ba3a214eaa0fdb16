/// The first two pages of a new store, and the data-key wrap every header carries.
enum StoreCreation {
    /// Both meta slots of a new, empty store for `credential`: a random file id, salt and data key,
    /// the data key wrapped under the credential's key-encryption key.
    static func newStore(credential: Credential, strength: KDFStrength) throws(SealKVError) -> (bytes: [UInt8], header: StoreHeader) {
        let fileID = randomBytes(count: FileFormat.fileIDSize)
        let salt = randomBytes(count: FileFormat.saltSize)
        let algorithm = credential.kind == .password ? FileFormat.kdfArgon2id : FileFormat.kdfRawKey
        let stored = credential.kind == .password ? strength : KDFStrength(uncheckedOps: 0, mem: 0)
        var header = StoreHeader(fileID: fileID, kdfAlgorithm: algorithm, keyEpoch: 1, kdfOpsLimit: stored.opsLimit,
                                 kdfMemLimit: stored.memLimit, salt: salt, wrappedKey: [])
        let kek = try KeyHierarchy.keyEncryptionKey(credential: credential, algorithm: algorithm, strength: stored, salt: salt)
        let dataKey = SecureBytes.random(count: FileFormat.keySize)
        header.wrappedKey = wrap(dataKey: dataKey, kek: kek, header: header)
        let keys = DataKeys(dataKey: dataKey, epoch: header.keyEpoch)
        return (metaPages(header: header, state: .initial(), sealer: PageSealer(keys: keys, fileID: fileID)), header)
    }

    /// Both meta slots holding `state`, sealed: the first two pages of a new file (or of a copy).
    /// `previous` is the data key a rekey in progress (recorded in `state`) is replacing.
    static func metaPages(header: StoreHeader, state: CommitState, sealer: PageSealer, previous: DataKeys? = nil) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 2 * FileFormat.pageSize)
        bytes.withUnsafeMutableBytes { b in
            for slot in 0..<2 {
                sealer.buildMeta(into: b.baseAddress! + slot * FileFormat.pageSize, header: header, state: state, slot: UInt64(slot), previous: previous)
            }
        }
        return bytes
    }

    /// Wraps `dataKey` for `header` (whose cleartext fields form the associated data).
    static func wrap(dataKey: SecureBytes, kek: SecureBytes, header: StoreHeader) -> [UInt8] {
        var page = [UInt8](repeating: 0, count: FileFormat.metaCleartextSize)
        return page.withUnsafeMutableBytes { p in
            header.store(to: p.baseAddress!)
            return KeyHierarchy.wrap(dataKey: dataKey, kek: kek, associatedData: StoreHeader.wrapAssociatedData(p.baseAddress!))
        }
    }

    /// The data key `header`'s wrap holds under `credential`, or nil when it does not unwrap.
    static func unwrap(_ header: StoreHeader, kek: SecureBytes) -> SecureBytes? {
        var page = [UInt8](repeating: 0, count: FileFormat.metaCleartextSize)
        return page.withUnsafeMutableBytes { p in
            header.store(to: p.baseAddress!)
            return KeyHierarchy.unwrap(StoreHeader.wrappedKey(p.baseAddress!), kek: kek, associatedData: StoreHeader.wrapAssociatedData(p.baseAddress!))
        }
    }
}
