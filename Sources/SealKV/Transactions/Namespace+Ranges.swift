/// Ordered iteration: half-open and closed ranges (as arguments or as Swift range expressions),
/// prefixes, everything; ascending or descending; with an optional limit. Keys compare as bytes
/// (memcmp), so a range of strings is a range of their UTF-8 bytes, not of `String`'s own order.
extension Namespace {
    /// Entries with `lower <= key < upper`; a nil bound is open.
    public func range<K: ByteString>(from lower: K?, to upper: K?, reverse: Bool = false, limit: Int? = nil) throws(SealKVError) -> KeyValueSequence {
        try transaction.entries(name, lower: bytes(lower), upper: bytes(upper), inclusive: false, reverse: reverse, limit: limit)
    }

    /// Entries with `lower <= key <= upper`; a nil bound is open.
    public func range<K: ByteString>(from lower: K?, through upper: K?, reverse: Bool = false, limit: Int? = nil) throws(SealKVError) -> KeyValueSequence {
        try transaction.entries(name, lower: bytes(lower), upper: bytes(upper), inclusive: true, reverse: reverse, limit: limit)
    }

    /// Entries in `range` (`"a"..<"m"`).
    public func range<K: ByteString & Comparable>(_ range: Range<K>, reverse: Bool = false, limit: Int? = nil) throws(SealKVError) -> KeyValueSequence {
        try self.range(from: range.lowerBound, to: range.upperBound, reverse: reverse, limit: limit)
    }

    /// Entries in `range` (`"a"..."m"`).
    public func range<K: ByteString & Comparable>(_ range: ClosedRange<K>, reverse: Bool = false, limit: Int? = nil) throws(SealKVError) -> KeyValueSequence {
        try self.range(from: range.lowerBound, through: range.upperBound, reverse: reverse, limit: limit)
    }

    /// Entries from `range`'s lower bound on (`"m"...`).
    public func range<K: ByteString & Comparable>(_ range: PartialRangeFrom<K>, reverse: Bool = false, limit: Int? = nil) throws(SealKVError) -> KeyValueSequence {
        try self.range(from: range.lowerBound, to: nil, reverse: reverse, limit: limit)
    }

    /// Entries below `range`'s upper bound (`..<"m"`).
    public func range<K: ByteString & Comparable>(_ range: PartialRangeUpTo<K>, reverse: Bool = false, limit: Int? = nil) throws(SealKVError) -> KeyValueSequence {
        try self.range(from: nil, to: range.upperBound, reverse: reverse, limit: limit)
    }

    /// Entries up to and including `range`'s upper bound (`..."m"`).
    public func range<K: ByteString & Comparable>(_ range: PartialRangeThrough<K>, reverse: Bool = false, limit: Int? = nil) throws(SealKVError) -> KeyValueSequence {
        try self.range(from: nil, through: range.upperBound, reverse: reverse, limit: limit)
    }

    /// Entries whose key starts with `prefix`.
    public func prefix<K: ByteString>(_ prefix: K, reverse: Bool = false, limit: Int? = nil) throws(SealKVError) -> KeyValueSequence {
        let lower = prefix.withBytes { Array($0) }
        return try transaction.entries(name, lower: lower, upper: ReadTransaction.successor(of: lower), inclusive: false, reverse: reverse, limit: limit)
    }

    /// Every entry, in key order.
    public func all(reverse: Bool = false, limit: Int? = nil) throws(SealKVError) -> KeyValueSequence {
        try transaction.entries(name, lower: nil, upper: nil, inclusive: false, reverse: reverse, limit: limit)
    }

    private func bytes<K: ByteString>(_ key: K?) -> [UInt8]? { key.map { $0.withBytes { Array($0) } } }
}

/// The same for the default namespace.
extension ReadTransaction {
    private var main: Namespace { Namespace(transaction: self, name: "") }

    /// Entries with `lower <= key < upper` in the default namespace; a nil bound is open.
    public func range<K: ByteString>(from lower: K?, to upper: K?, reverse: Bool = false, limit: Int? = nil) throws(SealKVError) -> KeyValueSequence {
        try main.range(from: lower, to: upper, reverse: reverse, limit: limit)
    }
    /// Entries with `lower <= key <= upper`; a nil bound is open.
    public func range<K: ByteString>(from lower: K?, through upper: K?, reverse: Bool = false, limit: Int? = nil) throws(SealKVError) -> KeyValueSequence {
        try main.range(from: lower, through: upper, reverse: reverse, limit: limit)
    }
    /// Entries in `range` (`"a"..<"m"`).
    public func range<K: ByteString & Comparable>(_ range: Range<K>, reverse: Bool = false, limit: Int? = nil) throws(SealKVError) -> KeyValueSequence {
        try main.range(range, reverse: reverse, limit: limit)
    }
    /// Entries in `range` (`"a"..."m"`).
    public func range<K: ByteString & Comparable>(_ range: ClosedRange<K>, reverse: Bool = false, limit: Int? = nil) throws(SealKVError) -> KeyValueSequence {
        try main.range(range, reverse: reverse, limit: limit)
    }
    /// Entries from `range`'s lower bound on (`"m"...`).
    public func range<K: ByteString & Comparable>(_ range: PartialRangeFrom<K>, reverse: Bool = false, limit: Int? = nil) throws(SealKVError) -> KeyValueSequence {
        try main.range(range, reverse: reverse, limit: limit)
    }
    /// Entries below `range`'s upper bound (`..<"m"`).
    public func range<K: ByteString & Comparable>(_ range: PartialRangeUpTo<K>, reverse: Bool = false, limit: Int? = nil) throws(SealKVError) -> KeyValueSequence {
        try main.range(range, reverse: reverse, limit: limit)
    }
    /// Entries up to and including `range`'s upper bound (`..."m"`).
    public func range<K: ByteString & Comparable>(_ range: PartialRangeThrough<K>, reverse: Bool = false, limit: Int? = nil) throws(SealKVError) -> KeyValueSequence {
        try main.range(range, reverse: reverse, limit: limit)
    }
    /// Entries of the default namespace whose key starts with `prefix`.
    public func prefix<K: ByteString>(_ prefix: K, reverse: Bool = false, limit: Int? = nil) throws(SealKVError) -> KeyValueSequence {
        try main.prefix(prefix, reverse: reverse, limit: limit)
    }
    /// Every entry of the default namespace, in key order.
    public func all(reverse: Bool = false, limit: Int? = nil) throws(SealKVError) -> KeyValueSequence {
        try main.all(reverse: reverse, limit: limit)
    }
}
