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

/// Reads `count` buffers of `length` bytes each from the given offsets, in parallel.
/// Short reads are resumed; end of file before `length` bytes gives -ENODATA.
/// Returns 0, or the first negative errno seen.
int sealkv_ring_read_batch(sealkv_ring *ring, int fd, void *const *buffers,
                           const uint64_t *offsets, size_t count, size_t length);

/// Registers `fd` as the ring's one fixed file, so submissions on it skip the per-request file
/// lookup. Returns 0 or a negative errno. The ring then holds a reference to the file until
/// `sealkv_ring_destroy`, which drops it before it returns.
int sealkv_ring_register_file(sealkv_ring *ring, int fd);

/// Writes a commit's pages and, when `sync` is nonzero, makes them durable, in one submission:
/// `count` buffers of `length` bytes, buffer i to offset `pages[i] * length`. Each run of
/// consecutive page numbers is one vectored write; the fdatasync is submitted with them, ordered
/// after every write (it starts once they have all completed). Waits for every completion, resumes
/// short writes (and syncs again after them), and submits in rounds when the batch does not fit the
/// ring. Uses the registered file when `fd` is the one registered.
///
/// Returns 0, or the first negative errno. For a failed write, `*failed_first` and `*failed_count`
/// name the run (buffer index and number of pages); for a failed sync, `*failed_count` is 0.
/// Nothing is in flight when it returns.
int sealkv_ring_write_pages(sealkv_ring *ring, int fd, void *const *buffers, const uint64_t *pages,
                            size_t count, size_t length, int sync, size_t *failed_first,
                            size_t *failed_count);

#ifdef __cplusplus
}
#endif

#endif
