extension WriteTransaction {
    /// Copies every live page of every tree (and every overflow chain) to a new page, so the commit
    /// seals all of them afresh. Returns how many pages were rewritten.
    func rewriteEverything(total: Int, progress: ((OperationProgress) -> Void)?) throws(SealKVError) -> Int {
        var count = 0
        func report() {
            count += 1
            if count % 256 == 0 { progress?(OperationProgress(done: count, total: total)) }
        }
        var trees = try namespaces().map { TreeID.namespace($0) }
        trees += [.main, .catalog, .expiry, .freePages]
        for tree in trees {
            try mutate(tree) { (m) throws(SealKVError) in try m.rewriteAll(report) }
            if case .namespace(let name) = tree { changedNamespaces.insert(name) }
        }
        // The file's page count was an estimate (free pages are not rewritten): end at 100%.
        progress?(OperationProgress(done: count, total: count))
        return count
    }
}
