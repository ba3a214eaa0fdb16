extension WriteTransaction {
    /// Everything a rollback to a savepoint restores: the trees, the namespace bookkeeping and the
    /// pages (``WriteSpace/Savepoint``).
    struct Savepoint {
        fileprivate var pages: WriteSpace.Savepoint
        fileprivate var mainTree: TreeDescriptor
        fileprivate var catalog: TreeDescriptor
        fileprivate var expiryTree: TreeDescriptor
        fileprivate var freeTree: TreeDescriptor
        fileprivate var namedTrees: [String: TreeDescriptor]
        fileprivate var droppedNamespaces: Set<String>
        fileprivate var changedNamespaces: Set<String>
        fileprivate var changesRecorded: Int
    }

    /// Marks the transaction as it is now, so the changes that follow can be discarded alone
    /// (several callers' transactions share one commit: a caller whose closure throws loses only
    /// its own changes). Pages dirtied before it are copied, not changed, until it is kept.
    func savepoint() -> Savepoint {
        Savepoint(pages: space.savepoint(), mainTree: mainTree, catalog: catalog, expiryTree: expiryTree, freeTree: freeTree,
                  namedTrees: namedTrees, droppedNamespaces: droppedNamespaces, changedNamespaces: changedNamespaces,
                  changesRecorded: changeLog?.entries.count ?? 0)
    }

    /// Keeps the changes made since the savepoint.
    func keepSavepoint() {
        space.keepSavepoint()
    }

    /// Discards the changes made since `savepoint`, and the error a failed change left.
    func rollback(to savepoint: Savepoint) {
        space.rollback(to: savepoint.pages)
        mainTree = savepoint.mainTree
        catalog = savepoint.catalog
        expiryTree = savepoint.expiryTree
        freeTree = savepoint.freeTree
        namedTrees = savepoint.namedTrees
        droppedNamespaces = savepoint.droppedNamespaces
        changedNamespaces = savepoint.changedNamespaces
        changeLog?.truncate(to: savepoint.changesRecorded)
        deferredError = nil
        version &+= 1
    }
}
