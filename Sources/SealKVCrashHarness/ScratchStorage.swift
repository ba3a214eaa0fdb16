import SealKV

/// A writable view of a crash state, for the full check's ordinary (writable) open: what the open
/// writes — a sync, or the meta that retires a refused slot — stays in this view, and nothing of the
/// state is copied except the pages written. Behaves like memory storage holding the state's bytes.
final class ScratchStorage: PageStorage, @unchecked Sendable {
    private let state: OverlayStorage
    private var written: [UInt64: [UInt8]] = [:]
    private var pages: UInt64
    /// Pages below this still hold the state's bytes; a shrink lowers it, and pages a later growth
    /// adds back read as zeros, as a file's would.
    private var stateLimit: UInt64

    init(_ state: OverlayStorage) {
        self.state = state
        pages = state.pages
        stateLimit = state.pages
    }

    var pageCount: UInt64 { pages }
    var engineName: String { "crash-state-scratch" }

    func readPage(_ number: UInt64, into buffer: UnsafeMutableRawPointer) throws(SealKVError) {
        guard number < pages else { throw SealKVError(.corrupted, "page \(number) lies beyond the end of the store.", page: number) }
        if let w = written[number] {
            w.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: FileFormat.pageSize) }
        } else if number < stateLimit {
            try state.readPage(number, into: buffer)
        } else {
            buffer.initializeMemory(as: UInt8.self, repeating: 0, count: FileFormat.pageSize)
        }
    }

    func writePages(_ writes: [PageWrite], sync: Bool) throws(SealKVError) {
        for w in writes {
            written[w.page] = Array(UnsafeRawBufferPointer(start: w.bytes, count: FileFormat.pageSize))
            pages = max(pages, w.page + 1)
        }
    }

    func sync() throws(SealKVError) {}

    func resize(toPages pages: UInt64) throws(SealKVError) {
        if pages < self.pages {
            written = written.filter { $0.key < pages }
            stateLimit = min(stateLimit, pages)
        }
        self.pages = pages
    }

    func close() {}
}
