/// The invariants of one node, written once: the structure every offset depends on, keys in
/// strictly ascending order, and — given the bounds its parent sets — every key within them.
/// `check` runs them on every page it reads; the tree mutator runs them after every node change
/// in debug builds.
enum NodeInvariants {
    /// The first broken invariant of `node`, or nil. With `lower` and `upper` (the parent's
    /// separators around it; nil for an open bound), every key must lie in `lower ≤ key < upper`.
    static func problem(in node: NodePage, lower: [UInt8]? = nil, upper: [UInt8]? = nil) -> String? {
        if let problem = node.structuralProblem(expectLeaf: nil) { return problem }
        let first = node.isLeaf ? 0 : 1   // entry 0 of a branch stands for −∞
        var previous: UnsafeRawBufferPointer? = nil
        for i in first..<max(first, node.count) {
            let key = node.key(i)
            if let previous, compareBytes(previous, key) >= 0 { return "has keys out of order at entry \(i)" }
            if let lower, lower.withUnsafeBytes({ compareBytes(key, $0) }) < 0 { return "has entry \(i) below its parent's bound" }
            if let upper, upper.withUnsafeBytes({ compareBytes(key, $0) }) >= 0 { return "has entry \(i) at or above its parent's bound" }
            previous = key
        }
        return nil
    }
}
