/// What a transaction needs from the options it was opened with.
struct TransactionConfiguration: Sendable {
    /// The clock for time-to-live, in Unix milliseconds.
    var clock: @Sendable () -> UInt64
    /// Leaves a cursor reads ahead in one batch when a scan's next leaf is not cached.
    var scanReadAhead: Int
}

/// What every transaction shares: the snapshot it reads, and authenticated page access that sees
/// the writer's own dirty pages first.
///
/// Transactions are not `Sendable`: one lives on the thread that runs its closure, and it, its
/// namespace handles, cursors and sequences are valid only inside that closure. Methods that can
/// throw fail with `transactionClosed` afterwards; accessors that cannot (a cursor's key, the next
/// entry of a sequence) stop the program, since an empty answer would be indistinguishable from
/// an empty store.
///
/// The scalar state below is marked `@exclusivity(unchecked)`: a transaction is used by one thread,
/// never through overlapping accesses to these fields, and the run-time exclusivity check on each
/// read and write of a class's stored property cost about 1 % of a hot get's instructions.
public class Transaction {
    /// The pages this transaction reads (and, for a writer, changes).
    let pages: PageSpace
    let configuration: TransactionConfiguration
    /// The committed state this transaction started from.
    @exclusivity(unchecked) final private(set) var base: CommitState
    /// The meta header that went with `base` (set for read transactions that need it).
    @exclusivity(unchecked) var baseHeader: StoreHeader?
    /// The default namespace's tree (changed in place by a writer).
    @exclusivity(unchecked) var mainTree: TreeDescriptor
    /// The catalog of named namespaces (changed in place by a writer).
    @exclusivity(unchecked) var catalog: TreeDescriptor
    /// The index of expiring entries (changed in place by a writer).
    @exclusivity(unchecked) var expiryTree: TreeDescriptor
    /// The transaction's time, in Unix milliseconds: entries expiring at or before it read as
    /// absent for the transaction's whole life. Read from the clock the first time the transaction
    /// needs it (an entry or a put with a time to live), then fixed; most transactions never do,
    /// and a clock read was a tenth of an empty transaction's cost.
    public final var now: UInt64 {
        if let clockReading { return clockReading }
        let t = configuration.clock()
        clockReading = t
        return t
    }
    @exclusivity(unchecked) private final var clockReading: UInt64?
    /// Named trees looked up so far, by name (changed in place by a writer).
    var namedTrees: [String: TreeDescriptor] = [:]
    /// Namespaces a writer dropped in this transaction: gone, whatever the catalog still says.
    var droppedNamespaces: Set<String> = []
    /// Bumped by every change, so cursors notice the tree moved under them.
    @exclusivity(unchecked) var version = 0
    @exclusivity(unchecked) var isOpen = true
    /// The first error an iterator met; rethrown when the transaction's closure returns.
    @exclusivity(unchecked) var deferredError: SealKVError?

    init(pages: PageSpace, base: CommitState, configuration: TransactionConfiguration) {
        self.pages = pages
        self.configuration = configuration
        self.base = base
        mainTree = base.main
        catalog = base.catalog
        expiryTree = base.expiry
    }

    var pager: Pager { pages.pager }

    func ensureOpen() throws(SealKVError) {
        guard isOpen else {
            throw SealKVError(.transactionClosed, "this transaction has ended; use the transaction only inside its closure.")
        }
    }

    /// For the accessors that cannot throw (a cursor's key, an iterator's next entry): using them
    /// after the transaction ended is a programming error, and answering "nothing" would look like
    /// an empty store, so it stops the program with a message instead.
    func requireOpen(_ what: StaticString, file: StaticString = #file, line: UInt = #line) {
        guard isOpen else {
            fatalError("SealKV: \(what) was used after its transaction ended; use cursors and sequences only inside the read or write closure that made them.", file: file, line: line)
        }
    }

    /// The descriptor of `tree` as this transaction sees it, or nil for a namespace that does not
    /// exist. A writer overrides it for the free-page tree, which only it changes.
    func descriptor(of tree: TreeID) throws(SealKVError) -> TreeDescriptor? {
        switch tree {
        case .main: return mainTree
        case .catalog: return catalog
        case .expiry: return expiryTree
        case .freePages: return base.free
        case .namespace(let name): return try namedTree(name)
        }
    }

    /// The tree of namespace `name` ("" is the default namespace), or nil if it does not exist.
    func tree(named name: String) throws(SealKVError) -> TreeDescriptor? {
        try descriptor(of: TreeID(namespace: name))
    }

    /// A named namespace's descriptor, looked up in the catalog once per transaction.
    private func namedTree(_ name: String) throws(SealKVError) -> TreeDescriptor? {
        if let t = namedTrees[name] { return t }
        if droppedNamespaces.contains(name) { return nil }
        let location = try Array(name.utf8).withBytes { (k) throws(SealKVError) in
            try TreeReader(catalog, in: pages).locate(k, now: { 0 })
        }
        guard let location else { return nil }
        let bytes = try TreeReader.value(at: location, in: pages)
        guard bytes.count == TreeDescriptor.size else {
            throw SealKVError(.corrupted, "the catalog entry for namespace '\(name)' has an impossible size \(bytes.count)")
        }
        let t = bytes.withUnsafeBytes { TreeDescriptor(from: $0.baseAddress!, at: 0) }
        namedTrees[name] = t
        return t
    }

    func finish() {
        isOpen = false
    }

    /// Makes an ended transaction that nothing references any more a new one on `state`, as if
    /// just made: what the last one looked up, read the clock for, or met is forgotten. (The page
    /// space is kept: its pager and key epochs are the caller's to match.)
    final func reopen(on state: CommitState) {
        base = state
        mainTree = state.main
        catalog = state.catalog
        expiryTree = state.expiry
        baseHeader = nil
        clockReading = nil
        if !namedTrees.isEmpty { namedTrees = [:] }
        if !droppedNamespaces.isEmpty { droppedNamespaces = [] }
        version = 0
        deferredError = nil
        isOpen = true
    }
}
