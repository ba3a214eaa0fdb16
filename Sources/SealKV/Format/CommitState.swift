/// The sealed part of a meta slot: which commit this is and where its trees are.
package struct CommitState: Equatable, Sendable {
    package var txnID: UInt64
    /// High-water mark: every page below it is reachable or free.
    package var pageCount: UInt64
    /// The newest commit known to be durable when this one was written: recovery authenticates
    /// every page written after it (in the sync modes it is always `txnID - 1`).
    var durableTxnID: UInt64 = 0
    var main: TreeDescriptor
    var catalog: TreeDescriptor
    var free: TreeDescriptor
    /// Index of entries with a time to live, by expiry time.
    var expiry: TreeDescriptor
    /// The rekey this commit is part of, while one is in progress.
    var rekey: RekeyProgress? = nil

    static func initial() -> CommitState {
        CommitState(txnID: 0, pageCount: FileFormat.firstDataPage, main: .empty, catalog: .empty, free: .empty, expiry: .empty)
    }

    func store(to p: UnsafeMutableRawPointer) {
        p.setU64(FileFormat.metaTxnID, txnID)
        p.setU64(FileFormat.metaPageCount, pageCount)
        p.setU64(FileFormat.metaDurableTxnID, durableTxnID)
        main.store(to: p, at: FileFormat.metaMainTree)
        catalog.store(to: p, at: FileFormat.metaCatalogTree)
        free.store(to: p, at: FileFormat.metaFreeTree)
        expiry.store(to: p, at: FileFormat.metaExpiryTree)
        rekey?.store(to: p)
    }

    init(txnID: UInt64, pageCount: UInt64, main: TreeDescriptor, catalog: TreeDescriptor, free: TreeDescriptor, expiry: TreeDescriptor) {
        self.txnID = txnID
        self.pageCount = pageCount
        self.main = main
        self.catalog = catalog
        self.free = free
        self.expiry = expiry
    }

    init(from p: UnsafeRawPointer) {
        txnID = p.u64(FileFormat.metaTxnID)
        pageCount = p.u64(FileFormat.metaPageCount)
        durableTxnID = p.u64(FileFormat.metaDurableTxnID)
        main = TreeDescriptor(from: p, at: FileFormat.metaMainTree)
        catalog = TreeDescriptor(from: p, at: FileFormat.metaCatalogTree)
        free = TreeDescriptor(from: p, at: FileFormat.metaFreeTree)
        expiry = TreeDescriptor(from: p, at: FileFormat.metaExpiryTree)
        rekey = RekeyProgress(from: p)
    }

    /// The roots every commit starts its walks from, in sealing order (children before the meta).
    var roots: [(tree: TreeID, descriptor: TreeDescriptor)] {
        TreeID.builtIn.map { ($0, self[tree: $0]) }
    }

    /// The descriptor of a built-in tree (named namespaces live in the catalog, not here).
    subscript(tree tree: TreeID) -> TreeDescriptor {
        get {
            switch tree {
            case .main: main
            case .catalog: catalog
            case .freePages: free
            case .expiry: expiry
            case .namespace: preconditionFailure("a named namespace's root is in the catalog, not the meta slot")
            }
        }
        set {
            switch tree {
            case .main: main = newValue
            case .catalog: catalog = newValue
            case .freePages: free = newValue
            case .expiry: expiry = newValue
            case .namespace: preconditionFailure("a named namespace's root is in the catalog, not the meta slot")
            }
        }
    }
}
