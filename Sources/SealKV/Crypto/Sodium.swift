import CSodium

/// libsodium is initialised exactly once, before first use (Swift initialises globals lazily and
/// thread-safely).
let sodiumInitialized: Bool = sodium_init() >= 0

@inline(__always)
func ensureSodium() {
    precondition(sodiumInitialized, "libsodium failed to initialise")
}

/// Fills `buffer` with bytes from libsodium's CSPRNG.
func randomBytes(_ buffer: UnsafeMutableRawBufferPointer) {
    ensureSodium()
    if let base = buffer.baseAddress, buffer.count > 0 {
        randombytes_buf(base, buffer.count)
    }
}

/// Returns `count` random bytes (for non-secret values such as salts, file ids and nonces).
func randomBytes(count: Int) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBytes { randomBytes($0) }
    return bytes
}

/// Constant-time comparison of two equally long byte ranges.
func constantTimeEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, count: Int) -> Bool {
    ensureSodium()
    return sodium_memcmp(a, b, count) == 0
}

