// What a commit's writes and sync cost through each write path, on this machine's disk: pwritev per
// run of consecutive pages and fdatasync (SealKV's pwritev engine) against the shim's
// sealkv_ring_write_pages (the io_uring engine: writes and sync in one submission, registered
// file), the same with a plain descriptor, with an O_DIRECT descriptor, and with registered
// buffers (one write_fixed per page). Each batch first touches its pages through a shared read
// mapping, as the store's reads do. The variants alternate within every round; medians over rounds.
// Docs/BENCHMARKS.md ("Write engines") quotes its output.
//
//   gcc -O2 -ISources/CSealURing/include Tools/scripts/write-engines.c
//       Sources/CSealURing/sealkv_uring.c -o /tmp/write-engines -luring
//   /tmp/write-engines /tmp 9 100      (folder, rounds, batches per variant and round)
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include "sealkv_uring.h"
enum { PAGES = 20000, PAGE = 4096, MAXN = 256 };
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static int cmp(const void *a, const void *b) { uint64_t x = *(uint64_t*)a, y = *(uint64_t*)b; return x < y ? -1 : x > y; }
static int dcmp(const void *a, const void *b) { double x = *(double*)a, y = *(double*)b; return x < y ? -1 : x > y; }
int fd, dfd; char *map; char *bufs; void *bp[MAXN]; uint64_t pg[MAXN];
sealkv_ring *rr, *rn, *rd; struct io_uring fixring;
static void pick(int n, int contiguous) {
    long base = random() % (PAGES - MAXN);
    for (int j = 0; j < n; j++) pg[j] = contiguous ? base + j : random() % PAGES;
    if (!contiguous) qsort(pg, n, 8, cmp);
    volatile char sink = 0;
    for (int j = 0; j < n; j++) sink += map[pg[j] * PAGE]; // the read mapping has them mapped
    (void)sink;
}
static void check(int rc, const char *what) { if (rc) { fprintf(stderr, "%s: %d\n", what, rc); exit(1); } }
static void one(int variant, int n, int sync) {
    size_t ff, fc;
    switch (variant) {
    case 0: { // pwritev per run + fdatasync
        for (int i = 0; i < n;) {
            int e = i + 1; while (e < n && pg[e] == pg[e-1] + 1) e++;
            struct iovec v[MAXN]; for (int k = i; k < e; k++) { v[k-i].iov_base = bp[k]; v[k-i].iov_len = PAGE; }
            if (pwritev(fd, v, e - i, pg[i] * PAGE) != (e - i) * PAGE) { perror("pwritev"); exit(1); }
            i = e;
        }
        if (sync) fdatasync(fd);
        break; }
    case 1: check(sealkv_ring_write_pages(rr, fd, bp, pg, n, PAGE, sync, &ff, &fc), "drain"); break;
    case 2: check(sealkv_ring_write_pages(rn, fd, bp, pg, n, PAGE, sync, &ff, &fc), "unregistered"); break;
    case 3: check(sealkv_ring_write_pages(rd, dfd, bp, pg, n, PAGE, sync, &ff, &fc), "direct"); break;
    case 4: { // fixed buffers, one write_fixed per page, fsync drained
        for (int j = 0; j < n; j++) {
            struct io_uring_sqe *s = io_uring_get_sqe(&fixring);
            io_uring_prep_write_fixed(s, 0, bp[j], PAGE, pg[j] * PAGE, 0); s->flags |= IOSQE_FIXED_FILE;
        }
        int q = n;
        if (sync) { struct io_uring_sqe *s = io_uring_get_sqe(&fixring); io_uring_prep_fsync(s, 0, IORING_FSYNC_DATASYNC); s->flags |= IOSQE_FIXED_FILE | IOSQE_IO_DRAIN; q++; }
        io_uring_submit_and_wait(&fixring, q);
        for (int i = 0; i < q; i++) { struct io_uring_cqe *c; io_uring_wait_cqe(&fixring, &c); if (c->res < 0) { fprintf(stderr, "fixed %d\n", c->res); exit(1);} io_uring_cqe_seen(&fixring, c); }
        break; }
    }
}
int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    int rounds = argc > 2 ? atoi(argv[2]) : 9, reps = argc > 3 ? atoi(argv[3]) : 100;
    if (rounds < 1 || rounds > 64) { fprintf(stderr, "rounds: 1 to 64\n"); return 2; }
    char path[4096]; snprintf(path, sizeof path, "%s/wbench.dat", dir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (posix_memalign((void **)&bufs, PAGE, MAXN * PAGE)) return 1;
    memset(bufs, 7, MAXN * PAGE);
    for (int i = 0; i < MAXN; i++) bp[i] = bufs + i * PAGE;
    for (long i = 0; i < PAGES; i += MAXN) pwrite(fd, bufs, MAXN * PAGE, i * PAGE);
    fdatasync(fd);
    dfd = open(path, O_RDWR | O_DIRECT);
    map = mmap(NULL, (size_t)PAGES * PAGE, PROT_READ, MAP_SHARED, fd, 0);
    check(sealkv_ring_create(256, &rr), "ring"); check(sealkv_ring_register_file(rr, fd), "reg");
    check(sealkv_ring_create(256, &rn), "ring");
    check(sealkv_ring_create(256, &rd), "ring"); check(sealkv_ring_register_file(rd, dfd), "reg");
    check(io_uring_queue_init(512, &fixring, 0), "fixring");
    check(io_uring_register_files(&fixring, &fd, 1), "fixreg");
    struct iovec whole = { bufs, MAXN * PAGE }; check(io_uring_register_buffers(&fixring, &whole, 1), "bufreg");
    const char *names[] = {"pwritev+fdatasync", "io_uring", "io_uring, plain fd", "io_uring, O_DIRECT", "io_uring, fixed bufs"};
    enum { V = 5 };
    struct { int n, contiguous, sync; const char *what; } cases[] = {
        {1, 0, 1, "1 page + sync"}, {6, 0, 1, "6 scattered + sync"}, {64, 0, 1, "64 scattered + sync"},
        {256, 1, 1, "256 contiguous + sync"}, {6, 0, 0, "6 scattered, no sync"}, {64, 0, 0, "64 scattered, no sync"}};
    int nc = sizeof cases / sizeof cases[0];
    static double val[V][8][64];
    for (int round = 0; round < rounds; round++)
        for (int c = 0; c < nc; c++)
            for (int v0 = 0; v0 < V; v0++) {
                int v = (v0 + round) % V;
                int r = cases[c].sync ? reps : reps * 5;
                double t = now();
                for (int i = 0; i < r; i++) { pick(cases[c].n, cases[c].contiguous); one(v, cases[c].n, cases[c].sync); }
                double us = (now() - t) / r * 1e6;
                val[v][c][round] = us;
                printf("round %d %-22s %-22s %8.1f us\n", round, cases[c].what, names[v], us);
                fflush(stdout);
            }
    printf("\nmedian of %d rounds (us per batch):\n%-22s", rounds, "");
    for (int v = 0; v < V; v++) printf(" %22s", names[v]);
    printf("\n");
    for (int c = 0; c < nc; c++) { printf("%-22s", cases[c].what); for (int v = 0; v < V; v++) { double t[64]; memcpy(t, val[v][c], sizeof t); qsort(t, rounds, sizeof(double), dcmp); printf(" %22.1f", rounds % 2 ? t[rounds/2] : (t[rounds/2-1]+t[rounds/2])/2); } printf("\n"); }
    unlink(path);
    return 0;
}
