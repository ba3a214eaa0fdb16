/// Progress of a long operation (rekey, backup, compact, check): units done out of an estimated total.
public struct OperationProgress: Sendable {
    /// Units done so far (pages or entries, as the operation counts them).
    public let done: Int
    /// The estimated total; `done` reaches it when the operation finishes.
    public let total: Int
}
