/// How a file store's commits write their pages and make them durable.
///
/// Both engines write the same bytes to the same places and sync with `fdatasync`; they differ only
/// in how the requests reach the kernel. ``Statistics/writeEngine`` reports the one in use.
public enum WriteEngine: Sendable, Equatable {
    /// The engine that measured faster for commits on Linux's buffered ext4 here: ``pwritev``.
    /// A fixed rule, not a probe at open: on that kernel and file system io_uring hands every
    /// buffered write and sync to a kernel worker thread, and in side-by-side runs of `make bench`
    /// that cost more than it saved (Docs/BENCHMARKS.md, "Write engines").
    case automatic
    /// One `pwritev` system call per run of consecutive pages, then `fdatasync` called directly.
    case pwritev
    /// io_uring: a commit's writes (one vectored write per run of consecutive pages) and its
    /// `fdatasync` in one submission, the sync ordered after every write, on a registered file.
    /// Opening fails where io_uring is unavailable (a kernel or seccomp profile that refuses it).
    case ioUring
}

extension WriteEngine {
    /// Whether commits write through io_uring: only when asked for, since ``automatic`` is
    /// `pwritev` (see there for why).
    var writesThroughRing: Bool { self == .ioUring }
}
