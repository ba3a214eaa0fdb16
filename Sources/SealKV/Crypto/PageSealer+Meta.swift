extension PageSealer {
    /// Builds the meta page for `slot` (0 or 1) into `page` (4096 bytes): the cleartext header, the
    /// commit's state, sealed under the meta key.
    func buildMeta(into page: UnsafeMutableRawPointer, header: StoreHeader, state: CommitState, slot: UInt64) {
        page.initializeMemory(as: UInt8.self, repeating: 0, count: FileFormat.pageSize)
        header.store(to: page)
        state.store(to: page)
        _ = sealMeta(page: page, slot: slot)
    }
}

extension StoreHeader {
    /// The Argon2id cost the header records (zero for a raw-key store).
    var strength: KDFStrength {
        get { KDFStrength(uncheckedOps: kdfOpsLimit, mem: kdfMemLimit) }
        set {
            kdfOpsLimit = newValue.opsLimit
            kdfMemLimit = newValue.memLimit
        }
    }
}
