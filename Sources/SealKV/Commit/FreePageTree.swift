/// The free-page tree on disk (section 6 of FORMAT.md) and the writer's copy of it in memory: how
/// the copy is loaded, and how a commit writes its changes back.
enum FreePageTree {
    /// Reads the free-page tree of `tree` through `transaction`, validating every entry.
    static func load(from transaction: Transaction, pageCount: UInt64) throws(SealKVError) -> FreeList {
        var chunks: [FreeChunk] = []
        let cursor = Cursor(transaction: transaction, tree: .freePages)
        var more = try cursor.first()
        while more {
            guard let keyBytes = cursor.key, let value = try cursor.value() else { break }
            let decoded = keyBytes.withUnsafeBytes { k in value.withUnsafeBytes { v in FreeChunk.decode(key: k, value: v, pageCount: pageCount) } }
            switch decoded {
            case .success(let chunk): chunks.append(chunk)
            case .failure(.malformed):
                throw SealKVError(.corrupted, "the free-page list holds a malformed entry; run `sealkv check`.")
            case .failure(.outOfRange(let p)), .failure(.outOfOrder(let p)):
                throw SealKVError(.corrupted, "the free-page list names page \(p), which is out of range or out of order; run `sealkv check`.", page: p)
            }
            more = try cursor.next()
        }
        return FreeList(chunks: chunks)
    }

    /// Rewrites (or removes, when emptied) the chunks this transaction took pages from or trimmed.
    static func writeRewrittenChunks(_ rewritten: [(index: Int, pages: [UInt64])], of list: FreeList, in tx: WriteTransaction) throws(SealKVError) {
        for (index, pages) in rewritten {
            let key = list.chunks[index].key.bytes
            try key.withBytes { (k) throws(SealKVError) in
                if pages.isEmpty {
                    _ = try tx.mutate(.freePages) { (m) throws(SealKVError) in try m.delete(k) }
                } else {
                    let value = FreeChunk(key: list.chunks[index].key, pages: pages).valueBytes
                    try value.withBytes { (v) throws(SealKVError) in
                        _ = try tx.mutate(.freePages) { (m) throws(SealKVError) in try m.put(k, v) }
                    }
                }
            }
        }
    }

    /// Appends chunks listing `pages` (sorted) under this commit's txnid, numbered on from
    /// `added.count`, and records them in `added`.
    static func append(_ pages: [UInt64], in tx: WriteTransaction, added: inout [FreeChunk]) throws(SealKVError) {
        var start = 0
        while start < pages.count {
            let end = min(start + FileFormat.freeChunkCapacity, pages.count)
            let chunk = FreeChunk(key: FreeChunkKey(txnID: tx.txnID, sequence: UInt32(added.count)), pages: Array(pages[start..<end]))
            added.append(chunk)
            try chunk.key.bytes.withBytes { (k) throws(SealKVError) in
                try chunk.valueBytes.withBytes { (v) throws(SealKVError) in
                    _ = try tx.mutate(.freePages) { (m) throws(SealKVError) in try m.put(k, v) }
                }
            }
            start = end
        }
    }
}
