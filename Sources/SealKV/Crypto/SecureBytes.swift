import CSodium

/// A fixed-size buffer of secret bytes (a password, a key) in `sodium_malloc` memory: guarded
/// pages, locked against swapping where the limit allows, excluded from core dumps, and wiped when
/// released. The bytes never pass through a Swift `Array` or `String`.
final class SecureBytes: @unchecked Sendable {
    let count: Int
    private let base: UnsafeMutableRawPointer

    /// Allocates `count` zeroed secret bytes.
    init(count: Int) {
        ensureSodium()
        guard let pointer = sodium_malloc(max(count, 1)) else {
            fatalError("sodium_malloc(\(count)) failed: out of memory")
        }
        base = pointer
        self.count = count
        sodium_memzero(base, max(count, 1))
        _ = sodium_mlock(base, max(count, 1))
    }

    /// Allocates `count` random secret bytes.
    static func random(count: Int) -> SecureBytes {
        let bytes = SecureBytes(count: count)
        randombytes_buf(bytes.base, count)
        return bytes
    }

    /// Copies secret bytes from `source` (the caller wipes its own copy).
    convenience init(copying source: UnsafeRawBufferPointer) {
        self.init(count: source.count)
        if let src = source.baseAddress, source.count > 0 {
            base.copyMemory(from: src, byteCount: source.count)
        }
    }

    deinit {
        // sodium_free wipes the region before releasing it.
        sodium_free(base)
    }

    /// Reads the secret bytes; the pointer must not escape the closure.
    func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Writes the secret bytes; the pointer must not escape the closure.
    func withUnsafeMutableBytes<R, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeMutableRawBufferPointer(start: base, count: count))
    }

    var pointer: UnsafePointer<UInt8> { UnsafePointer(base.assumingMemoryBound(to: UInt8.self)) }
}
