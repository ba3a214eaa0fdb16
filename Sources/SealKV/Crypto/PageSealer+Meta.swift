import CSodium

extension PageSealer {
    /// Builds the meta page for `slot` (0 or 1) into `page` (4096 bytes): the cleartext header, the
    /// commit's state, sealed under the meta key. While a rekey is in progress (`state.rekey`),
    /// `previous` is the data key being replaced; it goes into the sealed part, so pages not yet
    /// re-sealed stay readable after a reopen.
    func buildMeta(into page: UnsafeMutableRawPointer, header: StoreHeader, state: CommitState, slot: UInt64, previous: DataKeys? = nil) {
        precondition(state.rekey?.previousEpoch == previous?.epoch, "a meta of a rekey in progress needs the previous data key, and only then")
        page.initializeMemory(as: UInt8.self, repeating: 0, count: FileFormat.pageSize)
        header.store(to: page)
        state.store(to: page)
        previous?.dataKey.withUnsafeBytes { key in
            (page + FileFormat.metaRekeyPreviousKey).copyMemory(from: key.baseAddress!, byteCount: FileFormat.keySize)
        }
        _ = sealMeta(page: page, slot: slot)
    }

    /// The previous data key an opened meta page at `page` holds for the rekey it records, moved
    /// into wiped memory (its bytes in `page` are zeroed).
    static func takePreviousKeys(from page: UnsafeMutableRawPointer, for rekey: RekeyProgress) -> DataKeys {
        let field = UnsafeMutableRawBufferPointer(start: page + FileFormat.metaRekeyPreviousKey, count: FileFormat.keySize)
        let key = SecureBytes(copying: UnsafeRawBufferPointer(field))
        sodium_memzero(field.baseAddress!, field.count)
        return DataKeys(dataKey: key, epoch: rekey.previousEpoch)
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
