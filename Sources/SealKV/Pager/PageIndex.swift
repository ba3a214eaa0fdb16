/// The page cache's directory for one shard: page number → (tag, slot, referenced bit), in one
/// flat open-addressing table with linear probing. A hit reads one 32-byte entry, usually one cache
/// line, to find the slot, check the tag and mark the entry referenced (a `Dictionary` plus
/// per-slot arrays touched three or four lines, each a likely miss when the cache is large).
/// Deletion shifts later entries back instead of leaving tombstones, so probe chains never grow
/// with churn.
struct PageIndex {
    struct Entry {
        var page: UInt64
        var tag: PageTag
        var slot: Int32
        /// CLOCK's second-chance bit: set by a hit, cleared as the hand passes.
        var referenced: Bool
    }
    private static let empty = UInt64.max

    private var entries: [Entry]
    private let mask: Int
    private let shift: UInt64

    /// The same entries in a table for up to `capacity` pages (a cache that grew).
    func resized(capacity: Int) -> PageIndex {
        var bigger = PageIndex(capacity: capacity)
        for entry in entries where entry.page != Self.empty { bigger.insert(entry) }
        return bigger
    }

    /// An index for up to `capacity` pages (the table is kept at most half full).
    init(capacity: Int) {
        var size = 16
        while size < 2 * capacity { size <<= 1 }
        entries = Array(repeating: Entry(page: Self.empty, tag: .zero, slot: -1, referenced: false), count: size)
        mask = size - 1
        shift = OpenAddressing.shift(forSize: size)
    }

    @inline(__always) private func home(_ page: UInt64) -> Int {
        OpenAddressing.home(page, shift: shift)
    }

    /// The position of `page`'s entry, or nil.
    @inline(__always)
    func position(of page: UInt64) -> Int? {
        var i = home(page)
        while true {
            let p = entries[i].page
            if p == page { return i }
            if p == Self.empty { return nil }
            i = (i + 1) & mask
        }
    }

    /// The entry at `position` (from ``position(of:)``; valid until the next insert or remove).
    @inline(__always)
    subscript(position: Int) -> Entry {
        get { entries[position] }
        set { entries[position] = newValue }
    }

    /// Adds an entry for a page not yet present.
    mutating func insert(_ entry: Entry) {
        precondition(entry.page != Self.empty)
        var i = home(entry.page)
        while entries[i].page != Self.empty { i = (i + 1) & mask }
        entries[i] = entry
    }

    /// Forgets `page` if present.
    mutating func remove(_ page: UInt64) {
        guard var i = position(of: page) else { return }
        // Backward-shift deletion: move up every later entry of the chain whose home position
        // does not lie (cyclically) between the hole and itself.
        var j = i
        while true {
            j = (j + 1) & mask
            let page = entries[j].page
            if page == Self.empty { break }
            let k = home(page)
            if !OpenAddressing.stays(hole: i, at: j, home: k) {
                entries[i] = entries[j]
                i = j
            }
        }
        entries[i] = Entry(page: Self.empty, tag: .zero, slot: -1, referenced: false)
    }

    /// Forgets every page.
    mutating func removeAll() {
        for i in entries.indices { entries[i] = Entry(page: Self.empty, tag: .zero, slot: -1, referenced: false) }
    }
}
