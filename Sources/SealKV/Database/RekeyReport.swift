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
}
