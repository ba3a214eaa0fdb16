@testable import SealKV
import Testing

@Suite("Dirty page table")
struct DirtyPagesTests {
    /// Random inserts, overwrites and removals (clustered page numbers, as allocation gives them,
    /// and far ones) against a `Dictionary`; a copy taken midway (a savepoint) must not change.
    @Test func agreesWithADictionary() {
        var rng = SystemRandomNumberGenerator()
        var table = DirtyPages()
        var model: [UInt64: UnsafeMutableRawPointer] = [:]
        var savedTable: DirtyPages? = nil
        var savedModel: [UInt64: UnsafeMutableRawPointer] = [:]
        for step in 1...30_000 {
            let page = Bool.random(using: &rng) ? UInt64.random(in: 2..<3_000, using: &rng) : UInt64.random(in: 0..<(1 << 40), using: &rng)
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<5:
                let buffer = UnsafeMutableRawPointer(bitPattern: step * 16)!
                table[page] = buffer
                model[page] = buffer
            case 5..<8:
                let victim = model.keys.randomElement(using: &rng) ?? page
                #expect(table.removeValue(forKey: victim) == model.removeValue(forKey: victim))
            default:
                #expect(table[page] == model[page])
            }
            #expect(table.count == model.count)
            if step == 10_000 { (savedTable, savedModel) = (table, model) }
        }
        for (page, buffer) in model { #expect(table[page] == buffer) }
        #expect(Set(table.keys) == Set(model.keys))
        #expect(Dictionary(uniqueKeysWithValues: table.map { ($0.page, $0.buffer) }) == model)
        #expect(Dictionary(uniqueKeysWithValues: savedTable!.map { ($0.page, $0.buffer) }) == savedModel)
        table.removeAll()
        #expect(table.isEmpty && table[2] == nil)
    }
}
