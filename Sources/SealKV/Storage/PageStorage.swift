/// One page to write: its number and 4096 bytes of sealed content.
package struct PageWrite {
    package let page: UInt64
    package let bytes: UnsafeRawPointer
    package init(page: UInt64, bytes: UnsafeRawPointer) {
        self.page = page
        self.bytes = bytes
    }
}

/// Where sealed pages live: a file (io_uring or POSIX), memory, or a test double.
///
/// Every byte SealKV stores passes through this protocol (never through a writable mapping), so a
/// recording backend sees every write, resize and sync in issue order.
package protocol PageStorage: AnyObject, Sendable {
    /// The file's size in whole pages.
    var pageCount: UInt64 { get }
    /// A short name of the backend, for statistics ("io_uring", "posix", "memory").
    var engineName: String { get }
    /// How commits' writes reach the backend, for statistics ("pwritev", "io_uring", "memory").
    var writeEngineName: String { get }
    /// Copies page `number` (4096 sealed bytes) into `buffer`. The page must be below `pageCount`.
    func readPage(_ number: UInt64, into buffer: UnsafeMutableRawPointer) throws(SealKVError)
    /// A number naming page `number`'s exact bytes, for storage whose pages are immutable images:
    /// whenever two calls, on this storage or any other sharing an ``AuthenticationCache`` with it,
    /// give the same number for the same page, the page's bytes are the same. nil when the backend
    /// cannot promise that (files and memory, whose pages change: every backend of the store).
    func contentIdentity(ofPage number: UInt64) -> UInt64?
    /// Reads many pages, in parallel where the backend can.
    func readPages(_ numbers: [UInt64], into buffers: [UnsafeMutableRawPointer]) throws(SealKVError)
    /// Writes a batch of pages (one submission where the backend allows it), then, when `sync` is
    /// true, makes them durable.
    func writePages(_ writes: [PageWrite], sync: Bool) throws(SealKVError)
    /// Starts writing these just-written pages to the device without waiting, so a later sync has
    /// less left to do. Only a hint: it makes nothing durable. Backends without a device ignore it.
    func startWriteback(_ writes: [PageWrite])
    /// Makes every completed write durable (fdatasync).
    func sync() throws(SealKVError)
    /// How many syncs reached the device since the backend opened (0 for backends without one).
    var syncCalls: UInt64 { get }
    /// Reads the size again, for a reader whose file another process writes (a no-op elsewhere).
    func refreshSize() throws(SealKVError)
    /// Grows or shrinks the file to `pages` pages.
    func resize(toPages pages: UInt64) throws(SealKVError)
    /// Releases the backend's resources. Further calls fail.
    func close()
}

extension PageStorage {
    package var syncCalls: UInt64 { 0 }
    package var writeEngineName: String { engineName }
    package func startWriteback(_ writes: [PageWrite]) {}

    package func refreshSize() throws(SealKVError) {}
    package func contentIdentity(ofPage number: UInt64) -> UInt64? { nil }

    package func readPages(_ numbers: [UInt64], into buffers: [UnsafeMutableRawPointer]) throws(SealKVError) {
        for (n, b) in zip(numbers, buffers) { try readPage(n, into: b) }
    }
}
