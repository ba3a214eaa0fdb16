/// A read-write transaction: sees its own changes, commits them atomically when its closure
/// returns, and rolls them back if the closure throws.
public final class WriteTransaction: ReadTransaction {
    /// This transaction's pages: its dirty copies and its allocator.
    let space: WriteSpace
    /// The free-page tree (changed only at commit).
    var freeTree: TreeDescriptor
    /// Named namespaces created, changed or dropped in this transaction.
    var changedNamespaces: Set<String> = []
    /// The sealer this commit seals with (a rekey installs a new one).
    var commitSealer: PageSealer
    /// The changes observers of this handle want, or nil when nobody observes.
    var changeLog: ChangeLog?
    /// The rekey in progress this commit records (carried from its base; set and cleared by the rekey).
    var rekey: RekeyProgress?

    init(space: WriteSpace, base: CommitState, configuration: TransactionConfiguration, sealer: PageSealer) {
        self.space = space
        freeTree = base.free
        commitSealer = sealer
        rekey = base.rekey
        super.init(pages: space, base: base, configuration: configuration)
    }

    /// The txnid this transaction commits as.
    var txnID: UInt64 { space.txnID }

    override var asWriter: WriteTransaction? { self }

    override func descriptor(of tree: TreeID) throws(SealKVError) -> TreeDescriptor? {
        tree == .freePages ? freeTree : try super.descriptor(of: tree)
    }

    /// A handle on namespace `name`, created if it does not exist.
    public override func namespace(_ name: String) throws(SealKVError) -> Namespace {
        try createNamespace(name)
    }

    /// Whether the transaction changed nothing at all.
    var isUnchanged: Bool {
        space.dirty.isEmpty && space.allocator.isUnchanged && changedNamespaces.isEmpty && droppedNamespaces.isEmpty
    }

    /// Runs `change` on a mutator of `tree` (an empty one for a namespace not created yet) and
    /// keeps the result; a named namespace whose tree changed is marked for the catalog.
    func mutate<R>(_ tree: TreeID, _ change: (inout TreeMutator) throws(SealKVError) -> R) throws(SealKVError) -> R {
        let before = try descriptor(of: tree) ?? .empty
        var mutator = TreeMutator(before, leafKind: tree.leafKind, in: space)
        let result = try change(&mutator)
        guard mutator.tree != before else { return result }
        switch tree {
        case .main: mainTree = mutator.tree
        case .catalog: catalog = mutator.tree
        case .freePages: freeTree = mutator.tree
        case .expiry: expiryTree = mutator.tree
        case .namespace(let name):
            namedTrees[name] = mutator.tree
            changedNamespaces.insert(name)
            droppedNamespaces.remove(name)
        }
        return result
    }

    /// Runs a change; if it fails part-way the transaction can no longer commit, so the error is
    /// also kept and rethrown when the closure returns.
    func mutating<R>(_ change: () throws(SealKVError) -> R) throws(SealKVError) -> R {
        if let earlier = deferredError { throw earlier }
        pager.borrowBuffersFromCache(dirtyPages: space.dirty.count)
        version &+= 1
        do throws(SealKVError) {
            return try change()
        } catch {
            if deferredError == nil { deferredError = error }
            throw error
        }
    }
}
