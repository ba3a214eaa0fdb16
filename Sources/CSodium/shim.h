#include <sodium.h>

/// Overwrites 16 KiB of the stack below the caller with zeros. BLAKE2b's final step in libsodium
/// 1.0.18 leaves the hash (a derived key) in a stack buffer it does not wipe, and this libsodium has
/// no sodium_stackzero; SealKV calls this after deriving keys.
__attribute__((noinline)) static void sealkv_wipe_stack(void) {
    volatile unsigned char buffer[16384];
    sodium_memzero((void *)buffer, sizeof buffer);
    __asm__ __volatile__("" : : "r"(buffer) : "memory");
}
