@testable import SealKV
import Testing

@Suite("Reader table")
struct ReaderTableTests {
    /// Random registrations and removals, mostly on the newest snapshot as real reads are, against a
    /// plain list of the live readers: the count and the oldest snapshot must always agree.
    @Test func agreesWithAListOfLiveReaders() {
        var rng = SystemRandomNumberGenerator()
        var table = ReaderTable()
        var live: [(slot: Int, txnID: UInt64)] = []
        var newest: UInt64 = 1
        for step in 0..<20_000 {
            if Int.random(in: 0..<10, using: &rng) == 0 { newest += 1 }
            if live.isEmpty || Bool.random(using: &rng) {
                let txn = Int.random(in: 0..<5, using: &rng) == 0 ? UInt64.random(in: 1...newest, using: &rng) : newest
                live.append((table.register(ReaderInfo(txnID: txn, started: UInt64(step))), txn))
            } else {
                let i = Int.random(in: 0..<live.count, using: &rng)
                table.remove(live.remove(at: i).slot)
            }
            #expect(table.count == live.count)
            #expect(table.oldest == live.map(\.txnID).min(), "step \(step)")
            if table.oldest != live.map(\.txnID).min() { return }
        }
        #expect(Set(table.values.map(\.txnID)) == Set(live.map(\.txnID)))
    }
}
