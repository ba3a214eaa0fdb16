/// Values too large for a leaf cell live in a chain of overflow pages, each holding up to
/// ``FileFormat/overflowCapacity`` bytes and a Merkle link to the next. Every page of a chain but
/// the last is full, and the chain's bytes add up to the length its leaf records.
///
/// ``inspect(_:link:length:before:)`` holds these rules once; reading, freeing, rewriting and
/// `check` all follow a chain through it.
enum OverflowChain {
    /// What is wrong with one page of a chain.
    enum Problem: Error, Equatable {
        case notOverflowPage
        /// The page holds an impossible number of bytes.
        case impossibleLength(Int)
        /// A page before the last is not full.
        case shortPage(Int)
        /// The chain holds more bytes than its leaf records.
        case tooLong
        /// The chain ends before it holds the recorded length.
        case tooShort(bytes: UInt64)

        /// The message, about the page at fault (or, for `tooShort`, the chain's first page).
        var message: String {
            switch self {
            case .notOverflowPage: "is not an overflow page but is linked from an overflow chain"
            case .impossibleLength(let n): "is an overflow page holding an impossible \(n) bytes"
            case .shortPage(let n): "is a non-final overflow page holding only \(n) bytes"
            case .tooLong: "makes its overflow chain longer than the value's recorded length"
            case .tooShort(let bytes): "starts an overflow chain shorter than its recorded length (\(bytes) bytes)"
            }
        }
    }

    /// Checks one page of a chain of `length` bytes of which `before` came in earlier pages.
    /// Returns the bytes this page holds and the link to the next page (`.none` after the last).
    static func inspect(_ p: UnsafeRawPointer, link: PageLink, length: UInt64, before: UInt64) -> Result<(bytes: Int, next: PageLink), Problem> {
        guard p.u8(FileFormat.nodeKind) == PageKind.overflow.rawValue else { return .failure(.notOverflowPage) }
        let n = Int(p.u32(FileFormat.overflowLength))
        guard n >= 1, n <= FileFormat.overflowCapacity else { return .failure(.impossibleLength(n)) }
        guard before + UInt64(n) <= length else { return .failure(.tooLong) }
        let next = PageLink(from: p, at: FileFormat.overflowNext)
        if !next.isNone && n != FileFormat.overflowCapacity { return .failure(.shortPage(n)) }
        if next.isNone && before + UInt64(n) != length { return .failure(.tooShort(bytes: before + UInt64(n))) }
        return .success((n, next))
    }

    /// Follows the chain from `first` (of `length` bytes), calling `visit` with each page's link,
    /// plaintext and data bytes (under a cache lock: it must be short).
    static func walk(first: PageLink, length: UInt64, in pages: PageSpace,
                     _ visit: (PageLink, UnsafeRawPointer, Int) throws(SealKVError) -> Void) throws(SealKVError) {
        guard length <= UInt64(Limits.maxValueLength), length > 0 else {
            throw SealKVError.corrupted(page: first.page, "starts an overflow chain claiming an impossible \(length) bytes")
        }
        var link = first
        var before: UInt64 = 0
        while !link.isNone {
            let current = link
            let (n, next) = try pages.withPage(current) { (p) throws(SealKVError) -> (Int, PageLink) in
                switch inspect(p, link: current, length: length, before: before) {
                case .success(let step):
                    try visit(current, p, step.bytes)
                    return step
                case .failure(.tooShort(let bytes)):
                    throw SealKVError.corrupted(page: first.page, Problem.tooShort(bytes: bytes).message)
                case .failure(let problem):
                    throw SealKVError.corrupted(page: current.page, problem.message)
                }
            }
            before += UInt64(n)
            link = next
        }
    }

    /// The value stored in the chain from `first`, checking every page and the total length.
    static func read(first: PageLink, length: UInt64, from pages: PageSpace) throws(SealKVError) -> [UInt8] {
        guard length <= UInt64(Limits.maxValueLength) else {
            throw SealKVError.corrupted(page: first.page, "starts an overflow chain claiming an impossible \(length) bytes")
        }
        var out = [UInt8](repeating: 0, count: Int(length))
        var filled = 0
        try out.withMutableBytes { (dest) throws(SealKVError) in
            try walk(first: first, length: length, in: pages) { (_, p, n) throws(SealKVError) in
                (dest.baseAddress! + filled).copyMemory(from: p + FileFormat.overflowData, byteCount: n)
                filled += n
            }
        }
        return out
    }

    /// Writes `value` into a new chain and returns the link to its first page.
    static func write(_ value: UnsafeRawBufferPointer, into pages: WriteSpace) -> PageLink {
        let capacity = FileFormat.overflowCapacity
        let count = (value.count + capacity - 1) / capacity
        let allocated = (0..<count).map { _ in pages.allocate() }
        for (i, (_, p)) in allocated.enumerated() {
            let start = i * capacity
            let n = min(capacity, value.count - start)
            p.setU8(FileFormat.nodeKind, PageKind.overflow.rawValue)
            p.setU32(FileFormat.overflowLength, UInt32(n))
            p.setU64(FileFormat.nodeTxnID, pages.txnID)
            let next = i + 1 < count ? pages.link(toDirty: allocated[i + 1].page) : .none
            next.store(to: p, at: FileFormat.overflowNext)
            (p + FileFormat.overflowData).copyMemory(from: value.baseAddress! + start, byteCount: n)
        }
        return pages.link(toDirty: allocated[0].page)
    }

    /// Releases every page of the chain from `first`.
    static func free(first: PageLink, length: UInt64, in pages: WriteSpace) throws(SealKVError) {
        var links: [PageLink] = []
        try walk(first: first, length: length, in: pages) { (link, _, _) throws(SealKVError) in links.append(link) }
        for link in links { pages.release(link.page) }
    }

    /// Copies every committed page of the chain from `first` to a new page (so the commit seals it
    /// afresh), calling `report` once per page; returns the new first link.
    static func rewrite(first: PageLink, length: UInt64, in pages: WriteSpace, report: () -> Void) throws(SealKVError) -> PageLink {
        var copies: [(page: UInt64, pointer: UnsafeMutableRawPointer)] = []
        var links: [PageLink] = []
        try walk(first: first, length: length, in: pages) { (link, _, _) throws(SealKVError) in links.append(link) }
        for link in links {
            copies.append(try pages.touch(link))
            report()
        }
        for (i, c) in copies.enumerated() {
            let next = i + 1 < copies.count ? pages.link(toDirty: copies[i + 1].page) : .none
            next.store(to: c.pointer, at: FileFormat.overflowNext)
        }
        return copies.isEmpty ? .none : pages.link(toDirty: copies[0].page)
    }
}
