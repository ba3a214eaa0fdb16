/// The cleartext, authenticated part of a meta slot: everything needed to derive keys before any
/// decryption. Identical in both slots except while a password change is being written.
struct StoreHeader: Equatable, Sendable {
    var fileID: [UInt8]
    var kdfAlgorithm: UInt32
    var keyEpoch: UInt32
    var strength: KDFStrength
    var salt: [UInt8]
    /// 24-byte nonce, 32-byte wrapped data key, 16-byte tag.
    var wrappedKey: [UInt8]

    /// Writes the cleartext fields (magic through wrapped key) into a meta page.
    func store(to p: UnsafeMutableRawPointer) {
        FileFormat.magic.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: 8) }
        p.setU16(FileFormat.metaVersion, FileFormat.formatVersion)
        p.setU16(FileFormat.metaCipher, FileFormat.cipherXChaCha20Poly1305)
        p.setU32(FileFormat.metaPageSize, UInt32(FileFormat.pageSize))
        fileID.withUnsafeBytes { (p + FileFormat.metaFileID).copyMemory(from: $0.baseAddress!, byteCount: 16) }
        p.setU32(FileFormat.metaKDFAlgorithm, kdfAlgorithm)
        p.setU32(FileFormat.metaKeyEpoch, keyEpoch)
        p.setU64(FileFormat.metaKDFOpsLimit, strength.opsLimit)
        p.setU64(FileFormat.metaKDFMemLimit, strength.memLimit)
        salt.withUnsafeBytes { (p + FileFormat.metaSalt).copyMemory(from: $0.baseAddress!, byteCount: 16) }
        if wrappedKey.count == 72 {
            wrappedKey.withUnsafeBytes { (p + FileFormat.metaWrapNonce).copyMemory(from: $0.baseAddress!, byteCount: 72) }
        }
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
        guard version == FileFormat.formatVersion else {
            return .failure(.unsupported("format version \(version) (this build reads version \(FileFormat.formatVersion))"))
        }
        let cipher = p.u16(FileFormat.metaCipher)
        guard cipher == FileFormat.cipherXChaCha20Poly1305 else { return .failure(.unsupported("cipher id \(cipher)")) }
        let pageSize = p.u32(FileFormat.metaPageSize)
        guard pageSize == UInt32(FileFormat.pageSize) else { return .failure(.unsupported("page size \(pageSize)")) }
        let algorithm = p.u32(FileFormat.metaKDFAlgorithm)
        let ops = p.u64(FileFormat.metaKDFOpsLimit)
        let mem = p.u64(FileFormat.metaKDFMemLimit)
        switch algorithm {
        case KeyHierarchy.kdfArgon2id:
            guard KDFStrength.isAcceptable(ops: ops, mem: mem) else {
                return .failure(.implausible("Argon2id parameters out of range (passes \(ops), memory \(mem) bytes)"))
            }
        case KeyHierarchy.kdfRawKey:
            guard ops == 0 && mem == 0 else { return .failure(.implausible("raw-key store with KDF parameters")) }
        default:
            return .failure(.unsupported("key derivation algorithm \(algorithm)"))
        }
        return .success(StoreHeader(
            fileID: Array(UnsafeRawBufferPointer(start: p + FileFormat.metaFileID, count: 16)),
            kdfAlgorithm: algorithm,
            keyEpoch: p.u32(FileFormat.metaKeyEpoch),
            strength: KDFStrength(uncheckedOps: ops, mem: mem),
            salt: Array(UnsafeRawBufferPointer(start: p + FileFormat.metaSalt, count: 16)),
            wrappedKey: Array(UnsafeRawBufferPointer(start: p + FileFormat.metaWrapNonce, count: 72))))
    }
}

/// The sealed part of a meta slot: which commit this is and where its trees are.
package struct CommitState: Equatable, Sendable {
    package var txnID: UInt64
    /// High-water mark: every page below it is reachable or free.
    package var pageCount: UInt64
    /// The newest commit known to be durable when this one was written: recovery authenticates
    /// every page written after it (in the sync modes it is always `txnID - 1`).
    var durableTxnID: UInt64 = 0
    var main: TreeDescriptor
    var catalog: TreeDescriptor
    var free: TreeDescriptor
    /// Index of entries with a time to live, by expiry time.
    var expiry: TreeDescriptor

    static func initial() -> CommitState {
        CommitState(txnID: 0, pageCount: FileFormat.firstDataPage, main: .empty, catalog: .empty, free: .empty, expiry: .empty)
    }

    func store(to p: UnsafeMutableRawPointer) {
        p.setU64(FileFormat.metaTxnID, txnID)
        p.setU64(FileFormat.metaPageCount, pageCount)
        p.setU64(FileFormat.metaDurableTxnID, durableTxnID)
        main.store(to: p, at: FileFormat.metaMainTree)
        catalog.store(to: p, at: FileFormat.metaCatalogTree)
        free.store(to: p, at: FileFormat.metaFreeTree)
        expiry.store(to: p, at: FileFormat.metaExpiryTree)
    }

    init(txnID: UInt64, pageCount: UInt64, main: TreeDescriptor, catalog: TreeDescriptor, free: TreeDescriptor, expiry: TreeDescriptor) {
        self.txnID = txnID
        self.pageCount = pageCount
        self.main = main
        self.catalog = catalog
        self.free = free
        self.expiry = expiry
    }

    init(from p: UnsafeRawPointer) {
        txnID = p.u64(FileFormat.metaTxnID)
        pageCount = p.u64(FileFormat.metaPageCount)
        durableTxnID = p.u64(FileFormat.metaDurableTxnID)
        main = TreeDescriptor(from: p, at: FileFormat.metaMainTree)
        catalog = TreeDescriptor(from: p, at: FileFormat.metaCatalogTree)
        free = TreeDescriptor(from: p, at: FileFormat.metaFreeTree)
        expiry = TreeDescriptor(from: p, at: FileFormat.metaExpiryTree)
    }

    /// The roots every commit starts its walks from, in sealing order (children before the meta).
    var roots: [(name: String, descriptor: TreeDescriptor)] {
        [("main", main), ("catalog", catalog), ("free", free), ("expiry", expiry)]
    }
}

/// Builds and reads whole meta slots.
enum MetaSlot {
    /// Seals a meta page for `slot` (0 or 1) into `page` (4096 bytes).
    static func build(into page: UnsafeMutableRawPointer, header: StoreHeader, state: CommitState, slot: UInt64, sealer: PageSealer) {
        page.initializeMemory(as: UInt8.self, repeating: 0, count: FileFormat.pageSize)
        header.store(to: page)
        state.store(to: page)
        _ = sealer.sealMeta(page: page, slot: slot)
    }

    /// The slot a commit writes: never the one holding the newest durable commit, which recovery
    /// may need. In the sync modes every commit is durable, so commits alternate; without sync they
    /// all go to the same slot until `sync()` makes one durable.
    static func slot(afterDurableSlot durable: UInt64) -> UInt64 { durable ^ 1 }
}

#if canImport(Glibc)
import Glibc
#endif
