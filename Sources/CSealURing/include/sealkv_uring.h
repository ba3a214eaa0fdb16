// SealKV's own small interface to io_uring. liburing.h is included only by the .c file: it defines
// _GNU_SOURCE/_XOPEN_SOURCE, and importing it into Swift next to Glibc breaks the Clang module
// (conflicting definitions of fd_set). Swift sees only these declarations.
#ifndef SEALKV_URING_H
#define SEALKV_URING_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// An io_uring instance. Not thread-safe: the caller serialises use of one ring.
typedef struct sealkv_ring sealkv_ring;

/// Creates a ring with room for `entries` submissions. Returns 0, or a negative errno
/// (e.g. -ENOSYS or -EPERM where the kernel or a seccomp profile refuses io_uring).
int sealkv_ring_create(unsigned entries, sealkv_ring **out);

/// Tears the ring down. Accepts NULL.
void sealkv_ring_destroy(sealkv_ring *ring);

// Only reads go through the ring. Buffered writes and fsyncs submitted to io_uring are handed to
// kernel worker threads on Linux's ext4, which measured slower than pwritev and fdatasync called
// directly (Docs/BENCHMARKS.md, "Durable commits"), so the store writes with those.

/// Reads `count` buffers of `length` bytes each from the given offsets, in parallel.
/// Short reads are resumed; end of file before `length` bytes gives -ENODATA.
/// Returns 0, or the first negative errno seen.
int sealkv_ring_read_batch(sealkv_ring *ring, int fd, void *const *buffers,
                           const uint64_t *offsets, size_t count, size_t length);

#ifdef __cplusplus
}
#endif

#endif
