import CSodium

/// Zeroes memory in a way the compiler cannot remove (libsodium's `sodium_memzero`). Every buffer
/// that held plaintext or a secret is wiped with this before it is reused or released.
func secureZero(_ pointer: UnsafeMutableRawPointer, count: Int) {
    sodium_memzero(pointer, count)
}
