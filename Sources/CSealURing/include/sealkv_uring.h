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

/// Writes `count` buffers of `length` bytes each at the given file offsets, all submitted together;
/// when `then_sync` is non-zero, an fdatasync ordered after every write (IOSQE_IO_DRAIN) joins the
/// same submission. Short writes are resumed. Returns 0, or the first negative errno seen.
int sealkv_ring_write_batch(sealkv_ring *ring, int fd, const void *const *buffers,
                            const uint64_t *offsets, size_t count, size_t length, int then_sync);

/// Reads `count` buffers of `length` bytes each from the given offsets, in parallel.
/// Short reads are resumed; end of file before `length` bytes gives -ENODATA.
/// Returns 0, or the first negative errno seen.
int sealkv_ring_read_batch(sealkv_ring *ring, int fd, void *const *buffers,
                           const uint64_t *offsets, size_t count, size_t length);

/// fdatasync through the ring. Returns 0 or a negative errno.
int sealkv_ring_fdatasync(sealkv_ring *ring, int fd);

#ifdef __cplusplus
}
#endif

#endif
