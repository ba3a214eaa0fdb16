@testable import SealKV
import Testing
import Foundation

/// Change observation: only committed changes, in commit order, none lost, coalesced for a slow
/// consumer, and the sequence ends when the store closes.
@Suite("Change observation")
struct ObservationTests {
    /// Four writer threads make thousands of group-committed transactions of puts and deletes
    /// inside and outside the observed prefix; some closures throw after writing (their changes
    /// are rolled back to a savepoint and must never be seen). A deliberately slow observer
    /// applies every batch to a dictionary; at the end it must equal the store exactly.
    @Test func aWriterAndAnObserverAgreeAcrossThousandsOfCommits() async throws {
        let (db, _) = try TestSupport.memoryStore()
        try await db.write { tx in for i in 0..<20 { try tx.put("p:\(i)", "initial") } }
        let changes = try await db.observe(prefix: "p:")
        var model: [[UInt8]: [UInt8]] = try await db.read { tx in
            Dictionary(uniqueKeysWithValues: try tx.prefix("p:").map { ($0.key, $0.value) })
        }
        let start = changes.startTxnID
        #expect(start == db.currentTxnID)
        let writersDone = Locked(0)
        let commitsPerWriter = 800
        for w in 0..<4 {
            Thread.detachNewThread {
                var rng = SystemRandomNumberGenerator()
                for n in 0..<commitsPerWriter {
                    let key = "p:\(Int.random(in: 0..<60, using: &rng))"
                    let poison = n % 17 == 0
                    _ = try? db.write { tx in
                        if Bool.random(using: &rng) { try tx.put(key, "w\(w)-\(n)") } else { try tx.delete(key) }
                        try tx.put("other:\(n % 50)", "not observed")
                        if poison {
                            try tx.put("p:poison-\(w)-\(n)", "never committed")
                            struct Abandon: Error {}
                            throw Abandon()
                        }
                    }
                }
                writersDone.withLock { $0 += 1 }
            }
        }
        // Once the writers are done, one last commit marks the end.
        let marker = Task {
            while writersDone.withLock({ $0 }) < 4 { try await Task.sleep(for: .milliseconds(5)) }
            try await db.put("p:~end", "done")
        }
        var batches = 0
        var lastTxn = start
        for await batch in changes {
            batches += 1
            #expect(batch.txnID > lastTxn, "batches arrive in commit order")
            lastTxn = batch.txnID
            #expect(!batch.namespaceDropped)
            for change in batch.changes {
                #expect(change.key.starts(with: Array("p:".utf8)), "a change outside the observed prefix")
                #expect(!change.key.starts(with: Array("p:poison".utf8)), "a rolled-back change was delivered")
                model[change.key] = change.value
            }
            if batches % 50 == 0 { try await Task.sleep(for: .milliseconds(20)) }   // a slow consumer
            if model[Array("p:~end".utf8)] != nil { break }
        }
        try await marker.value
        let stored: [[UInt8]: [UInt8]] = try await db.read { tx in
            Dictionary(uniqueKeysWithValues: try tx.prefix("p:").map { ($0.key, $0.value) })
        }
        #expect(model == stored)
        let commits = Int(db.currentTxnID - start)
        #expect(commits > 500, "the writers made \(commits) commits")
        #expect(batches < commits, "\(batches) batches for \(commits) commits: a slow consumer's changes were not coalesced")
        print("observation: \(commits) commits, \(batches) batches, \(model.count) keys agree")
        changes.cancel()
    }

    @Test func aKeyObserverSeesOnlyItsKeyAndADroppedNamespace() async throws {
        let (db, _) = try TestSupport.memoryStore()
        let key = try await db.observe(key: "k", in: "ns")
        let whole = try await db.observe(namespace: "ns")
        try await db.write { tx in
            try tx.namespace("ns").put("k", "1")
            try tx.namespace("ns").put("kk", "2")
            try tx.put("k", "default namespace")
        }
        try await db.write { tx in try tx.namespace("ns").put("k", "3") }
        var keyIterator = key.makeAsyncIterator()
        let first = await keyIterator.next()
        #expect(first?.changes == [ObservedChange(key: Array("k".utf8), value: Array("3".utf8))], "two commits, coalesced")
        try await db.write { tx in _ = try tx.dropNamespace("ns") }
        var wholeIterator = whole.makeAsyncIterator()
        let both = await wholeIterator.next()
        #expect(both?.namespaceDropped == true && both?.changes == [])
        let dropped = await keyIterator.next()
        #expect(dropped?.namespaceDropped == true)
    }

    @Test func theSequenceEndsWhenTheStoreClosesOrTheTaskIsCancelled() async throws {
        let (db, _) = try TestSupport.memoryStore()
        let changes = try await db.observe(prefix: "")
        let consumer = Task { () -> Int in
            var n = 0
            for await _ in changes { n += 1 }
            return n
        }
        try await db.put("a", "1")
        try await Task.sleep(for: .milliseconds(50))
        db.close()
        let seen = await consumer.value
        #expect(seen <= 1)
        #expect(throws: SealKVError.self) { try db.observe(key: "a") }

        let (other, _) = try TestSupport.memoryStore()
        let observed = try await other.observe(key: "x")
        let waiting = Task { () -> Bool in
            var it = observed.makeAsyncIterator()
            return await it.next() == nil
        }
        try await Task.sleep(for: .milliseconds(20))
        waiting.cancel()
        #expect(await waiting.value, "a cancelled task's iteration ends with nil")
        // Nothing records for an observer that ended.
        try await other.write { tx in try tx.put("x", "1") }
        #expect(try await other.write { tx in tx.changeLog == nil })
    }

    @Test func observingInsideAWriteOrOnAReadOnlyHandleIsAnError() throws {
        let (db, _) = try TestSupport.memoryStore()
        #expect { try db.write { _ in _ = try db.observe(key: "k") } } throws: { ($0 as? SealKVError)?.code == .conflict }
    }
}
