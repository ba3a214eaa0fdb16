/// What a rekey did.
public struct RekeyReport: Sendable {
    /// The new key epoch written into every page header.
    public let epoch: UInt32
    /// Live pages re-sealed under the new data key.
    public let pagesResealed: Int
    /// Pages not in the new commit (free, or past its end) overwritten with zeros or cut off the
    /// end of the file, so no image sealed under the old key stays in it.
    public let freePagesScrubbed: Int
    /// Such pages left as they were because a live reader's snapshot could still reach them; they
    /// are overwritten at the first write (or close) after those readers end.
    public let freePagesKept: Int
    /// Commits the re-sealing took (each re-seals a bounded batch of pages).
    public let batches: Int
    /// Whether this call finished a rekey that an earlier one began and did not complete (it was
    /// interrupted, by a crash say); the new data key is then the one that rekey drew.
    public let resumed: Bool
}
