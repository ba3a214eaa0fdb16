/// Every constant of the on-disk format, in one place. `Docs/FORMAT.md` describes the same layout
/// in prose; a change here is a format change and bumps ``formatVersion``.
package enum FileFormat {
    /// Physical page size in bytes; every page, including the two meta slots, is this long.
    package static let pageSize = 4096
    /// The version written into every meta slot: the file's format. Version 2 added the record of
    /// a rekey in progress (``metaRekeyPreviousEpoch`` …); a version 1 file reads as one with no
    /// rekey in progress, and is written as version 2 from its next commit.
    static let formatVersion: UInt16 = 2
    /// The meta versions this build opens.
    static let readableFormatVersions: ClosedRange<UInt16> = 1...2
    /// The version written into every data page's header (its layout is unchanged since version 1).
    static let pageFormatVersion: UInt16 = 1
    /// Cipher identifier 1: XChaCha20-Poly1305-IETF with a detached 16-byte tag.
    static let cipherXChaCha20Poly1305: UInt16 = 1
    /// The first bytes of both meta slots: "SealKV\r\n" (the CR LF catches text-mode mangling).
    static let magic: [UInt8] = [0x53, 0x65, 0x61, 0x6C, 0x4B, 0x56, 0x0D, 0x0A]
    /// Pages 0 and 1 are the meta slots; data pages start here.
    static let firstDataPage: UInt64 = 2

    static let tagSize = 16
    static let fileIDSize = 16
    static let nonceRandomSize = 16
    static let saltSize = 16
    static let keySize = 32

    // MARK: Key derivation (meta slot, cleartext)
    /// KDF id 0: a raw 256-bit key, stretched by keyed BLAKE2b over the salt.
    static let kdfRawKey: UInt32 = 0
    /// KDF id 1: a password through Argon2id v1.3.
    static let kdfArgon2id: UInt32 = 1
    /// Argon2id passes a file may ask for: libsodium's minimum, and a cap, so a hostile file cannot
    /// make open work without bound.
    static let argon2idOpsLimits: ClosedRange<UInt64> = 1...64
    /// Argon2id memory (bytes) a file may ask for: libsodium's minimum (8 KiB) to a 4 GiB cap.
    static let argon2idMemLimits: ClosedRange<UInt64> = 8192...(4 << 30)
    /// The wrapped data key: 24-byte nonce, 32-byte ciphertext, 16-byte tag.
    static let wrapNonceSize = 24
    static let wrappedKeySize = wrapNonceSize + keySize + tagSize
    /// Subkeys derived from the data key (libsodium `crypto_kdf`): id and 8-byte context.
    static let pageKeyID: UInt64 = 1
    static let pageKeyContext: StaticString = "SKVpages"
    static let metaKeyID: UInt64 = 2
    static let metaKeyContext: StaticString = "SKVmetas"
    /// What keyed BLAKE2b hashes, before the salt, to make a raw-key store's KEK.
    static let rawKeyKEKContext: [UInt8] = Array("SealKV raw-key KEK".utf8)

    // MARK: Data page: cleartext header, sealed body, tag
    /// u16 format version.
    static let headerVersion = 0
    /// u16 reserved, zero.
    static let headerReserved = 2
    /// u32 key epoch: which data key sealed the page.
    static let headerKeyEpoch = 4
    /// u64 page number (also the last 8 bytes of the nonce).
    static let headerPageNumber = 8
    /// 16 random bytes, the first part of the nonce, fresh at every seal.
    static let headerNonce = 16
    /// Size of the cleartext header.
    static let headerSize = 32
    /// Where the sealed body starts and ends.
    static let bodyStart = 32
    static let bodyEnd = pageSize - tagSize
    static let bodySize = bodyEnd - bodyStart
    /// Where the tag lives.
    static let tagOffset = pageSize - tagSize

    // MARK: Meta slot cleartext (authenticated, not encrypted)
    static let metaMagic = 0            // 8 bytes
    static let metaVersion = 8          // u16
    static let metaCipher = 10          // u16
    static let metaPageSize = 12        // u32
    static let metaFileID = 16          // 16 bytes
    static let metaKDFAlgorithm = 32    // u32: 0 raw key, 1 Argon2id v1.3
    static let metaKeyEpoch = 36        // u32
    static let metaKDFOpsLimit = 40     // u64
    static let metaKDFMemLimit = 48     // u64
    static let metaSalt = 56            // 16 bytes
    static let metaWrapNonce = 72       // the wrapped key: 24-byte nonce,
    static let metaWrappedKey = 96      // then 32 bytes ciphertext + 16 bytes tag
    static let metaNonce = 144          // 16 random bytes; the meta nonce is these + slot number
    static let metaCleartextSize = 160
    /// The wrap's associated data: everything from the magic through the salt.
    static let metaWrapADSize = 72

    // MARK: Meta slot sealed body (offsets from the page start)
    static let metaTxnID = 160          // u64
    static let metaPageCount = 168      // u64 high-water mark: pages [0, pageCount) are in use or free
    static let metaDurableTxnID = 176   // u64 the newest commit known durable when this one was written
    static let metaMainTree = 184       // TreeDescriptor, 48 bytes: the default namespace
    static let metaCatalogTree = 232    // TreeDescriptor: named namespaces
    static let metaFreeTree = 280       // TreeDescriptor: pending and reusable free pages
    static let metaExpiryTree = 328     // TreeDescriptor: index of entries with a time to live
    /// A rekey in progress (all zero when none): the previous key's epoch, the newest txnid whose
    /// pages may still be sealed under it, and the previous data key itself, so pages not yet
    /// re-sealed stay readable. It lives in the sealed part, under the meta key of the new data key.
    static let metaRekeyPreviousEpoch = 376   // u32, 0 = no rekey in progress
    static let metaRekeyReserved = 380        // u32, zero
    static let metaRekeyStartedAfter = 384    // u64
    static let metaRekeyPreviousKey = 392     // 32 bytes
    static let metaBodyUsed = 424

    // MARK: Node and overflow pages (offsets from the page start, inside the sealed body)
    static let nodeKind = 32            // u8, see PageKind
    static let nodeFlags = 33           // u8, zero
    static let nodeCount = 34           // u16 number of entries (slots)
    static let nodeCellStart = 36       // u16 lowest offset used by cells (cells grow down from bodyEnd)
    static let nodeGarbage = 38         // u16 bytes of dead cells not yet compacted away
    static let nodeTxnID = 40           // u64 the transaction that wrote the page
    static let nodeSlots = 48           // u16 cell offsets, in key order
    static let nodeUsable = bodyEnd - nodeSlots

    static let overflowLength = 36      // u32 data bytes in this page
    static let overflowNext = 48        // PageLink to the next page (page 0 = last)
    static let overflowData = 80
    static let overflowCapacity = bodyEnd - overflowData

    // MARK: Links (32 bytes wherever they are stored)
    static let linkPage = 0             // u64 page number (0 = none)
    static let linkTxnID = 8            // u64 the transaction that wrote the page
    static let linkTag = 16             // 16 bytes: the page's AEAD tag
    static let linkSize = 32

    // MARK: Tree descriptors (48 bytes: in the meta slot and as catalog values)
    static let descriptorRoot = 0       // link to the root page
    static let descriptorEntries = 32   // u64 number of entries
    static let descriptorDepth = 40     // u32 levels (0 empty, 1 a single leaf)
    static let descriptorReserved = 44  // u32 zero
    static let descriptorSize = 48

    // MARK: Cells
    /// Leaf cell: u16 key length, u8 flags, u16 inline value length, key, then (with the expiry
    /// flag) a u64 expiry in Unix milliseconds, then the value or an overflow reference.
    static let leafCellKeyLength = 0    // u16
    static let leafCellFlags = 2        // u8, see LeafCellFlags
    static let leafCellValueLength = 3  // u16 inline value length (0 for an overflow reference)
    static let leafCellHeader = 5
    /// Size of the optional expiry field of a leaf cell.
    static let expirySize = 8
    /// Overflow reference in a leaf cell: u64 total length, then a PageLink to the first page.
    static let overflowRefSize = 8 + linkSize
    /// Branch cell: u16 key length, PageLink to the child, key. Entry 0 has an empty key (-infinity).
    static let branchCellKeyLength = 0  // u16
    static let branchCellChild = 2      // link
    static let branchCellHeader = 2 + linkSize

    /// Longest key stored in any tree: user keys are at most 1024 bytes, expiry-index keys add the
    /// expiry and the namespace name (8 + 1 + 255).
    static let maxStoredKey = 1024 + 8 + 1 + 255

    /// Largest cell (including its slot) a node accepts, so any split finds room for both halves.
    static let maxCellWithSlot = nodeUsable / 3
    /// A node below this many used bytes is merged with or refilled from a sibling.
    static let minFill = nodeUsable / 4

    // MARK: The free-page tree (section 6 of FORMAT.md)
    /// Key: u64 big-endian txnid that freed the pages, u32 big-endian sequence within that commit.
    static let freeChunkKeySize = 12
    /// Value: up to this many u64 little-endian page numbers, strictly ascending (a 1 KiB value,
    /// stored inline).
    static let freeChunkCapacity = 128

    // MARK: The expiry index (section 7 of FORMAT.md)
    /// Key: u64 big-endian expiry (Unix milliseconds), u8 namespace name length, the name, the
    /// entry's key. Values are empty.
    static let expiryKeyTime = 0
    static let expiryKeyNameLength = 8
    static let expiryKeyName = 9
}

/// What a node or data page is; stored inside the sealed body.
enum PageKind: UInt8, Sendable {
    case branch = 1
    case leaf = 2
    /// A leaf of the catalog tree: its values are ``TreeDescriptor``s, whose root links are Merkle links.
    case catalogLeaf = 3
    case overflow = 4

    var isLeaf: Bool { self == .leaf || self == .catalogLeaf }
}

/// Leaf cell flags.
enum LeafCellFlags {
    /// The value lives in an overflow chain; the cell holds its length and a link to the first page.
    static let overflow: UInt8 = 1 << 0
    /// The entry expires: a u64 expiry time (Unix milliseconds) follows the key.
    static let expires: UInt8 = 1 << 1
    static let known: UInt8 = overflow | expires
}

/// Public limits of keys and values.
public enum Limits {
    /// The longest key, in bytes.
    public static let maxKeyLength = 1024
    /// The longest value, in bytes (1 GiB).
    public static let maxValueLength = 1 << 30
}
