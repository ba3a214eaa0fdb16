/// Progress of a long operation (rekey, backup, compact, check): units done out of an estimated total.
/// The last report of an operation that succeeds has `done == total`.
public struct OperationProgress: Sendable {
    /// Units done so far (pages or entries, as the operation counts them).
    public let done: Int
    /// The units the whole operation takes, as estimated when it reported.
    public let total: Int
}
