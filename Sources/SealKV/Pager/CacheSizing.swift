#if canImport(Glibc)
import Glibc
#endif

/// How large the page cache is: a size the caller fixed, or one taken from the store: a quarter
/// more than its pages in use (so a store that fits in memory is read at memory speed with default
/// options), at least 64 MiB, growing as the store grows, up to an eighth of the memory this
/// process may use and at most 8 GiB. (At open the free pages are not known yet, so the whole
/// file counts; the writer's commits then count only the pages in use.)
struct CacheSizing: Sendable {
    static let automaticMinimum = 64 << 20
    static let automaticCeiling = 8 << 30

    /// The size the caller fixed, if any.
    let fixed: Int?
    /// The most bytes the cache may grow to.
    let maximum: Int

    init(fixed: Int?) {
        self.fixed = fixed
        maximum = fixed ?? min(Self.automaticCeiling, max(Self.automaticMinimum, Int(clamping: Self.memoryLimit() / 8)))
    }

    /// The bytes the cache should hold for a store of `storeBytes` in use.
    func target(storeBytes: UInt64) -> Int {
        if let fixed { return fixed }
        let wanted = Int(clamping: storeBytes + storeBytes / 4)
        return min(maximum, max(Self.automaticMinimum, wanted))
    }

    /// The machine's memory in bytes (0 if unknown).
    static func physicalMemory() -> UInt64 {
        UInt64(max(0, sysconf(Int32(_SC_PHYS_PAGES)))) * UInt64(max(0, sysconf(Int32(_SC_PAGESIZE))))
    }

    /// The machine's memory, or the cgroup's limit where one is set and smaller.
    static func memoryLimit() -> UInt64 {
        var limit = physicalMemory()
        for file in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
            if let value = readNumber(file), value > 0, value < limit { limit = value }
        }
        return limit
    }

    /// The decimal number a small file holds ("max" and unreadable files give nil).
    private static func readNumber(_ path: String) -> UInt64? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, 63) }
        guard n > 0 else { return nil }
        let digits = buffer[0..<n].prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        return digits.isEmpty ? nil : UInt64(String(decoding: digits, as: UTF8.self))
    }
}
