#include <sodium.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

/// mlock2(MLOCK_ONFAULT): pages of the range are locked as they are first touched instead of all
/// being made resident now, so a large cache costs memory only as it fills. 0, or -1 with errno
/// (EINVAL or ENOSYS before Linux 4.4; ENOMEM or EPERM past RLIMIT_MEMLOCK).
static inline int sealkv_mlock_on_fault(void *address, size_t length) {
    return (int)syscall(SYS_mlock2, address, length, 1 /* MLOCK_ONFAULT */);
}

/// Overwrites 16 KiB of the stack below the caller with zeros. BLAKE2b's final step in libsodium
/// 1.0.18 leaves the hash (a derived key) in a stack buffer it does not wipe, and this libsodium has
/// no sodium_stackzero; SealKV calls this after deriving keys.
__attribute__((noinline)) static void sealkv_wipe_stack(void) {
    volatile unsigned char buffer[16384];
    sodium_memzero((void *)buffer, sizeof buffer);
    __asm__ __volatile__("" : : "r"(buffer) : "memory");
}
