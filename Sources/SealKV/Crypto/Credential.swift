import CSodium

/// What opens a store: a password (stretched with Argon2id) or a raw 32-byte key.
///
/// The secret is copied into wiped-on-release memory when the credential is made; the caller's
/// `String` or array is not retained.
public struct Credential: Sendable {
    enum Kind: Sendable { case password, rawKey }
    let kind: Kind
    let secret: SecureBytes

    /// A password. Its UTF-8 bytes are copied into secure memory at once.
    public static func password(_ password: String) -> Credential {
        var copy = password
        return copy.withUTF8 { utf8 in
            Credential(kind: .password, secret: SecureBytes(copying: UnsafeRawBufferPointer(utf8)))
        }
    }

    /// A password given as raw bytes (for passwords read from a file or a terminal).
    public static func password(bytes: UnsafeRawBufferPointer) -> Credential {
        Credential(kind: .password, secret: SecureBytes(copying: bytes))
    }

    /// A raw 256-bit key (e.g. from a key-management service). Throws if it is not 32 bytes.
    public static func key(_ bytes: UnsafeRawBufferPointer) throws(SealKVError) -> Credential {
        guard bytes.count == FileFormat.keySize else {
            throw SealKVError(.invalidArgument, "a raw key must be exactly \(FileFormat.keySize) bytes, got \(bytes.count). Generate one with a CSPRNG or use a password.")
        }
        return Credential(kind: .rawKey, secret: SecureBytes(copying: bytes))
    }

    /// A raw 256-bit key given as an array. Throws if it is not 32 bytes.
    public static func key(_ bytes: [UInt8]) throws(SealKVError) -> Credential {
        try bytes.withBytes { (raw) throws(SealKVError) -> Credential in try key(raw) }
    }
}

/// How hard Argon2id works to turn a password into a key-encryption key.
///
/// The presets are libsodium's: `interactive` (64 MiB, about 0.1 s here), `moderate` (256 MiB,
/// about 0.6 s) and `sensitive` (1 GiB, about 5.6 s). Parameters are stored in the file, so a store
/// always opens with the cost it was made with.
public struct KDFStrength: Sendable, Equatable {
    /// Argon2id passes.
    public let opsLimit: UInt64
    /// Argon2id memory in bytes.
    public let memLimit: UInt64

    /// 64 MiB, 2 passes.
    public static let interactive = KDFStrength(uncheckedOps: UInt64(crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE), mem: UInt64(crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE))
    /// 256 MiB, 3 passes.
    public static let moderate = KDFStrength(uncheckedOps: UInt64(crypto_pwhash_argon2id_OPSLIMIT_MODERATE), mem: UInt64(crypto_pwhash_argon2id_MEMLIMIT_MODERATE))
    /// 1 GiB, 4 passes.
    public static let sensitive = KDFStrength(uncheckedOps: UInt64(crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE), mem: UInt64(crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE))


    init(uncheckedOps ops: UInt64, mem: UInt64) {
        opsLimit = ops
        memLimit = mem
    }

    /// Custom parameters, validated against Argon2id's minimums and SealKV's caps (64 passes, 4 GiB).
    /// Low values are for tests only: they make a password far easier to guess.
    public init(opsLimit: UInt64, memLimit: UInt64) throws(SealKVError) {
        guard Self.isAcceptable(ops: opsLimit, mem: memLimit) else {
            throw SealKVError(.invalidArgument, "Argon2id parameters out of range: passes must be \(FileFormat.argon2idOpsLimits) and memory 8 KiB...4 GiB.")
        }
        self.init(uncheckedOps: opsLimit, mem: memLimit)
    }

    /// Whether a file may ask for these parameters (the ranges in ``FileFormat``).
    static func isAcceptable(ops: UInt64, mem: UInt64) -> Bool {
        FileFormat.argon2idOpsLimits.contains(ops) && FileFormat.argon2idMemLimits.contains(mem)
    }
}
