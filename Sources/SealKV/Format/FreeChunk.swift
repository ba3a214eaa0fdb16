/// The key of one chunk of the free-page tree: the txnid that freed the pages (big-endian, so keys
/// sort by txnid) and a sequence number within that commit.
struct FreeChunkKey: Comparable, Hashable {
    static let size = FileFormat.freeChunkKeySize
    var txnID: UInt64
    var sequence: UInt32

    var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: Self.size)
        for i in 0..<8 { out[i] = UInt8(truncatingIfNeeded: txnID >> (56 - 8 * UInt64(i))) }
        for i in 0..<4 { out[8 + i] = UInt8(truncatingIfNeeded: sequence >> (24 - 8 * UInt32(i))) }
        return out
    }

    init(txnID: UInt64, sequence: UInt32) {
        self.txnID = txnID
        self.sequence = sequence
    }

    init?(bytes: UnsafeRawBufferPointer) {
        guard bytes.count == Self.size else { return nil }
        txnID = bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
        sequence = bytes[8..<12].reduce(0) { $0 << 8 | UInt32($1) }
    }

    static func < (a: Self, b: Self) -> Bool { (a.txnID, a.sequence) < (b.txnID, b.sequence) }
}

/// Pages freed by one commit (a chunk of at most ``FileFormat/freeChunkCapacity``), sorted ascending.
struct FreeChunk {
    var key: FreeChunkKey
    var pages: [UInt64]

    /// Decodes and validates one entry of the free-page tree, for a store whose high-water mark is
    /// `pageCount`: a well-formed key, a value of 1 to ``FileFormat/freeChunkCapacity`` page numbers,
    /// each a data page below the high-water mark, strictly ascending. The one place these rules
    /// are written: the writer's loader and `check` both use it.
    static func decode(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, pageCount: UInt64) -> Result<FreeChunk, Problem> {
        guard let chunkKey = FreeChunkKey(bytes: key), value.count % 8 == 0, value.count > 0,
              value.count / 8 <= FileFormat.freeChunkCapacity else {
            return .failure(.malformed)
        }
        var pages: [UInt64] = []
        pages.reserveCapacity(value.count / 8)
        for j in 0..<(value.count / 8) {
            let p = value.baseAddress!.u64(8 * j)
            guard p >= FileFormat.firstDataPage, p < pageCount else { return .failure(.outOfRange(p)) }
            if let last = pages.last, p <= last { return .failure(.outOfOrder(p)) }
            pages.append(p)
        }
        return .success(FreeChunk(key: chunkKey, pages: pages))
    }

    /// What is wrong with a free-page tree entry.
    enum Problem: Error, Equatable {
        /// The key is not 12 bytes, or the value is not a whole, bounded number of page numbers.
        case malformed
        /// It lists a page outside the data pages below the high-water mark.
        case outOfRange(UInt64)
        /// Its page numbers do not strictly ascend.
        case outOfOrder(UInt64)
    }

    var valueBytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: pages.count * 8)
        out.withUnsafeMutableBytes { b in for (i, p) in pages.enumerated() { b.baseAddress!.setU64(8 * i, p) } }
        return out
    }
}

