/// A key of the expiry index (section 7 of FORMAT.md): when an entry expires, and which entry.
///
/// Layout: u64 big-endian expiry in Unix milliseconds (so the index sorts by time), u8 namespace
/// name length, the name, then the entry's key.
struct ExpiryIndexKey: Equatable {
    /// When the entry expires, Unix milliseconds.
    var expiry: UInt64
    /// Its namespace ("" is the default namespace).
    var namespace: String
    /// Its key.
    var key: [UInt8]

    /// The encoded key for an entry of `namespace` with `key`, expiring at `expiry`.
    static func encode(_ expiry: UInt64, namespace: String, key: UnsafeRawBufferPointer) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(FileFormat.expiryKeyName + namespace.utf8.count + key.count)
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: expiry >> (56 - 8 * UInt64(i)))) }
        out.append(UInt8(namespace.utf8.count))
        out.append(contentsOf: namespace.utf8)
        out.append(contentsOf: key)
        return out
    }

    /// The expiry time an encoded key starts with; nil if it is too short to hold one.
    static func expiry(of bytes: [UInt8]) -> UInt64? {
        guard bytes.count >= FileFormat.expiryKeyName else { return nil }
        return bytes[FileFormat.expiryKeyTime..<(FileFormat.expiryKeyTime + 8)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    /// Decodes an index key; nil when it is malformed (too short for its name length).
    init?(decoding bytes: [UInt8]) {
        guard let expiry = Self.expiry(of: bytes) else { return nil }
        let nameLength = Int(bytes[FileFormat.expiryKeyNameLength])
        let keyStart = FileFormat.expiryKeyName + nameLength
        guard bytes.count >= keyStart else { return nil }
        self.expiry = expiry
        namespace = String(decoding: bytes[FileFormat.expiryKeyName..<keyStart], as: UTF8.self)
        key = Array(bytes[keyStart...])
    }
}
