import SealKV
#if canImport(Glibc)
import Glibc
#endif

/// The crash states of one epoch of a trace: which of its unsynced writes persisted, each write
/// whole or torn at sector granularity, and the storage image each state leaves.
extension CrashHarness {
    /// One crash state of an epoch: which of its events persisted, and possibly one torn write.
    struct CrashState {
        var cls: String
        var persisted: [Bool]
        /// The index (within the epoch) of a torn write and each sector's source: 0 old, 1 new,
        /// 2 zeros, 3 garbage.
        var torn: (write: Int, sectors: [UInt8])? = nil
    }

    /// The states of an epoch with `n` unsynced events, in a deterministic order.
    func enumerate(_ n: Int, epoch: Int, path: String) -> [CrashState] {
        var rng = SeededGenerator(seed: configuration.seed ^ (UInt64(epoch) &* 0x2545_F491_4F6C_DD1D) ^ UInt64(truncatingIfNeeded: stableHash(path)))
        var states: [CrashState] = [CrashState(cls: "barrier", persisted: Array(repeating: false, count: n))]
        guard n > 0 else { return states }
        if n <= configuration.exhaustiveLimit {
            for mask in 1..<(1 << n) {
                states.append(CrashState(cls: "subset", persisted: (0..<n).map { mask & (1 << $0) != 0 }))
            }
        } else {
            for p in 1...n { states.append(CrashState(cls: "prefix", persisted: (0..<n).map { $0 < p })) }
            for j in 0..<n { states.append(CrashState(cls: "omission", persisted: (0..<n).map { $0 != j })) }
            for _ in 0..<configuration.samplesPerEpoch {
                states.append(CrashState(cls: "sampled", persisted: (0..<n).map { _ in Bool.random(using: &rng) }))
            }
        }
        let sectors = FileFormat.pageSize / configuration.sectorSize
        for _ in 0..<configuration.tornPerEpoch {
            var persisted = (0..<n).map { _ in Bool.random(using: &rng) }
            let write = Int.random(in: 0..<n, using: &rng)
            persisted[write] = true
            var pattern = (0..<sectors).map { _ in UInt8.random(in: 0...3, using: &rng) }
            if pattern.allSatisfy({ $0 == 1 }) { pattern[0] = 0 }
            states.append(CrashState(cls: "torn", persisted: persisted, torn: (write, pattern)))
        }
        return states
    }

    /// The crash state's storage: the durable base plus the persisted events of the epoch.
    func apply(_ state: CrashState, pending: [Int], events: [TraceEvent], images: [[UInt8]], base: DurableImage, trace: UInt64) -> OverlayStorage {
        let overlay = OverlayStorage(base: base, pages: base.pageCount, images: images)
        for (i, idx) in pending.enumerated() where state.persisted[i] {
            switch events[idx] {
            case .write(let page, let image):
                if let torn = state.torn, torn.write == i {
                    overlay.write(page, tear(old: overlay.page(page), new: images[image], pattern: torn.sectors, seed: UInt64(idx)),
                                  identity: ContentIdentity.unnamed)
                } else {
                    overlay.write(page, image: image, identity: ContentIdentity.image(image, trace: trace))
                }
            case .resize(let pages):
                overlay.resize(to: pages)
            default: break
            }
        }
        return overlay
    }

    func tear(old: [UInt8], new: [UInt8], pattern: [UInt8], seed: UInt64) -> [UInt8] {
        var out = new
        var rng = SeededGenerator(seed: seed)
        let s = configuration.sectorSize
        for (i, source) in pattern.enumerated() {
            let range = (i * s)..<((i + 1) * s)
            switch source {
            case 0: out.replaceSubrange(range, with: old[range])
            case 2: out.replaceSubrange(range, with: repeatElement(0, count: s))
            case 3: out.replaceSubrange(range, with: (0..<s).map { _ in UInt8.random(in: 0...255, using: &rng) })
            default: break
            }
        }
        return out
    }

    /// The file's size, in pages, in the crash state: the base's, as the persisted writes and
    /// resizes leave it (what ``apply(_:pending:events:images:base:)`` gives the overlay).
    func pageCount(_ state: CrashState, pending: [Int], events: [TraceEvent], basePages: UInt64) -> UInt64 {
        var pages = basePages
        for (i, idx) in pending.enumerated() where state.persisted[i] {
            switch events[idx] {
            case .write(let page, _): pages = max(pages, page + 1)
            case .resize(let n): pages = n
            default: break
            }
        }
        return pages
    }

    /// Scratch space for ``signature(_:pending:events:pages:scratch:)``: by page number, the
    /// generation of the last signature that took a write to it.
    struct SignatureScratch {
        var stamps: [UInt32] = []
        var generation: UInt32 = 0
    }

    /// Identity of a state for skipping duplicates within its epoch: for each changed page, which
    /// event (or torn pattern) produced it, the file's size (`pages`) and the lowest size a resize
    /// cut it to (below which the base's pages read as zeros). Needs no overlay, so a duplicate is
    /// skipped before one is built.
    func signature(_ state: CrashState, pending: [Int], events: [TraceEvent], pages: UInt64, scratch: inout SignatureScratch) -> Int {
        scratch.generation &+= 1
        if scratch.generation == 0 {
            scratch.stamps = Array(repeating: 0, count: scratch.stamps.count)
            scratch.generation = 1
        }
        // Walked backwards, so each write knows the lowest size a later resize cuts the file to
        // (a write above it is gone, as ``apply(_:pending:events:images:base:trace:)`` drops it),
        // and the first write met to a page is the last made, the one that decides its bytes.
        // The pages' (page, source) pairs are a set: summed, each through a 64-bit mix.
        var cut = UInt64.max
        var pairs: UInt64 = 0
        for (i, idx) in pending.enumerated().reversed() where state.persisted[i] {
            switch events[idx] {
            case .write(let page, _) where page < cut && page < pages:
                if page >= scratch.stamps.count { scratch.stamps.append(contentsOf: repeatElement(0, count: Int(page) + 1 - scratch.stamps.count)) }
                guard scratch.stamps[Int(page)] != scratch.generation else { continue }
                scratch.stamps[Int(page)] = scratch.generation
                pairs &+= mix64(mix64(page) ^ UInt64(bitPattern: Int64(writeSource(state, write: i, event: idx))))
            case .resize(let n): cut = min(cut, n)
            default: break
            }
        }
        var h = Hasher()
        h.combine(pages)
        h.combine(cut)
        h.combine(pairs)
        return h.finalize()
    }

    /// What produced the bytes write `write` (event `event`) leaves: the event, or its torn pattern.
    private func writeSource(_ state: CrashState, write i: Int, event idx: Int) -> Int {
        state.torn?.write == i ? -(idx + 1) * 1_000_003 - state.torn!.sectors.reduce(0) { $0 * 4 + Int($1) } : idx
    }
}

/// A 64-bit mixing function (splitmix64's finalizer): distinct inputs give outputs that look
/// independent, so sums of them stand for sets.
func mix64(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}
