/// A 16-byte Poly1305 tag, held by value.
struct PageTag: Equatable, Hashable, Sendable, CustomStringConvertible {
    var low: UInt64
    var high: UInt64

    static let zero = PageTag(low: 0, high: 0)

    init(low: UInt64, high: UInt64) {
        self.low = low
        self.high = high
    }

    init(from p: UnsafeRawPointer) {
        low = p.loadUnaligned(as: UInt64.self)
        high = p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
    }

    func store(to p: UnsafeMutableRawPointer) {
        p.storeBytes(of: low, as: UInt64.self)
        p.storeBytes(of: high, toByteOffset: 8, as: UInt64.self)
    }

    /// Lower-case hex of the 16 bytes, in file order.
    var description: String {
        var t = self
        return withUnsafeBytes(of: &t) { bytes in
            bytes.map { b in
                let s = String(b, radix: 16)
                return s.count == 1 ? "0" + s : s
            }.joined()
        }
    }
}
