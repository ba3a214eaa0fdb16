import CSodium

/// The password clients must give to AUTH, kept only as a keyed BLAKE2b digest made when it is set
/// (under a random key of this process): the password's own bytes are never stored, so the caller
/// can wipe its copy as soon as this exists.
public struct ClientPassword: Sendable {
    private let key: [UInt8]
    private let digest: [UInt8]

    /// The password in `bytes`, which are read only during the call.
    public init(_ bytes: UnsafeRawBufferPointer) {
        _ = sodium_init()
        var key = [UInt8](repeating: 0, count: 32)
        randombytes_buf(&key, key.count)
        self.key = key
        digest = Self.digest(bytes, key: key)
    }

    /// The password in `bytes` (the array is not kept; wiping it is the caller's).
    public init(_ bytes: [UInt8]) {
        self = bytes.withUnsafeBytes { ClientPassword($0) }
    }

    /// Whether `candidate` is the password, compared in constant time (both sides hashed first, so
    /// the length is not revealed either).
    func matches(_ candidate: [UInt8]) -> Bool {
        let d = candidate.withUnsafeBytes { Self.digest($0, key: key) }
        return sodium_memcmp(d, digest, 32) == 0
    }

    private static func digest(_ bytes: UnsafeRawBufferPointer, key: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        _ = crypto_generichash(&out, out.count, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count), key, key.count)
        return out
    }
}
