#include "sealkv_uring.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

struct sealkv_ring {
    struct io_uring ring;
    unsigned entries;
    /// The descriptor registered as fixed file 0, or -1.
    int registered_fd;
};

int sealkv_ring_create(unsigned entries, sealkv_ring **out) {
    *out = NULL;
    sealkv_ring *r = calloc(1, sizeof *r);
    if (!r) return -ENOMEM;
    int rc = io_uring_queue_init(entries, &r->ring, 0);
    if (rc < 0) { free(r); return rc; }
    r->entries = entries;
    r->registered_fd = -1;
    *out = r;
    return 0;
}

void sealkv_ring_destroy(sealkv_ring *r) {
    if (!r) return;
    // Unregister first: that drops the ring's reference to the file at once, where the ring's
    // own teardown drops it later, from a kernel worker. Until then the file stays open for
    // writing after the store is closed, and a remount read-only or an unmount fails as busy.
    if (r->registered_fd >= 0) io_uring_unregister_files(&r->ring);
    io_uring_queue_exit(&r->ring);
    free(r);
}

/// Submits every unfinished read (in rounds that fit the ring), waits for all completions, and
/// repeats while short reads remain. `done[i]` counts bytes already read for buffer i.
int sealkv_ring_read_batch(sealkv_ring *r, int fd, void *const *buffers,
                           const uint64_t *offsets, size_t count, size_t length) {
    if (count == 0) return 0;
    size_t *done = calloc(count, sizeof(size_t));
    if (!done) return -ENOMEM;
    int first_error = 0;

    for (;;) {
        size_t next = 0;
        while (next < count) {
            unsigned queued = 0;
            while (next < count && queued < r->entries) {
                if (done[next] < length) {
                    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
                    if (!sqe) break;
                    char *buf = (char *)buffers[next] + done[next];
                    unsigned len = (unsigned)(length - done[next]);
                    uint64_t off = offsets[next] + done[next];
                    io_uring_prep_read(sqe, fd, buf, len, off);
                    io_uring_sqe_set_data64(sqe, (uint64_t)next);
                    queued++;
                }
                next++;
            }
            if (queued == 0) break;
            int rc;
            do { rc = io_uring_submit_and_wait(&r->ring, queued); } while (rc == -EINTR);
            if (rc < 0) { free(done); return rc; }
            for (unsigned seen = 0; seen < queued; seen++) {
                struct io_uring_cqe *cqe;
                do { rc = io_uring_wait_cqe(&r->ring, &cqe); } while (rc == -EINTR);
                if (rc < 0) { free(done); return rc; }
                uint64_t tag = io_uring_cqe_get_data64(cqe);
                int res = cqe->res;
                io_uring_cqe_seen(&r->ring, cqe);
                if (res < 0) {
                    if (res == -EINTR || res == -EAGAIN) continue; // resubmitted next pass
                    if (first_error == 0) first_error = res;
                } else if (res == 0) {
                    if (first_error == 0) first_error = -ENODATA;
                } else {
                    done[tag] += (size_t)res;
                }
            }
        }
        int any_left = 0;
        for (size_t i = 0; i < count; i++) if (done[i] < length) { any_left = 1; break; }
        if (first_error != 0 || !any_left) break;
    }
    free(done);
    return first_error;
}

int sealkv_ring_register_file(sealkv_ring *r, int fd) {
    int rc = io_uring_register_files(&r->ring, &fd, 1);
    if (rc < 0) return rc;
    r->registered_fd = fd;
    return 0;
}

/// Vectors one writev may carry (the kernel's UIO_MAXIOV).
enum { MAX_VECTORS = 1024 };

/// One run of consecutive pages: `pages` iovecs from `first`, `done` bytes of it written.
struct write_run {
    size_t first;
    size_t pages;
    size_t done;
};

/// Points `vecs` (room for `run->pages` entries) at what is left of the run; returns how many.
static unsigned remaining_vectors(const struct write_run *run, void *const *buffers,
                                  size_t length, struct iovec *vecs) {
    size_t skip = run->done / length;
    size_t into = run->done % length;
    unsigned n = 0;
    for (size_t i = skip; i < run->pages; i++) {
        vecs[n].iov_base = (char *)buffers[run->first + i] + (i == skip ? into : 0);
        vecs[n].iov_len = length - (i == skip ? into : 0);
        n++;
    }
    return n;
}

/// Splits the batch into runs of consecutive pages, each at most IOV_MAX pages.
static size_t make_runs(const uint64_t *pages, size_t count, struct write_run *runs) {
    size_t n = 0;
    for (size_t i = 0; i < count;) {
        size_t end = i + 1;
        while (end < count && end - i < MAX_VECTORS && pages[end] == pages[end - 1] + 1) end++;
        runs[n++] = (struct write_run){ .first = i, .pages = end - i, .done = 0 };
        i = end;
    }
    return n;
}

enum { SYNC_TAG = UINT64_MAX };

int sealkv_ring_write_pages(sealkv_ring *r, int fd, void *const *buffers, const uint64_t *pages,
                            size_t count, size_t length, int sync, size_t *failed_first,
                            size_t *failed_count) {
    *failed_first = 0;
    *failed_count = 0;
    struct write_run *runs = calloc(count ? count : 1, sizeof *runs);
    struct iovec *vecs = calloc(count ? count : 1, sizeof *vecs);
    if (!runs || !vecs) { free(runs); free(vecs); return -ENOMEM; }
    size_t run_count = make_runs(pages, count, runs);
    int fixed = r->registered_fd >= 0 && r->registered_fd == fd;
    int target = fixed ? 0 : fd;
    int first_error = 0;
    int synced = !sync;

    for (;;) {
        // One round: every unfinished run (as many as fit beside the sync), then the sync, ordered
        // after the round's writes so it starts only once all of them are done.
        unsigned queued = 0;
        size_t next = 0;
        int all_queued = 1;
        struct io_uring_sqe *last_write = NULL;
        for (; next < run_count; next++) {
            struct write_run *run = &runs[next];
            if (run->done == run->pages * length) continue;
            if (queued + 1 >= r->entries) { all_queued = 0; break; }
            struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
            if (!sqe) { all_queued = 0; break; }
            struct iovec *v = vecs + run->first;
            unsigned n = remaining_vectors(run, buffers, length, v);
            io_uring_prep_writev(sqe, target, v, n, pages[run->first] * length + run->done);
            if (fixed) sqe->flags |= IOSQE_FIXED_FILE;
            io_uring_sqe_set_data64(sqe, (uint64_t)next);
            last_write = sqe;
            queued++;
        }
        int sync_queued = 0;
        if (!synced && all_queued) {
            struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
            if (sqe) {
                io_uring_prep_fsync(sqe, target, IORING_FSYNC_DATASYNC);
                if (fixed) sqe->flags |= IOSQE_FIXED_FILE;
                // Drain: the sync starts once every write before it has completed (a link would
                // also serialise the writes among themselves).
                if (last_write) sqe->flags |= IOSQE_IO_DRAIN;
                io_uring_sqe_set_data64(sqe, SYNC_TAG);
                queued++;
                sync_queued = 1;
            }
        }
        if (queued == 0) break;

        int rc;
        do { rc = io_uring_submit_and_wait(&r->ring, queued); } while (rc == -EINTR);
        if (rc < 0) { first_error = rc; break; }
        int write_unfinished = 0;
        int sync_result = 0;
        for (unsigned seen = 0; seen < queued; seen++) {
            struct io_uring_cqe *cqe;
            do { rc = io_uring_wait_cqe(&r->ring, &cqe); } while (rc == -EINTR);
            if (rc < 0) { free(runs); free(vecs); return rc; }
            uint64_t tag = io_uring_cqe_get_data64(cqe);
            int res = cqe->res;
            io_uring_cqe_seen(&r->ring, cqe);
            if (tag == SYNC_TAG) { sync_result = res; continue; }
            struct write_run *run = &runs[tag];
            if (res == -EINTR || res == -EAGAIN) { write_unfinished = 1; continue; }
            if (res <= 0) {
                if (first_error == 0) {
                    first_error = res < 0 ? res : -EIO; // a write of nothing would repeat forever
                    *failed_first = run->first;
                    *failed_count = run->pages;
                }
                continue;
            }
            run->done += (size_t)res;
            if (run->done < run->pages * length) write_unfinished = 1;
        }
        if (first_error != 0) break;
        if (sync_queued) {
            if (sync_result < 0 && sync_result != -EINTR && sync_result != -EAGAIN) {
                first_error = sync_result;
                *failed_first = count;
                *failed_count = 0;
                break;
            }
            // A sync that ran while a write was still short covers too little: sync again.
            if (sync_result == 0 && !write_unfinished) synced = 1;
        }
        if (synced && !write_unfinished && all_queued) break;
    }
    free(runs);
    free(vecs);
    return first_error;
}
