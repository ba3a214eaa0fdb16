/// A range of one namespace whose committed changes someone observes: one key, or every key that
/// starts with a prefix (the empty prefix: the whole namespace).
struct ChangeFilter: Sendable, Hashable {
    let namespace: String
    let prefix: [UInt8]
    /// Only the key equal to `prefix`.
    let exactKey: Bool

    func matches(namespace: String, key: UnsafeRawBufferPointer) -> Bool {
        guard namespace == self.namespace else { return false }
        if exactKey { return key.count == prefix.count && key.elementsEqual(prefix) }
        return key.count >= prefix.count && key.prefix(prefix.count).elementsEqual(prefix)
    }
}

/// What a write transaction changed in observed ranges, in the order it changed them. Kept only
/// while someone observes (the filters are fixed when the transaction starts: observers register
/// holding the writer lock), so writes nobody watches cost one nil check.
struct ChangeLog {
    enum Entry: Sendable {
        /// A key's new value (nil: removed).
        case set(namespace: String, key: [UInt8], value: [UInt8]?)
        /// A namespace and everything in it removed.
        case dropped(namespace: String)
    }

    let filters: [ChangeFilter]
    private(set) var entries: [Entry] = []

    init(filters: [ChangeFilter]) { self.filters = filters }

    mutating func recordSet(namespace: String, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer?) {
        guard filters.contains(where: { $0.matches(namespace: namespace, key: key) }) else { return }
        entries.append(.set(namespace: namespace, key: Array(key), value: value.map { Array($0) }))
    }

    mutating func recordDrop(namespace: String) {
        guard filters.contains(where: { $0.namespace == namespace }) else { return }
        entries.append(.dropped(namespace: namespace))
    }

    /// Forgets what was recorded after the first `count` entries (a rollback to a savepoint).
    mutating func truncate(to count: Int) {
        entries.removeLast(entries.count - count)
    }
}
