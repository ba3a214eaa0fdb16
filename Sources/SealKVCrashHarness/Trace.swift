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

/// Names for page contents that the crash states share (``PageStorage/contentIdentity(ofPage:)``):
/// equal names for the same page number mean equal bytes across every trace of a process. A
/// trace's page images never change once recorded, and each trace has its own number.
enum ContentIdentity {
    /// A page of zeros (past the end of an image that a write or resize extended).
    static let zeros: UInt64 = 1
    /// Bytes no identity names (a torn page): recovery reads them.
    static let unnamed: UInt64 = 0
    private static let traces = Locked<UInt64>(0)

    /// A number no other trace of this process has.
    static func newTrace() -> UInt64 { traces.withLock { $0 += 1; return $0 } }
    /// Any page of the bytes trace `trace` started from.
    static func initial(trace: UInt64) -> UInt64 { trace << 40 }
    /// Page image `image` of trace `trace`.
    static func image(_ image: Int, trace: UInt64) -> UInt64 { trace << 40 | UInt64(image + 2) }
}

/// A storage backend that records every write, resize and sync, keeping every page image, while
/// behaving like memory storage. The store under test is unchanged: it plugs in through
/// `PageStorage`, the only path its bytes take to disk.
final class RecordingStorage: PageStorage, @unchecked Sendable {
    private struct State {
        /// The file as every write so far left it (what the same machine sees).
        var image: DurableImage
        var images: [[UInt8]] = []
        var events: [TraceEvent] = []
    }
    private let state: Locked<State>
    /// The bytes the storage started with (durable before the first event).
    let initialBytes: [UInt8]
    /// This trace's number in its pages' content identities.
    let trace: UInt64

    init(bytes: [UInt8] = []) {
        trace = ContentIdentity.newTrace()
        initialBytes = bytes
        state = Locked(State(image: DurableImage(initial: bytes, trace: trace)))
    }

    /// ``initialBytes`` with the content identity of each of its pages.
    var initialImage: DurableImage { DurableImage(initial: initialBytes, trace: trace) }

    var pageCount: UInt64 { state.withLock { $0.image.pageCount } }
    var engineName: String { "recording" }
    var events: [TraceEvent] { state.withLock { $0.events } }
    var images: [[UInt8]] { state.withLock { $0.images } }
    var bytes: [UInt8] { state.withLock { $0.image.bytes } }

    func mark(_ event: TraceEvent) { state.withLock { $0.events.append(event) } }

    func page(_ n: UInt64) -> [UInt8] {
        state.withLock { s in
            let start = Int(n) * FileFormat.pageSize
            guard start + FileFormat.pageSize <= s.image.bytes.count else { return [UInt8](repeating: 0, count: FileFormat.pageSize) }
            return Array(s.image.bytes[start..<(start + FileFormat.pageSize)])
        }
    }

    func readPage(_ number: UInt64, into buffer: UnsafeMutableRawPointer) throws(SealKVError) {
        let ok = state.withLock { s in
            let start = Int(number) * FileFormat.pageSize
            guard start + FileFormat.pageSize <= s.image.bytes.count else { return false }
            s.image.bytes.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress! + start, byteCount: FileFormat.pageSize) }
            return true
        }
        if !ok { throw SealKVError(.corrupted, "page \(number) lies beyond the end of the store.", page: number) }
    }

    func writePages(_ writes: [PageWrite], sync: Bool) throws(SealKVError) {
        state.withLock { s in
            for w in writes {
                s.images.append(Array(UnsafeRawBufferPointer(start: w.bytes, count: FileFormat.pageSize)))
                let event = TraceEvent.write(page: w.page, image: s.images.count - 1)
                s.events.append(event)
                s.image.apply(event, images: s.images, trace: trace)
            }
            if sync { s.events.append(.sync) }
        }
    }

    func sync() throws(SealKVError) { state.withLock { $0.events.append(.sync) } }

    func resize(toPages pages: UInt64) throws(SealKVError) {
        state.withLock { s in
            s.events.append(.resize(pages: pages))
            s.image.apply(.resize(pages: pages), images: s.images, trace: trace)
        }
    }

    func close() {}
}

/// The file as it stands at a sync barrier: its bytes and the content identity of each page.
struct DurableImage {
    var bytes: [UInt8]
    var identities: [UInt64]

    init(bytes: [UInt8], identities: [UInt64]) {
        self.bytes = bytes
        self.identities = identities
    }

    /// The bytes trace `trace` started from, each page under the trace's "initial" name.
    init(initial bytes: [UInt8], trace: UInt64) {
        self.init(bytes: bytes, identities: Array(repeating: ContentIdentity.initial(trace: trace), count: bytes.count / FileFormat.pageSize))
    }

    var pageCount: UInt64 { UInt64(bytes.count / FileFormat.pageSize) }

    /// Makes one event of trace `trace` durable (or, for the recording, written).
    mutating func apply(_ event: TraceEvent, images: [[UInt8]], trace: UInt64) {
        switch event {
        case .write(let page, let image):
            let end = (Int(page) + 1) * FileFormat.pageSize
            if end > bytes.count { resize(toPages: page + 1) }
            bytes.replaceSubrange((Int(page) * FileFormat.pageSize)..<end, with: images[image])
            identities[Int(page)] = ContentIdentity.image(image, trace: trace)
        case .resize(let pages):
            resize(toPages: pages)
        default: break
        }
    }

    private mutating func resize(toPages pages: UInt64) {
        let size = Int(pages) * FileFormat.pageSize
        if size < bytes.count { bytes.removeLast(bytes.count - size) } else { bytes.append(contentsOf: [UInt8](repeating: 0, count: size - bytes.count)) }
        if Int(pages) < identities.count { identities.removeLast(identities.count - Int(pages)) }
        else { identities.append(contentsOf: repeatElement(ContentIdentity.zeros, count: Int(pages) - identities.count)) }
    }
}

/// A crash state: the durable image at a barrier plus the pages an epoch's persisted writes
/// changed. Read-only; nothing is copied but the changed pages. It names each page's bytes
/// (``ContentIdentity``), except a torn page's, so recovery need not read a page it verified in
/// another state.
final class OverlayStorage: PageStorage, @unchecked Sendable {
    let base: DurableImage

    /// The trace's page images, which most persisted writes leave whole.
    private let images: [[UInt8]]

    /// What the persisted writes changed. One value, so that building a state (hundreds of writes)
    /// takes one access to the object per write rather than one per field.
    private struct Layer {
        /// The file's size in pages in this state.
        var pages: UInt64
        /// Pages below this still hold the base's bytes: a shrink lowers it, and the pages a later
        /// growth adds back read as zeros, as a file's would.
        var baseLimit: UInt64
        /// By page number: the slot of the bytes the epoch's persisted writes left there, or -1
        /// where the base's show.
        var slots: [Int32] = []
        /// Per slot: the bytes' source (an index into the images, or -1 - an index into ``own``)
        /// and their content identity.
        var sources: [Int32] = []
        var identities: [UInt64] = []
        /// The page numbers that persisted writes changed, each once.
        var changed: [UInt64] = []
        /// Bytes that are no image of the trace (torn pages).
        var own: [[UInt8]] = []

        func slot(_ n: UInt64) -> Int? {
            guard n < slots.count else { return nil }
            let s = slots[Int(n)]
            return s < 0 ? nil : Int(s)
        }

        /// The content identity of page `n` over a base whose pages are named `base`, or nil for
        /// a torn page or one past the end. (A method, so that the hot lookup reads the layer in
        /// place instead of copying it.)
        func identity(ofPage n: UInt64, base: [UInt64]) -> UInt64? {
            guard n < pages else { return nil }
            if let s = slot(n) {
                let known = identities[s]
                return known == ContentIdentity.unnamed ? nil : known
            }
            return n < baseLimit ? base[Int(n)] : ContentIdentity.zeros
        }

        mutating func write(_ n: UInt64, source: Int32, identity: UInt64, basePages: UInt64) {
            if n >= slots.count { slots.append(contentsOf: repeatElement(-1, count: Int(max(n + 1, pages, basePages)) - slots.count)) }
            if let s = slot(n) {
                sources[s] = source
                identities[s] = identity
            } else {
                slots[Int(n)] = Int32(sources.count)
                sources.append(source)
                identities.append(identity)
                changed.append(n)
            }
            pages = max(pages, n + 1)
        }

        mutating func resize(to newPages: UInt64, basePages: UInt64) {
            pages = newPages
            baseLimit = min(baseLimit, newPages)
            guard changed.contains(where: { $0 >= newPages }) else { return }
            let kept = changed.filter { $0 < newPages }.map { ($0, sources[slot($0)!], identities[slot($0)!]) }
            for n in changed { slots[Int(n)] = -1 }
            sources = []
            identities = []
            changed = []
            for (n, source, identity) in kept { write(n, source: source, identity: identity, basePages: basePages) }
            pages = newPages
        }
    }

    private var layer: Layer

    /// The durable `base`, `pages` long, before any write; `images` are the trace's page images
    /// that ``write(_:image:identity:)`` refers to.
    init(base: DurableImage, pages: UInt64, images: [[UInt8]] = []) {
        self.base = base
        self.images = images
        layer = Layer(pages: pages, baseLimit: base.pageCount)
    }

    /// The file's size in pages in this state.
    var pages: UInt64 { layer.pages }
    /// Pages below this still hold the base's bytes (see ``resize(to:)``).
    var baseLimit: UInt64 { layer.baseLimit }
    /// The page numbers that persisted writes changed, each once.
    var changed: [UInt64] { layer.changed }
    var pageCount: UInt64 { layer.pages }
    var engineName: String { "crash-state" }

    /// The bytes a persisted write left at page `n`, or nil where the base's show.
    func overlaid(_ n: UInt64) -> [UInt8]? {
        guard let s = layer.slot(n) else { return nil }
        let source = Int(layer.sources[s])
        return source >= 0 ? images[source] : layer.own[-1 - source]
    }

    /// Page `n` as a persisted write left it whole: trace image `image`, named by `identity`.
    /// Grows the file to hold it.
    func write(_ n: UInt64, image: Int, identity: UInt64) {
        precondition(image < images.count)
        layer.write(n, source: Int32(image), identity: identity, basePages: base.pageCount)
    }

    /// Page `n` as `bytes`, named by `identity` (``ContentIdentity/unnamed`` for a torn page).
    /// Grows the file to hold it.
    func write(_ n: UInt64, _ bytes: [UInt8], identity: UInt64) {
        layer.own.append(bytes)
        layer.write(n, source: Int32(-layer.own.count), identity: identity, basePages: base.pageCount)
    }

    /// The file cut or grown to `pages` pages; persisted writes past the end are gone.
    func resize(to pages: UInt64) {
        layer.resize(to: pages, basePages: base.pageCount)
    }

    /// The bytes of page `n` in this state.
    func page(_ n: UInt64) -> [UInt8] {
        if let o = overlaid(n) { return o }
        let start = Int(n) * FileFormat.pageSize
        guard n < pages, n < baseLimit else { return [UInt8](repeating: 0, count: FileFormat.pageSize) }
        return Array(base.bytes[start..<(start + FileFormat.pageSize)])
    }

    /// The whole file as bytes.
    func materialize() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(pages) * FileFormat.pageSize)
        let n = min(Int(baseLimit) * FileFormat.pageSize, out.count)
        out.replaceSubrange(0..<n, with: base.bytes[0..<n])
        for p in changed {
            out.replaceSubrange((Int(p) * FileFormat.pageSize)..<((Int(p) + 1) * FileFormat.pageSize), with: overlaid(p)!)
        }
        return out
    }

    /// Names exactly the bytes ``readPage(_:into:)`` gives for `number`.
    func contentIdentity(ofPage number: UInt64) -> UInt64? {
        layer.identity(ofPage: number, base: base.identities)
    }

    func readPage(_ number: UInt64, into buffer: UnsafeMutableRawPointer) throws(SealKVError) {
        guard number < pages else { throw SealKVError(.corrupted, "page \(number) lies beyond the end of the store.", page: number) }
        if let o = overlaid(number) {
            o.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: FileFormat.pageSize) }
            return
        }
        let start = Int(number) * FileFormat.pageSize
        if number < baseLimit {
            base.bytes.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress! + start, byteCount: FileFormat.pageSize) }
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
        for page in baseMismatches(reference) where page < state.pages && state.overlaid(page) == nil {
            note(page)
            break
        }
        // Cut and grown again within the state: those pages are zeros, never a sealed page.
        if state.baseLimit < pageCount {
            for page in reference.pages.keys where page >= state.baseLimit && page < state.pages && state.overlaid(page) == nil { note(page) }
        }
        for page in state.changed {
            if let expected = reference.pages[page], expected != state.overlaid(page)! { note(page) }
        }
        return worst
    }
}
