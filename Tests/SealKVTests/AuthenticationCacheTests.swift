@testable import SealKV
import Testing

/// The cache of opened pages must give exactly what decryption gives, and nothing decryption
/// would refuse: a hit needs the same kind, number, sealer and every sealed byte.
@Suite("Authentication cache")
struct AuthenticationCacheTests {
    let fileID = randomBytes(count: 16)
    let keys = DataKeys(dataKey: SecureBytes.random(count: 32), epoch: 1)

    func sealedPage(number: UInt64, sealer: PageSealer, fill: UInt8 = 7) -> [UInt8] {
        var page = [UInt8](repeating: 0, count: FileFormat.pageSize)
        for i in FileFormat.bodyStart..<FileFormat.bodyEnd { page[i] = UInt8(truncatingIfNeeded: i &* 31 &+ Int(fill)) }
        _ = page.withUnsafeMutableBytes { sealer.seal(page: $0.baseAddress!, number: number) }
        return page
    }

    func open(_ page: [UInt8], number: UInt64, sealer: PageSealer, cache: AuthenticationCache) -> (Bool, [UInt8]) {
        var copy = page
        let ok = copy.withUnsafeMutableBytes { cache.open(page: $0.baseAddress!, number: number, sealer: sealer) }
        return (ok, copy)
    }

    @Test func aHitGivesWhatDecryptionGives() {
        let sealer = PageSealer(keys: keys, fileID: fileID)
        let cache = AuthenticationCache()
        let sealed = sealedPage(number: 42, sealer: sealer)
        var expected = sealed
        #expect(expected.withUnsafeMutableBytes { sealer.open(page: $0.baseAddress!, number: 42) })
        let first = open(sealed, number: 42, sealer: sealer, cache: cache)
        let second = open(sealed, number: 42, sealer: sealer, cache: cache)
        #expect(first.0 && second.0)
        #expect(first.1 == expected && second.1 == expected)
        #expect(cache.counts.hits == 1 && cache.counts.misses == 1)
    }

    @Test func everyFlippedByteOfACachedPageFails() {
        let sealer = PageSealer(keys: keys, fileID: fileID)
        let cache = AuthenticationCache()
        let sealed = sealedPage(number: 7, sealer: sealer)
        #expect(open(sealed, number: 7, sealer: sealer, cache: cache).0)
        var accepted: [Int] = []
        for position in 0..<FileFormat.pageSize {
            var damaged = sealed
            damaged[position] ^= 0x01
            if open(damaged, number: 7, sealer: sealer, cache: cache).0 { accepted.append(position) }
        }
        #expect(accepted.isEmpty, "flipped bytes accepted at \(accepted.prefix(10))")
        // The damaged pages were not remembered: the original still opens from the cache.
        #expect(open(sealed, number: 7, sealer: sealer, cache: cache).0)
    }

    @Test func anotherNumberKeyOrFileMisses() {
        let sealer = PageSealer(keys: keys, fileID: fileID)
        let cache = AuthenticationCache()
        let sealed = sealedPage(number: 3, sealer: sealer)
        #expect(open(sealed, number: 3, sealer: sealer, cache: cache).0)
        #expect(!open(sealed, number: 4, sealer: sealer, cache: cache).0)
        let otherKeys = PageSealer(keys: DataKeys(dataKey: SecureBytes.random(count: 32), epoch: 1), fileID: fileID)
        #expect(!open(sealed, number: 3, sealer: otherKeys, cache: cache).0)
        let otherFile = PageSealer(keys: keys, fileID: randomBytes(count: 16))
        #expect(!open(sealed, number: 3, sealer: otherFile, cache: cache).0)
    }

    @Test func metaSlotsAreTheirOwnKind() {
        let sealer = PageSealer(keys: keys, fileID: fileID)
        let cache = AuthenticationCache()
        var meta = [UInt8](repeating: 9, count: FileFormat.pageSize)
        _ = meta.withUnsafeMutableBytes { sealer.sealMeta(page: $0.baseAddress!, slot: 1) }
        var expected = meta
        #expect(expected.withUnsafeMutableBytes { sealer.openMeta(page: $0.baseAddress!, slot: 1) })
        for _ in 0..<2 {
            var copy = meta
            #expect(copy.withUnsafeMutableBytes { cache.openMeta(page: $0.baseAddress!, slot: 1, sealer: sealer) })
            #expect(copy == expected)
        }
        #expect(cache.counts.hits == 1)
        // The same bytes as a data page (same number and tag) are not served from the meta entry.
        #expect(!open(meta, number: 1, sealer: sealer, cache: cache).0)
        var wrongSlot = meta
        #expect(!wrongSlot.withUnsafeMutableBytes { cache.openMeta(page: $0.baseAddress!, slot: 0, sealer: sealer) })
    }

    @Test func aFullCacheEvictsTheOldestAndStillOpens() {
        let sealer = PageSealer(keys: keys, fileID: fileID)
        let cache = AuthenticationCache(capacity: 2)
        let pages = (0..<3).map { sealedPage(number: UInt64(10 + $0), sealer: sealer, fill: UInt8($0)) }
        for (n, page) in pages.enumerated() { #expect(open(page, number: UInt64(10 + n), sealer: sealer, cache: cache).0) }
        #expect(open(pages[2], number: 12, sealer: sealer, cache: cache).0)
        #expect(cache.counts.hits == 1)
        var expected = pages[0]
        #expect(expected.withUnsafeMutableBytes { sealer.open(page: $0.baseAddress!, number: 10) })
        let again = open(pages[0], number: 10, sealer: sealer, cache: cache)
        #expect(again.0 && again.1 == expected)
        #expect(cache.counts.hits == 1 && cache.counts.misses == 4)
    }
}
