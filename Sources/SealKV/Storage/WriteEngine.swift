/// How a file store's commits write their pages and make them durable.
///
/// Both engines write the same bytes to the same places and sync with `fdatasync`; they differ only
/// in how the requests reach the kernel. ``Statistics/writeEngine`` reports the one in use.
public enum WriteEngine: Sendable, Equatable {
    /// Whichever of the two is faster here and now, measured as the store runs: each commit whose
    /// writes and sync go out in one call takes ``pwritev`` or ``ioUring`` by a running estimate
    /// of both (the first few alternate, then one in 16 tries the slower one again, so the choice
    /// follows the machine's load); writes without a sync always take `pwritev`, faster in every
    /// measurement. Neither engine won everywhere (Docs/BENCHMARKS.md, "Write engines"). Without
    /// io_uring, ``pwritev`` alone. ``Statistics/writeEngine`` shows the current choice and both
    /// estimates.
    case automatic
    /// One `pwritev` system call per run of consecutive pages, then `fdatasync` called directly.
    case pwritev
    /// io_uring: a commit's writes (one vectored write per run of consecutive pages) and its
    /// `fdatasync` in one submission, the sync ordered after every write, on a registered file.
    /// Opening fails where io_uring is unavailable (a kernel or seccomp profile that refuses it).
    case ioUring
}

