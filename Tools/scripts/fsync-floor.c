// What one durable commit costs this machine's disk, whatever the store: N 4 KiB pages written
// (scattered or contiguous) and one fdatasync, plus the same writes through io_uring with the
// fdatasync submitted to the ring or called directly; then the writes alone (no sync), pwrite
// against io_uring, which shows the ring's hand-off of buffered writes to kernel worker threads.
// Docs/BENCHMARKS.md quotes its output.
//
//   gcc -O2 Tools/scripts/fsync-floor.c -o /tmp/fsync-floor -luring && /tmp/fsync-floor /tmp
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { PAGES = 50000, PAGE = 4096, ROUNDS = 300 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static long target(int contiguous, long base, int j) {
    return contiguous ? base + j : random() % PAGES;
}

// Submits what is queued and waits for `count` completions, reporting any error.
static void submit_and_reap(struct io_uring *ring, int count) {
    io_uring_submit_and_wait(ring, count);
    for (int i = 0; i < count; i++) {
        struct io_uring_cqe *cqe;
        io_uring_wait_cqe(ring, &cqe);
        if (cqe->res < 0) fprintf(stderr, "error %d\n", cqe->res);
        io_uring_cqe_seen(ring, cqe);
    }
}

int main(int argc, char **argv) {
    char path[4096];
    snprintf(path, sizeof path, "%s/fsync-floor.dat", argc > 1 ? argv[1] : "/tmp");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) { perror("open"); return 1; }
    char *buf;
    if (posix_memalign((void **)&buf, PAGE, 16 * PAGE)) return 1;
    memset(buf, 7, 16 * PAGE);
    // Write every page once, so later writes overwrite allocated blocks (as a store's do).
    for (long i = 0; i < PAGES; i++) pwrite(fd, buf, PAGE, i * PAGE);
    fdatasync(fd);
    struct io_uring ring;
    if (io_uring_queue_init(256, &ring, 0) < 0) { fprintf(stderr, "io_uring unavailable\n"); return 1; }

    const int sizes[] = {1, 2, 4, 7, 16};
    const char *modes[] = {"pwrite + fdatasync, scattered", "pwrite + fdatasync, contiguous",
                           "io_uring writes + ring fsync", "io_uring writes + fdatasync()"};
    for (int mode = 0; mode < 4; mode++) {
        for (int k = 0; k < 5; k++) {
            int n = sizes[k];
            double start = now();
            for (int round = 0; round < ROUNDS; round++) {
                long base = random() % (PAGES - 64);
                if (mode < 2) {
                    for (int j = 0; j < n; j++) pwrite(fd, buf + j * PAGE, PAGE, target(mode == 1, base, j) * PAGE);
                    fdatasync(fd);
                    continue;
                }
                for (int j = 0; j < n; j++) {
                    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
                    io_uring_prep_write(sqe, fd, buf + j * PAGE, PAGE, target(0, base, j) * PAGE);
                }
                int queued = n;
                if (mode == 2) {
                    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
                    io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
                    sqe->flags |= IOSQE_IO_DRAIN;
                    queued++;
                }
                submit_and_reap(&ring, queued);
                if (mode == 3) fdatasync(fd);
            }
            double per = (now() - start) / ROUNDS;
            printf("%-32s %2d pages: %4.0f us per commit (%5.0f commits/s)\n", modes[mode], n, per * 1e6, 1 / per);
        }
    }
    // The writes alone: scattered pages, pwrite one by one against one io_uring submission.
    for (int n = 1; n <= 256; n *= 4) {
        int rounds = 2000 / n + 50;
        double start = now();
        for (int round = 0; round < rounds; round++)
            for (int j = 0; j < n; j++) pwrite(fd, buf, PAGE, (random() % PAGES) * PAGE);
        double plain = (now() - start) / rounds;
        start = now();
        for (int round = 0; round < rounds; round++) {
            for (int j = 0; j < n; j++) {
                struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
                io_uring_prep_write(sqe, fd, buf, PAGE, (random() % PAGES) * PAGE);
            }
            submit_and_reap(&ring, n);
        }
        double ring_time = (now() - start) / rounds;
        printf("writes alone, %3d scattered pages: pwrite %6.1f us, io_uring %6.1f us\n", n, plain * 1e6, ring_time * 1e6);
        fdatasync(fd);
    }
    io_uring_queue_exit(&ring);
    close(fd);
    unlink(path);
    return 0;
}
