/// A dictionary of at most `capacity` entries that, once full, forgets the key inserted longest ago
/// to make room (the keys in insertion order, as a ring). Giving a key a new value keeps its place.
struct BoundedMemo<Key: Hashable, Value> {
    private var entries: [Key: Value] = [:]
    private var order: [Key] = []
    private var next = 0
    /// How many entries it holds at most.
    let capacity: Int

    /// An empty memo of at most `capacity` entries.
    init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    /// The value remembered for `key`, if any.
    subscript(key: Key) -> Value? { entries[key] }

    /// Every value remembered, in no order.
    var values: Dictionary<Key, Value>.Values { entries.values }

    /// Remembers `value` for `key`, forgetting the oldest key when full.
    mutating func insert(_ value: Value, for key: Key) {
        guard entries.updateValue(value, forKey: key) == nil else { return }
        if order.count < capacity {
            order.append(key)
        } else {
            entries[order[next]] = nil
            order[next] = key
            next = (next + 1) % capacity
        }
    }
}

extension BoundedMemo: Sendable where Key: Sendable, Value: Sendable {}
