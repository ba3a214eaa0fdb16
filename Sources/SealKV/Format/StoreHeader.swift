#if canImport(Glibc)
import Glibc
#endif

/// The cleartext, authenticated part of a meta slot: everything needed to derive keys before any
/// decryption. Identical in both slots except while a password change is being written.
struct StoreHeader: Equatable, Sendable {
    var fileID: [UInt8]
    var kdfAlgorithm: UInt32
    var keyEpoch: UInt32
    /// Argon2id passes and memory in bytes (0 and 0 for a raw-key store).
    var kdfOpsLimit: UInt64
    var kdfMemLimit: UInt64
    var salt: [UInt8]
    /// 24-byte nonce, 32-byte wrapped data key, 16-byte tag.
    var wrappedKey: [UInt8]
    /// The format version the slot is written with. It is part of the wrap's associated data, so
    /// a file keeps the version it was created or last re-wrapped with: a version 1 store stays
    /// version 1 (which older builds still open) until a password change or rekey wraps its data
    /// key afresh, as version ``FileFormat/formatVersion``.
    var version: UInt16 = FileFormat.formatVersion

    /// Writes the cleartext fields (magic through wrapped key) into a meta page.
    func store(to p: UnsafeMutableRawPointer) {
        FileFormat.magic.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: 8) }
        p.setU16(FileFormat.metaVersion, version)
        p.setU16(FileFormat.metaCipher, FileFormat.cipherXChaCha20Poly1305)
        p.setU32(FileFormat.metaPageSize, UInt32(FileFormat.pageSize))
        fileID.withUnsafeBytes { (p + FileFormat.metaFileID).copyMemory(from: $0.baseAddress!, byteCount: 16) }
        p.setU32(FileFormat.metaKDFAlgorithm, kdfAlgorithm)
        p.setU32(FileFormat.metaKeyEpoch, keyEpoch)
        p.setU64(FileFormat.metaKDFOpsLimit, kdfOpsLimit)
        p.setU64(FileFormat.metaKDFMemLimit, kdfMemLimit)
        salt.withUnsafeBytes { (p + FileFormat.metaSalt).copyMemory(from: $0.baseAddress!, byteCount: 16) }
        if wrappedKey.count == FileFormat.wrappedKeySize {
            wrappedKey.withUnsafeBytes { (p + FileFormat.metaWrapNonce).copyMemory(from: $0.baseAddress!, byteCount: FileFormat.wrappedKeySize) }
        }
    }

    /// The wrapped data key of a meta page at `p`.
    static func wrappedKey(_ p: UnsafeRawPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: p + FileFormat.metaWrapNonce, count: FileFormat.wrappedKeySize)
    }

    /// The wrap's associated data (magic through salt), for a header stored at `p`.
    static func wrapAssociatedData(_ p: UnsafeRawPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: p, count: FileFormat.metaWrapADSize)
    }

    /// Why a slot's cleartext cannot be used.
    enum Problem: Error, Equatable {
        case notSealKV, unsupported(String), implausible(String)
    }

    /// Parses the cleartext part of a meta page, checking everything that can be checked without keys.
    static func parse(_ p: UnsafeRawPointer) -> Result<StoreHeader, Problem> {
        guard memcmp(p, FileFormat.magic, 8) == 0 else { return .failure(.notSealKV) }
        let version = p.u16(FileFormat.metaVersion)
        guard FileFormat.readableFormatVersions.contains(version) else {
            let readable = FileFormat.readableFormatVersions
            return .failure(.unsupported("format version \(version) (this build reads versions \(readable.lowerBound) to \(readable.upperBound))"))
        }
        let cipher = p.u16(FileFormat.metaCipher)
        guard cipher == FileFormat.cipherXChaCha20Poly1305 else { return .failure(.unsupported("cipher id \(cipher)")) }
        let pageSize = p.u32(FileFormat.metaPageSize)
        guard pageSize == UInt32(FileFormat.pageSize) else { return .failure(.unsupported("page size \(pageSize)")) }
        let algorithm = p.u32(FileFormat.metaKDFAlgorithm)
        let ops = p.u64(FileFormat.metaKDFOpsLimit)
        let mem = p.u64(FileFormat.metaKDFMemLimit)
        switch algorithm {
        case FileFormat.kdfArgon2id:
            guard FileFormat.argon2idOpsLimits.contains(ops), FileFormat.argon2idMemLimits.contains(mem) else {
                return .failure(.implausible("Argon2id parameters out of range (passes \(ops), memory \(mem) bytes)"))
            }
        case FileFormat.kdfRawKey:
            guard ops == 0 && mem == 0 else { return .failure(.implausible("raw-key store with KDF parameters")) }
        default:
            return .failure(.unsupported("key derivation algorithm \(algorithm)"))
        }
        return .success(StoreHeader(
            fileID: Array(UnsafeRawBufferPointer(start: p + FileFormat.metaFileID, count: 16)),
            kdfAlgorithm: algorithm,
            keyEpoch: p.u32(FileFormat.metaKeyEpoch),
            kdfOpsLimit: ops,
            kdfMemLimit: mem,
            salt: Array(UnsafeRawBufferPointer(start: p + FileFormat.metaSalt, count: FileFormat.saltSize)),
            wrappedKey: Array(UnsafeRawBufferPointer(start: p + FileFormat.metaWrapNonce, count: FileFormat.wrappedKeySize)),
            version: version))
    }
}
