import SealKV

/// One thing the store did to its storage, or one thing the driver observed, in issue order.
enum TraceEvent: Sendable {
    /// A page write: the page and the index of its image in ``RecordingStorage/images``.
    case write(page: UInt64, image: Int)
    /// The file was resized to this many pages.
    case resize(pages: UInt64)
    /// A sync barrier: everything before it is durable.
    case sync
    /// The driver is about to commit this txnid.
    case issued(UInt64)
    /// The commit with this txnid returned successfully.
    case acknowledged(UInt64)
    /// `Database.sync()` returned with this txnid the newest commit (no-sync mode's durability point).
    case synced(UInt64)
}

/// A storage backend that records every write, resize and sync, keeping every page image, while
/// behaving like memory storage. The store under test is unchanged: it plugs in through
/// `PageStorage`, the only path its bytes take to disk.
final class RecordingStorage: PageStorage, @unchecked Sendable {
    private struct State {
        var bytes: [UInt8]
        var images: [[UInt8]] = []
        var events: [TraceEvent] = []
    }
    private let state: Locked<State>
    /// The bytes the storage started with (durable before the first event).
    let initialBytes: [UInt8]

    init(bytes: [UInt8] = []) {
        state = Locked(State(bytes: bytes))
        initialBytes = bytes
    }

    var pageCount: UInt64 { state.withLock { UInt64($0.bytes.count / FileFormat.pageSize) } }
    var engineName: String { "recording" }
    var events: [TraceEvent] { state.withLock { $0.events } }
    var images: [[UInt8]] { state.withLock { $0.images } }
    var bytes: [UInt8] { state.withLock { $0.bytes } }

    func mark(_ event: TraceEvent) { state.withLock { $0.events.append(event) } }

    func page(_ n: UInt64) -> [UInt8] {
        state.withLock { s in
            let start = Int(n) * FileFormat.pageSize
            guard start + FileFormat.pageSize <= s.bytes.count else { return [UInt8](repeating: 0, count: FileFormat.pageSize) }
            return Array(s.bytes[start..<(start + FileFormat.pageSize)])
        }
    }

    func readPage(_ number: UInt64, into buffer: UnsafeMutableRawPointer) throws(SealKVError) {
        let ok = state.withLock { s in
            let start = Int(number) * FileFormat.pageSize
            guard start + FileFormat.pageSize <= s.bytes.count else { return false }
            s.bytes.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress! + start, byteCount: FileFormat.pageSize) }
            return true
        }
        if !ok { throw SealKVError(.corrupted, "page \(number) lies beyond the end of the store.", page: number) }
    }

    func writePages(_ writes: [PageWrite], sync: Bool) throws(SealKVError) {
        state.withLock { s in
            for w in writes {
                let image = Array(UnsafeRawBufferPointer(start: w.bytes, count: FileFormat.pageSize))
                s.images.append(image)
                s.events.append(.write(page: w.page, image: s.images.count - 1))
                let end = (Int(w.page) + 1) * FileFormat.pageSize
                if end > s.bytes.count { s.bytes.append(contentsOf: [UInt8](repeating: 0, count: end - s.bytes.count)) }
                s.bytes.replaceSubrange((Int(w.page) * FileFormat.pageSize)..<end, with: image)
            }
            if sync { s.events.append(.sync) }
        }
    }

    func sync() throws(SealKVError) { state.withLock { $0.events.append(.sync) } }

    func resize(toPages pages: UInt64) throws(SealKVError) {
        state.withLock { s in
            let size = Int(pages) * FileFormat.pageSize
            if size < s.bytes.count { s.bytes.removeLast(s.bytes.count - size) }
            else { s.bytes.append(contentsOf: [UInt8](repeating: 0, count: size - s.bytes.count)) }
            s.events.append(.resize(pages: pages))
        }
    }

    func close() {}
}

/// A crash state: the durable image at a barrier plus the pages an epoch's persisted writes
/// changed. Read-only; nothing is copied but the changed pages.
final class OverlayStorage: PageStorage, @unchecked Sendable {
    let base: [UInt8]
    var overlay: [UInt64: [UInt8]]
    var pages: UInt64

    init(base: [UInt8], overlay: [UInt64: [UInt8]], pages: UInt64) {
        self.base = base
        self.overlay = overlay
        self.pages = pages
    }

    var pageCount: UInt64 { pages }
    var engineName: String { "crash-state" }

    /// The bytes of page `n` in this state.
    func page(_ n: UInt64) -> [UInt8] {
        if let o = overlay[n] { return o }
        let start = Int(n) * FileFormat.pageSize
        guard n < pages, start + FileFormat.pageSize <= base.count else { return [UInt8](repeating: 0, count: FileFormat.pageSize) }
        return Array(base[start..<(start + FileFormat.pageSize)])
    }

    /// The whole file as bytes.
    func materialize() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(pages) * FileFormat.pageSize)
        let n = min(base.count, out.count)
        out.replaceSubrange(0..<n, with: base[0..<n])
        for (p, bytes) in overlay where p < pages {
            out.replaceSubrange((Int(p) * FileFormat.pageSize)..<((Int(p) + 1) * FileFormat.pageSize), with: bytes)
        }
        return out
    }

    func readPage(_ number: UInt64, into buffer: UnsafeMutableRawPointer) throws(SealKVError) {
        guard number < pages else { throw SealKVError(.corrupted, "page \(number) lies beyond the end of the store.", page: number) }
        if let o = overlay[number] {
            o.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: FileFormat.pageSize) }
            return
        }
        let start = Int(number) * FileFormat.pageSize
        if start + FileFormat.pageSize <= base.count {
            base.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress! + start, byteCount: FileFormat.pageSize) }
        } else {
            buffer.initializeMemory(as: UInt8.self, repeating: 0, count: FileFormat.pageSize)
        }
    }

    func writePages(_ writes: [PageWrite], sync: Bool) throws(SealKVError) {
        throw SealKVError(.readOnly, "a crash state is read-only")
    }
    func sync() throws(SealKVError) {}
    func resize(toPages pages: UInt64) throws(SealKVError) { throw SealKVError(.readOnly, "a crash state is read-only") }
    func close() {}
}

#if canImport(Glibc)
import Glibc
#endif

/// The durable image at an epoch's barrier, shared by every crash state of the epoch, with a memo
/// of which pages of each commit reference it already differs from. A state then compares only the
/// pages its own persisted writes changed: the oracle costs O(writes in the state), not O(store).
final class EpochBase {
    let bytes: [UInt8]
    private var mismatches: [UInt64: [UInt64]] = [:]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    private var pageCount: UInt64 { UInt64(bytes.count / FileFormat.pageSize) }

    /// Pages of `reference` whose bytes in the base image differ from the reference's.
    private func baseMismatches(_ reference: CommitReference) -> [UInt64] {
        if let known = mismatches[reference.txnID] { return known }
        var out: [UInt64] = []
        bytes.withUnsafeBytes { b in
            for (page, expected) in reference.pages {
                guard page < pageCount else { out.append(page); continue }
                let same = expected.withUnsafeBytes { memcmp(b.baseAddress! + Int(page) * FileFormat.pageSize, $0.baseAddress!, FileFormat.pageSize) == 0 }
                if !same { out.append(page) }
            }
        }
        out.sort()
        mismatches[reference.txnID] = out
        return out
    }

    /// The lowest-numbered page of `reference` that `state` (this base plus an overlay) does not hold
    /// exactly, or nil when every page matches. Equivalent to comparing every page of the reference.
    func firstDifference(_ reference: CommitReference, in state: OverlayStorage) -> UInt64? {
        var worst: UInt64? = nil
        func note(_ p: UInt64) { if worst == nil || p < worst! { worst = p } }
        if !reference.pages.isEmpty && reference.highestPage >= state.pages {
            for page in reference.pages.keys where page >= state.pages { note(page) }
        }
        for page in baseMismatches(reference) where page < state.pages && state.overlay[page] == nil {
            note(page)
            break
        }
        for (page, bytes) in state.overlay where page < state.pages {
            if let expected = reference.pages[page], expected != bytes { note(page) }
        }
        return worst
    }
}
