#include "sealkv_uring.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>

struct sealkv_ring {
    struct io_uring ring;
    unsigned entries;
};

int sealkv_ring_create(unsigned entries, sealkv_ring **out) {
    *out = NULL;
    sealkv_ring *r = calloc(1, sizeof *r);
    if (!r) return -ENOMEM;
    int rc = io_uring_queue_init(entries, &r->ring, 0);
    if (rc < 0) { free(r); return rc; }
    r->entries = entries;
    *out = r;
    return 0;
}

void sealkv_ring_destroy(sealkv_ring *r) {
    if (!r) return;
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
