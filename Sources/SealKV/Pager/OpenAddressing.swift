/// The arithmetic the page tables share (the cache's ``PageIndex`` and a writer's ``DirtyPages``):
/// flat power-of-two tables with linear probing from a multiplicative hash of the page number, and
/// deletion by shifting later entries back instead of leaving tombstones.
enum OpenAddressing {
    /// The shift that maps a 64-bit product onto a table of `size` slots (a power of two).
    static func shift(forSize size: Int) -> UInt64 { UInt64(64 - size.trailingZeroBitCount) }

    /// Where `page` starts probing in a table whose ``shift(forSize:)`` is `shift`.
    @inline(__always)
    static func home(_ page: UInt64, shift: UInt64) -> Int {
        Int(truncatingIfNeeded: (page &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// During backward-shift deletion with a hole at `hole`: whether the entry at `at`, whose home is
    /// `home`, stays where it is (its home lies, cyclically, after the hole and not after it).
    @inline(__always)
    static func stays(hole: Int, at: Int, home: Int) -> Bool {
        hole <= at ? (hole < home && home <= at) : (hole < home || home <= at)
    }
}
