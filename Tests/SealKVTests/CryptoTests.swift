@testable import SealKV
import Testing

@Suite("Page sealing")
struct CryptoTests {
    let fileID = randomBytes(count: 16)
    let keys = DataKeys(dataKey: SecureBytes.random(count: 32), epoch: 1)

    func sealedPage(number: UInt64, sealer: PageSealer) -> (plain: [UInt8], sealed: [UInt8]) {
        var plain = [UInt8](repeating: 0, count: FileFormat.pageSize)
        for i in FileFormat.bodyStart..<FileFormat.bodyEnd { plain[i] = UInt8(truncatingIfNeeded: i &* 31 &+ 7) }
        var sealed = plain
        _ = sealed.withUnsafeMutableBytes { sealer.seal(page: $0.baseAddress!, number: number) }
        return (plain, sealed)
    }

    @Test func roundTrip() {
        let sealer = PageSealer(keys: keys, fileID: fileID)
        let (plain, sealed) = sealedPage(number: 42, sealer: sealer)
        #expect(Array(sealed[FileFormat.bodyStart..<FileFormat.bodyEnd]) != Array(plain[FileFormat.bodyStart..<FileFormat.bodyEnd]))
        var copy = sealed
        #expect(copy.withUnsafeMutableBytes { sealer.open(page: $0.baseAddress!, number: 42) })
        #expect(Array(copy[FileFormat.bodyStart..<FileFormat.bodyEnd]) == Array(plain[FileFormat.bodyStart..<FileFormat.bodyEnd]))
    }

    @Test func everyFlippedByteFails() {
        let sealer = PageSealer(keys: keys, fileID: fileID)
        let (_, sealed) = sealedPage(number: 7, sealer: sealer)
        var accepted: [Int] = []
        for position in 0..<FileFormat.pageSize {
            var damaged = sealed
            damaged[position] ^= 0x01
            if damaged.withUnsafeMutableBytes({ sealer.open(page: $0.baseAddress!, number: 7) }) { accepted.append(position) }
        }
        #expect(accepted.isEmpty, "flipped bytes accepted at \(accepted.prefix(10))")
    }

    @Test func movedPageFails() {
        let sealer = PageSealer(keys: keys, fileID: fileID)
        var (_, sealed) = sealedPage(number: 7, sealer: sealer)
        #expect(!sealed.withUnsafeMutableBytes { sealer.open(page: $0.baseAddress!, number: 8) })
        // Even with the header's page number rewritten to match, the nonce and AD differ.
        sealed.withUnsafeMutableBytes { $0.baseAddress!.setU64(FileFormat.headerPageNumber, 8) }
        #expect(!sealed.withUnsafeMutableBytes { sealer.open(page: $0.baseAddress!, number: 8) })
    }

    @Test func pageFromAnotherFileFails() {
        let sealer = PageSealer(keys: keys, fileID: fileID)
        let other = PageSealer(keys: keys, fileID: randomBytes(count: 16))
        var (_, sealed) = sealedPage(number: 3, sealer: sealer)
        #expect(!sealed.withUnsafeMutableBytes { other.open(page: $0.baseAddress!, number: 3) })
    }

    @Test func wrongKeyFails() {
        let sealer = PageSealer(keys: keys, fileID: fileID)
        let other = PageSealer(keys: DataKeys(dataKey: SecureBytes.random(count: 32), epoch: 1), fileID: fileID)
        var (_, sealed) = sealedPage(number: 3, sealer: sealer)
        #expect(!sealed.withUnsafeMutableBytes { other.open(page: $0.baseAddress!, number: 3) })
    }

    @Test func noncesNeverRepeatForOnePage() {
        let sealer = PageSealer(keys: keys, fileID: fileID)
        var nonces = Set<[UInt8]>()
        for _ in 0..<20_000 {
            let (_, sealed) = sealedPage(number: 9, sealer: sealer)
            nonces.insert(Array(sealed[FileFormat.headerNonce..<(FileFormat.headerNonce + 16)]))
        }
        #expect(nonces.count == 20_000)
    }

    @Test func wrappedKeyNeedsTheRightKEK() throws {
        let dek = SecureBytes.random(count: 32)
        let kek = SecureBytes.random(count: 32)
        let ad: [UInt8] = Array(repeating: 1, count: 72)
        let wrapped = ad.withUnsafeBytes { KeyHierarchy.wrap(dataKey: dek, kek: kek, associatedData: $0) }
        let back = wrapped.withUnsafeBytes { w in ad.withUnsafeBytes { KeyHierarchy.unwrap(w, kek: kek, associatedData: $0) } }
        #expect(back.map { b in b.withUnsafeBytes { Array($0) } } == dek.withUnsafeBytes { Array($0) })
        let wrong = wrapped.withUnsafeBytes { w in ad.withUnsafeBytes { KeyHierarchy.unwrap(w, kek: SecureBytes.random(count: 32), associatedData: $0) } }
        #expect(wrong == nil)
        var otherAD = ad
        otherAD[0] = 2
        let moved = wrapped.withUnsafeBytes { w in otherAD.withUnsafeBytes { KeyHierarchy.unwrap(w, kek: kek, associatedData: $0) } }
        #expect(moved == nil)
    }

    @Test func argon2idPresetDerivesAndDiffersBySalt() throws {
        let c = Credential.password("hunter2")
        let a = try KeyHierarchy.keyEncryptionKey(credential: c, algorithm: FileFormat.kdfArgon2id, strength: .interactive, salt: Array(repeating: 1, count: 16))
        let b = try KeyHierarchy.keyEncryptionKey(credential: c, algorithm: FileFormat.kdfArgon2id, strength: .interactive, salt: Array(repeating: 2, count: 16))
        #expect(a.withUnsafeBytes { Array($0) } != b.withUnsafeBytes { Array($0) })
    }

    @Test func rawKeyMustBe32Bytes() {
        #expect(throws: SealKVError.self) { try Credential.key([UInt8](repeating: 0, count: 31)) }
        #expect((try? Credential.key([UInt8](repeating: 0, count: 32))) != nil)
    }
}
