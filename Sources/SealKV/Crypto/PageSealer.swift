import CSodium

/// Seals and opens 4 KiB pages with XChaCha20-Poly1305-IETF.
///
/// Nonce: 16 fresh random bytes (stored in the cleartext header) followed by the page number (LE64),
/// so no two seals share a nonce even when a crash makes the next transaction reuse a txnid.
/// Associated data: the file id and the whole cleartext header (version, key epoch, page number,
/// nonce part), so a page moved to another offset or into another file fails to open.
struct PageSealer: Sendable {
    let keys: DataKeys
    let fileID: [UInt8]

    init(keys: DataKeys, fileID: [UInt8]) {
        precondition(fileID.count == FileFormat.fileIDSize)
        self.keys = keys
        self.fileID = fileID
    }

    /// Seals a page. The plaintext body is read from `plaintext[bodyStart..<bodyEnd]`; `output`
    /// (which may be the same buffer) receives the header, the ciphertext and the tag. Returns the tag.
    func seal(plaintext: UnsafeRawPointer, into output: UnsafeMutableRawPointer, number: UInt64) -> PageTag {
        output.setU16(FileFormat.headerVersion, FileFormat.pageFormatVersion)
        output.setU16(FileFormat.headerReserved, 0)
        output.setU32(FileFormat.headerKeyEpoch, keys.epoch)
        output.setU64(FileFormat.headerPageNumber, number)
        randombytes_buf(output + FileFormat.headerNonce, FileFormat.nonceRandomSize)
        seal(source: plaintext, region: output, headerSize: FileFormat.headerSize, nonceOffset: FileFormat.headerNonce,
             number: number, key: keys.pageKey, prefixFileID: true)
        return PageTag(from: output + FileFormat.tagOffset)
    }

    /// Seals a page in place.
    func seal(page: UnsafeMutableRawPointer, number: UInt64) -> PageTag {
        seal(plaintext: page, into: page, number: number)
    }

    /// Opens a page in place after checking its header. Returns false when authentication fails;
    /// the body is then garbage and must not be used.
    func open(page: UnsafeMutableRawPointer, number: UInt64) -> Bool {
        guard page.u16(FileFormat.headerVersion) == FileFormat.pageFormatVersion,
              page.u16(FileFormat.headerReserved) == 0,
              page.u64(FileFormat.headerPageNumber) == number,
              page.u32(FileFormat.headerKeyEpoch) == keys.epoch
        else { return false }
        return open(region: page, headerSize: FileFormat.headerSize, nonceOffset: FileFormat.headerNonce,
                    number: number, key: keys.pageKey, prefixFileID: true)
    }

    /// Seals a meta slot in place: cleartext header `0..<metaCleartextSize` as associated data.
    func sealMeta(page: UnsafeMutableRawPointer, slot: UInt64) -> PageTag {
        randombytes_buf(page + FileFormat.metaNonce, FileFormat.nonceRandomSize)
        seal(source: page, region: page, headerSize: FileFormat.metaCleartextSize, nonceOffset: FileFormat.metaNonce,
             number: slot, key: keys.metaKey, prefixFileID: false)
        return PageTag(from: page + FileFormat.tagOffset)
    }

    /// Opens a meta slot in place; false when it fails authentication (torn, forged, wrong key).
    func openMeta(page: UnsafeMutableRawPointer, slot: UInt64) -> Bool {
        open(region: page, headerSize: FileFormat.metaCleartextSize, nonceOffset: FileFormat.metaNonce,
             number: slot, key: keys.metaKey, prefixFileID: false)
    }

    // The 24-byte nonce is built on the stack from the stored random part and the page number.
    private func seal(source: UnsafeRawPointer, region page: UnsafeMutableRawPointer, headerSize: Int, nonceOffset: Int,
                      number: UInt64, key: SecureBytes, prefixFileID: Bool) {
        withAssociatedData(page: page, headerSize: headerSize, prefixFileID: prefixFileID) { ad in
            withNonce(page: page, nonceOffset: nonceOffset, number: number) { nonce in
                let body = (page + headerSize).assumingMemoryBound(to: UInt8.self)
                let plain = (source + headerSize).assumingMemoryBound(to: UInt8.self)
                let length = FileFormat.tagOffset - headerSize
                _ = crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
                    body, (page + FileFormat.tagOffset).assumingMemoryBound(to: UInt8.self), nil,
                    plain, UInt64(length), ad.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(ad.count),
                    nil, nonce, key.pointer)
            }
        }
    }

    private func open(region page: UnsafeMutableRawPointer, headerSize: Int, nonceOffset: Int, number: UInt64,
                      key: SecureBytes, prefixFileID: Bool) -> Bool {
        withAssociatedData(page: page, headerSize: headerSize, prefixFileID: prefixFileID) { ad in
            withNonce(page: page, nonceOffset: nonceOffset, number: number) { nonce in
                let body = (page + headerSize).assumingMemoryBound(to: UInt8.self)
                let length = FileFormat.tagOffset - headerSize
                return crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
                    body, nil, body, UInt64(length), (page + FileFormat.tagOffset).assumingMemoryBound(to: UInt8.self),
                    ad.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(ad.count), nonce, key.pointer) == 0
            }
        }
    }

    @inline(__always)
    private func withNonce<R>(page: UnsafeMutableRawPointer, nonceOffset: Int, number: UInt64,
                              _ body: (UnsafePointer<UInt8>) -> R) -> R {
        withUnsafeTemporaryAllocation(byteCount: 24, alignment: 8) { n in
            n.baseAddress!.copyMemory(from: page + nonceOffset, byteCount: 16)
            n.baseAddress!.setU64(16, number)
            return body(UnsafePointer(n.baseAddress!.assumingMemoryBound(to: UInt8.self)))
        }
    }

    @inline(__always)
    private func withAssociatedData<R>(page: UnsafeMutableRawPointer, headerSize: Int, prefixFileID: Bool,
                                       _ body: (UnsafeRawBufferPointer) -> R) -> R {
        if !prefixFileID {
            return body(UnsafeRawBufferPointer(start: page, count: headerSize))
        }
        return withUnsafeTemporaryAllocation(byteCount: FileFormat.fileIDSize + headerSize, alignment: 8) { ad in
            fileID.withUnsafeBytes { ad.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: FileFormat.fileIDSize) }
            (ad.baseAddress! + FileFormat.fileIDSize).copyMemory(from: page, byteCount: headerSize)
            return body(UnsafeRawBufferPointer(ad))
        }
    }
}
