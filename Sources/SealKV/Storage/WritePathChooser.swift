/// Chooses, for ``WriteEngine/automatic``, which path a commit's writes and sync take, by timing
/// both: `pwritev` and `fdatasync`, or one io_uring submission. Neither wins everywhere: on a
/// lightly loaded machine here `pwritev` committed up to 40 % faster; with other processes writing
/// and syncing heavily, io_uring's commits took as little as a sixth of the time
/// (Docs/BENCHMARKS.md, "Write engines").
///
/// The first ``warmUp`` synced batches alternate between the two paths; after that every batch
/// takes the path whose running estimate is lower, except every ``exploreEvery``-th, which takes the
/// other one, so an estimate never goes stale when conditions change. Each estimate is a moving
/// average of the batches' times. An arithmetic one, on purpose: it is what sets the commit rate,
/// stalls included (a geometric mean, tried first, discounts the occasional stall of many
/// milliseconds, and with it runs under load kept choosing `pwritev` while io_uring-only runs
/// beside them committed eight to ten times faster). One time counts for at most ``spikeCap`` times
/// its path's estimate, so a single stall cannot flip the choice: uncapped, one 20 ms stall of
/// `pwritev` among 250 µs commits raised its estimate past io_uring's 450 µs, and the chooser then
/// sent a few hundred commits down the slower path until the explorations wore the spike off (up to
/// 24 % of the benchmark's durable puts went through io_uring, which took twice as long on this
/// machine). A path that really slows down still rises by up to 37 % a batch and is left within a few
/// batches. Batches are compared by time whatever their size. Only batches written and synced in one call are timed and chosen; the others always take
/// `pwritev`, which was faster for writes alone in every measurement.
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
    /// A new time counts for at most this many times its path's estimate.
    static let spikeCap = 4.0

    private struct State {
        /// Moving averages of nanoseconds per batch, by path (nil before a first time).
        var estimates: [Double?] = [nil, nil]
        /// Batches sent down each path.
        var taken = [0, 0]
        var chosen = 0
    }
    private let state = Locked(State())

    /// The path for the next synced batch.
    func next() -> Path {
        state.withLock { s in
            let path = Self.path(for: s)
            s.chosen += 1
            s.taken[path.rawValue] += 1
            return path
        }
    }

    private static func path(for s: State) -> Path {
        if s.chosen < warmUp { return s.chosen % 2 == 0 ? .pwritev : .ring }
        let preferred = Self.preferred(s.estimates)
        let other: Path = preferred == .ring ? .pwritev : .ring
        return s.chosen % exploreEvery == 0 ? other : preferred
    }

    /// Records how long a batch took through `path` (failed batches are not recorded).
    func record(_ path: Path, nanoseconds: UInt64) {
        let sample = Double(nanoseconds)
        state.withLock { s in
            s.estimates[path.rawValue] = s.estimates[path.rawValue].map { $0 + (min(sample, $0 * Self.spikeCap) - $0) * Self.weight } ?? sample
        }
    }

    /// The path the next batch takes unless it explores.
    var preferred: Path { state.withLock { Self.preferred($0.estimates) } }

    /// "io_uring now; synced commits: 62 through pwritev (2140 µs lately), 938 through io_uring
    /// (410 µs lately)", for statistics.
    var summary: String {
        state.withLock { s in
            func path(_ p: Path, _ name: String) -> String {
                "\(s.taken[p.rawValue]) through \(name)" + (s.estimates[p.rawValue].map { " (\(Int(($0 / 1000).rounded())) µs lately)" } ?? "")
            }
            return "\(Self.preferred(s.estimates) == .ring ? "io_uring" : "pwritev") now; synced commits: \(path(.pwritev, "pwritev")), \(path(.ring, "io_uring"))"
        }
    }

    private static func preferred(_ estimates: [Double?]) -> Path {
        guard let p = estimates[0], let r = estimates[1] else { return .pwritev }
        return r < p ? .ring : .pwritev
    }
}
