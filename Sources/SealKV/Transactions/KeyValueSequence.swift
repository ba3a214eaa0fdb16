/// Entries of one namespace between two bounds, in key order (or reverse order), produced lazily by
/// a cursor.
///
/// A `for` loop cannot throw: if reading a page fails mid-way, the loop ends early and the error is
/// rethrown when the transaction's closure returns (a write transaction then rolls back). Where the
/// failure should surface at once, use ``forEach(_:)`` or the iterator's ``Iterator/nextEntry()``,
/// which throw where they fail. Like its transaction, a sequence is valid only inside the
/// transaction's closure: iterating it afterwards stops the program rather than yield nothing.
public struct KeyValueSequence: Sequence {
    let transaction: Transaction
    let tree: TreeID
    let lower: [UInt8]?
    let upper: [UInt8]?
    /// Whether `upper` itself is in the range.
    var upperInclusive = false
    let reverse: Bool
    /// At most this many entries.
    var limit: Int? = nil
    /// Yield empty values (for key-only iteration; overflow chains are not read).
    var keysOnly = false

    init(transaction: Transaction, tree: TreeID, lower: [UInt8]?, upper: [UInt8]?, upperInclusive: Bool = false,
         reverse: Bool, limit: Int? = nil, keysOnly: Bool = false) {
        self.transaction = transaction
        self.tree = tree
        self.lower = lower
        self.upper = upper
        self.upperInclusive = upperInclusive
        self.reverse = reverse
        self.limit = limit
        self.keysOnly = keysOnly
    }

    /// An iterator that walks the entries with a cursor.
    public func makeIterator() -> Iterator {
        Iterator(sequence: self)
    }

    /// Calls `body` with every entry in order, throwing at once if a read fails (or `body` throws).
    public func forEach(_ body: (_ key: [UInt8], _ value: [UInt8]) throws -> Void) throws {
        let iterator = makeIterator()
        while let entry = try iterator.nextEntry() { try body(entry.key, entry.value) }
    }

    /// Walks the entries with a ``Cursor``.
    public final class Iterator: IteratorProtocol {
        let sequence: KeyValueSequence
        let cursor: Cursor
        var started = false
        var done = false
        var yielded = 0

        init(sequence: KeyValueSequence) {
            self.sequence = sequence
            cursor = Cursor(transaction: sequence.transaction, tree: sequence.tree)
        }

        /// The next entry, or nil at the end (or after a read error, which the transaction rethrows).
        public func next() -> (key: [UInt8], value: [UInt8])? {
            do throws(SealKVError) {
                return try nextEntry()
            } catch {
                if sequence.transaction.deferredError == nil { sequence.transaction.deferredError = error }
                done = true
                return nil
            }
        }

        /// The next entry, or nil at the end; throws where a read fails.
        public func nextEntry() throws(SealKVError) -> (key: [UInt8], value: [UInt8])? {
            sequence.transaction.requireOpen("a sequence of entries")
            guard !done else { return nil }
            if let limit = sequence.limit, yielded >= limit { return finish() }
            let positioned = started ? (sequence.reverse ? try cursor.previous() : try cursor.next()) : try start()
            started = true
            guard positioned, let key = cursor.key, inRange(key) else { return finish() }
            yielded += 1
            if sequence.keysOnly { return (key, []) }
            guard let value = try cursor.value() else { return finish() }
            return (key, value)
        }

        /// Positions the cursor on the first entry in the direction of travel.
        private func start() throws(SealKVError) -> Bool {
            guard sequence.reverse else {
                if let lower = sequence.lower { return try cursor.seek(to: lower) }
                return try cursor.first()
            }
            guard let upper = sequence.upper else { return try cursor.last() }
            // The last key below the upper bound (or at it, when it is inclusive).
            guard try cursor.seek(to: upper) else { return try cursor.last() }
            if sequence.upperInclusive, let key = cursor.key, compareBytes(key, upper) == 0 { return true }
            return try cursor.previous()
        }

        private func inRange(_ key: [UInt8]) -> Bool {
            if let upper = sequence.upper {
                let c = compareBytes(key, upper)
                if c > 0 || (c == 0 && !sequence.upperInclusive) { return false }
            }
            if let lower = sequence.lower, compareBytes(key, lower) < 0 { return false }
            return true
        }

        private func finish() -> (key: [UInt8], value: [UInt8])? {
            done = true
            return nil
        }
    }
}
