/// A write transaction's changed pages: page number → plaintext buffer, in one flat open-addressing
/// table (linear probing from a multiplicative hash, backward-shift deletion, kept at most half
/// full), like the cache's ``PageIndex``. Every level of every descent a writer makes looks a page
/// up here; a `Dictionary` hashed each lookup with SipHash, about a tenth of a fill's instructions.
/// A value type with copy-on-write storage, so a savepoint keeps its own copy cheaply.
struct DirtyPages: Sequence {
    private static let empty = UInt64.max
    private var pages: [UInt64]
    private var buffers: [UnsafeMutableRawPointer?]
    private var mask: Int
    private var shift: UInt64
    /// Pages held.
    private(set) var count = 0

    init() {
        pages = Array(repeating: Self.empty, count: 16)
        buffers = Array(repeating: nil, count: 16)
        mask = 15
        shift = 60
    }

    var isEmpty: Bool { count == 0 }

    @inline(__always) private func home(_ page: UInt64) -> Int {
        OpenAddressing.home(page, shift: shift)
    }

    @inline(__always) private func position(of page: UInt64) -> Int? {
        var i = home(page)
        while true {
            let p = pages[i]
            if p == page { return i }
            if p == Self.empty { return nil }
            i = (i + 1) & mask
        }
    }

    /// The buffer of `page`, or nil; assigning nil removes it.
    subscript(page: UInt64) -> UnsafeMutableRawPointer? {
        @inline(__always) get { position(of: page).flatMap { buffers[$0] } }
        set {
            if let newValue { insert(page, newValue) } else { _ = removeValue(forKey: page) }
        }
    }

    private mutating func insert(_ page: UInt64, _ buffer: UnsafeMutableRawPointer) {
        precondition(page != Self.empty)
        if let at = position(of: page) {
            buffers[at] = buffer
            return
        }
        if 2 * (count + 1) > pages.count { grow() }
        var i = home(page)
        while pages[i] != Self.empty { i = (i + 1) & mask }
        pages[i] = page
        buffers[i] = buffer
        count += 1
    }

    private mutating func grow() {
        let old = zip(pages, buffers).filter { $0.0 != Self.empty }
        let size = pages.count * 2
        pages = Array(repeating: Self.empty, count: size)
        buffers = Array(repeating: nil, count: size)
        mask = size - 1
        shift = OpenAddressing.shift(forSize: size)
        count = 0
        for (page, buffer) in old { insert(page, buffer!) }
    }

    /// Removes `page` and returns its buffer, if it was there.
    @discardableResult
    mutating func removeValue(forKey page: UInt64) -> UnsafeMutableRawPointer? {
        guard var i = position(of: page) else { return nil }
        let removed = buffers[i]
        // Move up every later entry of the chain whose home does not lie (cyclically) between the
        // hole and itself, so no tombstones are left.
        var j = i
        while true {
            j = (j + 1) & mask
            let p = pages[j]
            if p == Self.empty { break }
            let k = home(p)
            if !OpenAddressing.stays(hole: i, at: j, home: k) {
                pages[i] = p
                buffers[i] = buffers[j]
                i = j
            }
        }
        pages[i] = Self.empty
        buffers[i] = nil
        count -= 1
        return removed
    }

    /// Forgets every page (the buffers are the caller's to give back).
    mutating func removeAll() { self = DirtyPages() }

    /// The page numbers held, in no particular order.
    var keys: [UInt64] { pages.filter { $0 != Self.empty } }

    /// Every (page, buffer), in no particular order.
    func makeIterator() -> some IteratorProtocol<(page: UInt64, buffer: UnsafeMutableRawPointer)> {
        zip(pages, buffers).lazy.filter { $0.0 != Self.empty }.map { (page: $0.0, buffer: $0.1!) }.makeIterator()
    }
}
