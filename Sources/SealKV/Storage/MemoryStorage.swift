import Synchronization


/// Pages kept in process memory: for ephemeral stores and tests. Holds only sealed pages, so what
/// it keeps is as opaque as a file. `snapshot()` copies the bytes, for tests that damage a copy.
final class MemoryStorage: PageStorage, @unchecked Sendable {
    private struct State {
        var bytes: [UInt8] = []
    }
    private let state: Locked<State>
    private let count = Atomic<UInt64>(0)

    var pageCount: UInt64 { count.load(ordering: .acquiring) }
    var engineName: String { "memory" }

    init(bytes: [UInt8] = []) {
        precondition(bytes.count % FileFormat.pageSize == 0)
        state = Locked(State(bytes: bytes))
        count.store(UInt64(bytes.count / FileFormat.pageSize), ordering: .releasing)
    }

    func snapshot() -> [UInt8] { state.withLock { $0.bytes } }

    func readPage(_ number: UInt64, into buffer: UnsafeMutableRawPointer) throws(SealKVError) {
        let ok: Bool = state.withLock { s in
            let start = Int(number) * FileFormat.pageSize
            guard number < UInt64(s.bytes.count / FileFormat.pageSize) else { return false }
            s.bytes.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress! + start, byteCount: FileFormat.pageSize) }
            return true
        }
        if !ok {
            throw SealKVError(.corrupted, "page \(number) lies beyond the end of the store (\(pageCount) pages).", page: number)
        }
    }

    func writePages(_ writes: [PageWrite], sync: Bool) throws(SealKVError) {
        state.withLock { s in
            for w in writes {
                let end = (Int(w.page) + 1) * FileFormat.pageSize
                if end > s.bytes.count { s.bytes.append(contentsOf: [UInt8](repeating: 0, count: end - s.bytes.count)) }
                s.bytes.withUnsafeMutableBytes {
                    ($0.baseAddress! + Int(w.page) * FileFormat.pageSize).copyMemory(from: w.bytes, byteCount: FileFormat.pageSize)
                }
            }
            count.store(UInt64(s.bytes.count / FileFormat.pageSize), ordering: .releasing)
        }
    }

    func sync() throws(SealKVError) {}

    func resize(toPages pages: UInt64) throws(SealKVError) {
        state.withLock { s in
            let size = Int(pages) * FileFormat.pageSize
            if size < s.bytes.count { s.bytes.removeLast(s.bytes.count - size) }
            else { s.bytes.append(contentsOf: [UInt8](repeating: 0, count: size - s.bytes.count)) }
            count.store(pages, ordering: .releasing)
        }
    }

    func close() {}
}
