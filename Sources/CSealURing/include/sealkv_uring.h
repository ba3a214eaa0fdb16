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

/// Writes `count` buffers of `length` bytes each at the given file offsets, all submitted together.
/// Short writes are resumed. Returns 0, or the first negative errno seen.
///
/// There is deliberately no fsync here: io_uring always hands an fsync to a kernel worker thread,
/// and that hand-off measured 50-70 us slower per commit than calling fdatasync once the writes
/// have completed (Docs/BENCHMARKS.md, "Durable commits").
int sealkv_ring_write_batch(sealkv_ring *ring, int fd, const void *const *buffers,
                            const uint64_t *offsets, size_t count, size_t length);

/// Reads `count` buffers of `length` bytes each from the given offsets, in parallel.
/// Short reads are resumed; end of file before `length` bytes gives -ENODATA.
/// Returns 0, or the first negative errno seen.
int sealkv_ring_read_batch(sealkv_ring *ring, int fd, void *const *buffers,
                           const uint64_t *offsets, size_t count, size_t length);

#ifdef __cplusplus
}
#endif

#endif
