#if canImport(Glibc)
import Glibc
#endif

/// Chooses, for ``WriteEngine/automatic``, which path a commit's writes and sync take, by timing
/// both: `pwritev` and `fdatasync`, or one io_uring submission. Neither wins everywhere: on an idle
/// machine here `pwritev` was faster by 10–40 µs a commit; with other processes writing and
/// syncing heavily, the ring's commits took a fifth to a half of the time (Docs/BENCHMARKS.md,
/// "Write engines").
///
/// The first ``warmUp`` synced batches alternate between the two paths; after that every batch
/// takes the path whose running estimate is lower, except every ``exploreEvery``-th, which takes the
/// other one, so an estimate never goes stale when conditions change. Each estimate is a moving
/// average of the logarithm of the batch's time (a geometric mean: one stall of the disk moves it
/// far less than it would an arithmetic mean). Only batches written and synced in one call are
/// timed and chosen; the others always take `pwritev`, which was faster for writes alone in every
/// measurement.
final class WritePathChooser: Sendable {
    /// The two paths.
    enum Path: Int, Sendable {
        case pwritev = 0
        case ring = 1
    }

    /// Synced batches at the start that alternate between the paths.
    static let warmUp = 8
    /// One synced batch in this many takes the path not currently preferred.
    static let exploreEvery = 16
    /// Weight of a new time in the moving average.
    static let weight = 1.0 / 8

    private struct State {
        /// Moving averages of the log of nanoseconds per batch, by path (nil before a first time).
        var estimates: [Double?] = [nil, nil]
        var chosen = 0
    }
    private let state = Locked(State())

    /// The path for the next synced batch.
    func next() -> Path {
        state.withLock { s in
            defer { s.chosen += 1 }
            if s.chosen < Self.warmUp { return s.chosen % 2 == 0 ? .pwritev : .ring }
            let preferred = Self.preferred(s.estimates)
            let other: Path = preferred == .ring ? .pwritev : .ring
            return s.chosen % Self.exploreEvery == 0 ? other : preferred
        }
    }

    /// Records how long a batch took through `path` (failed batches are not recorded).
    func record(_ path: Path, nanoseconds: UInt64) {
        let sample = log(Double(max(nanoseconds, 1)))
        state.withLock { s in
            s.estimates[path.rawValue] = s.estimates[path.rawValue].map { $0 + (sample - $0) * Self.weight } ?? sample
        }
    }

    /// The path the next batch takes unless it explores, and both estimates in microseconds (nil
    /// before a first time).
    var preference: (path: Path, pwritevMicroseconds: Double?, ringMicroseconds: Double?) {
        state.withLock { s in
            (Self.preferred(s.estimates), s.estimates[0].map { exp($0) / 1000 }, s.estimates[1].map { exp($0) / 1000 })
        }
    }

    private static func preferred(_ estimates: [Double?]) -> Path {
        guard let p = estimates[0], let r = estimates[1] else { return .pwritev }
        return r < p ? .ring : .pwritev
    }
}
