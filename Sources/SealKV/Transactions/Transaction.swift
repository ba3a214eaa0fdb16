import Synchronization

/// What every transaction shares: the snapshot it reads, and authenticated page access that sees
/// the writer's own dirty pages first.
///
/// Transactions are not `Sendable`: one lives on the thread that runs its closure, and it, its
/// namespace handles, cursors and sequences are valid only inside that closure. Methods that can
/// throw fail with `transactionClosed` afterwards; accessors that cannot (a cursor's key, the next
/// entry of a sequence) stop the program, since an empty answer would be indistinguishable from
/// an empty store.
public class Transaction {
    let database: Database
    let pager: Pager
    /// The committed state this transaction started from.
    let base: CommitState
    /// The meta header that went with `base` (set for read transactions).
    var baseHeader: StoreHeader?
    /// The default namespace's tree (changed in place by a writer).
    var mainTree: TreeDescriptor
    /// The catalog of named namespaces (changed in place by a writer).
    var catalog: TreeDescriptor
    /// The index of expiring entries (changed in place by a writer).
    var expiryTree: TreeDescriptor
    /// The transaction's time, in Unix milliseconds: entries expiring at or before it read as
    /// absent for the transaction's whole life. Read from the clock the first time the transaction
    /// needs it (an entry or a put with a time to live), then fixed; most transactions never do,
    /// and a clock read was a tenth of an empty transaction's cost.
    public final var now: UInt64 {
        if let clockReading { return clockReading }
        let t = database.options.clock()
        clockReading = t
        return t
    }
    private final var clockReading: UInt64?
    /// Named trees looked up so far, by name (changed in place by a writer).
    var namedTrees: [String: TreeDescriptor] = [:]
    /// Namespaces a writer dropped in this transaction: gone, whatever the catalog still says.
    var droppedNamespaces: Set<String> = []
    /// The writer's txnid; links carrying it name dirty pages. `UInt64.max` for readers.
    let writeTxnID: UInt64
    /// The writer's pages changed in this transaction, in plaintext.
    var dirty: [UInt64: UnsafeMutableRawPointer] = [:]
    /// A page buffer for cache misses, taken from the pool on the first miss (a read that finds
    /// every page cached never touches the pool).
    private var scratchBuffer: UnsafeMutableRawPointer?
    var scratch: UnsafeMutableRawPointer {
        if let scratchBuffer { return scratchBuffer }
        let b = pager.buffers.take()
        scratchBuffer = b
        return b
    }
    /// Bumped by every change, so cursors notice the tree moved under them.
    var version = 0
    var isOpen = true
    /// The first error an iterator met; rethrown when the transaction's closure returns.
    var deferredError: SealKVError?

    init(database: Database, base: CommitState, writeTxnID: UInt64) {
        self.database = database
        pager = database.pager
        self.base = base
        mainTree = base.main
        catalog = base.catalog
        expiryTree = base.expiry
        self.writeTxnID = writeTxnID
    }

    deinit {
        if let scratchBuffer { pager.buffers.give(scratchBuffer) }
        if !dirty.isEmpty { releaseDirtyPages() }
    }

    /// Runs `body` on the plaintext of the page `link` names.
    @inline(__always)
    func withPage<R>(_ link: PageLink, _ body: (UnsafeRawPointer) throws(SealKVError) -> R) throws(SealKVError) -> R {
        if link.txnID == writeTxnID {
            guard let p = dirty[link.page] else {
                throw SealKVError(.corrupted, "internal error: page \(link.page) is linked as written by this transaction but is not in its dirty set", page: link.page)
            }
            return try body(UnsafeRawPointer(p))
        }
        return try pager.withPage(link, scratch: scratch, body)
    }

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

    /// The tree of namespace `name` ("" is the default namespace), or nil if it does not exist.
    func tree(named name: String) throws(SealKVError) -> TreeDescriptor? {
        if name.isEmpty { return mainTree }
        if name == Cursor.freeTreeNamespace { return (self as? WriteTransaction)?.freeTree ?? base.free }
        if name == Cursor.catalogNamespace { return catalog }
        if name == Cursor.expiryNamespace { return expiryTree }
        if let t = namedTrees[name] { return t }
        if droppedNamespaces.contains(name) { return nil }
        guard let location = try Array(name.utf8).withBytes({ (k) throws(SealKVError) in try locate(catalog, key: k) }) else {
            return nil
        }
        let bytes = try value(at: location)
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

    /// Gives the dirty pages' buffers back to the pool (once a commit has written and cached them).
    func releaseDirtyPages() {
        for (_, p) in dirty { pager.buffers.give(p) }
        dirty.removeAll()
    }
}
