/// What a full check of a store found.
public struct CheckReport: Sendable {
    /// One thing wrong, with the page it concerns when there is one.
    public struct Problem: Sendable, CustomStringConvertible {
        /// The page at fault, if one page is.
        public let page: UInt64?
        /// What is wrong.
        public let message: String
        /// "page N: message", or the message alone.
        public var description: String { page.map { "page \($0): \(message)" } ?? message }
    }

    /// Everything wrong, in the order found. Empty for a sound store.
    public var problems: [Problem] = []
    /// Findings that do not make the store unsound: a meta slot that does not authenticate (an
    /// interrupted commit leaves exactly this; the next commit rewrites the slot).
    public var warnings: [Problem] = []
    /// The commit checked.
    public var txnID: UInt64 = 0
    /// The high-water mark of that commit: every page below it is reachable or free.
    public var highWaterMark: UInt64 = 0
    /// Per meta slot: its txnid, or nil if it does not authenticate.
    public var metaSlots: [UInt64?] = [nil, nil]
    /// Pages by what they are used for.
    public var pagesByKind: [PageCategory: Int] = [:]
    /// Entries per namespace ("" is the default namespace).
    public var entries: [String: UInt64] = [:]
    /// Depth of the default namespace's tree.
    public var depth: UInt32 = 0
    /// Pages below `minFill` bytes of content (not an error: the rightmost pages of a tree being
    /// appended to are often light).
    public var lightPages = 0

    /// Pages read and authenticated.
    public var pagesRead = 0
    /// Time spent reading and authenticating pages (in batches, in parallel under io_uring).
    public var readTime: Duration = .zero
    /// The whole check's duration.
    public var totalTime: Duration = .zero

    /// True when no problem was found.
    public var isClean: Bool { problems.isEmpty }

    mutating func problem(_ page: UInt64?, _ message: String) {
        problems.append(Problem(page: page, message: message))
    }
}
