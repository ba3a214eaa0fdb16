import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The writable memory of a running process, read through `/proc/PID/mem`, for tests that look for
/// secrets a process should not hold (or should hold only where a core dump cannot take them).
enum ProcessMemory {
    /// Where a byte string was found.
    struct Occurrence: CustomStringConvertible {
        let address: UInt64
        /// The mapping's line in `/proc/PID/maps` ("…-… rw-p 00000000 00:00 0   [heap]").
        let mapping: String
        /// Whether the mapping is excluded from core dumps (`dd` in its VmFlags: `MADV_DONTDUMP`,
        /// which `sodium_malloc` memory and the store's page cache carry).
        let excludedFromCoreDumps: Bool

        var description: String { "0x\(String(address, radix: 16)) in \(mapping)\(excludedFromCoreDumps ? " (dd)" : "")" }
    }

    /// Every place in `pid`'s readable and writable mappings (those of at most 1 GiB) where one of
    /// `needles` occurs, by needle; nil when the memory cannot be read at all (no permission).
    static func occurrences(of needles: [[UInt8]], in pid: pid_t) -> [[UInt8]: [Occurrence]]? {
        let smaps = String(decoding: TestSupport.readFile("/proc/\(pid)/smaps"), as: UTF8.self)
        let fd = open("/proc/\(pid)/mem", O_RDONLY)
        guard fd >= 0, !smaps.isEmpty else { return nil }
        defer { close(fd) }
        var found: [[UInt8]: [Occurrence]] = [:]
        var readAny = false
        for mapping in mappings(smaps) where mapping.writable && mapping.end - mapping.start <= 1 << 30 {
            let count = Int(mapping.end - mapping.start)
            var bytes = [UInt8](repeating: 0, count: count)
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(mapping.start)) }
            guard n > 0 else { continue }
            readAny = true
            for needle in needles {
                for offset in positions(of: needle, in: bytes[..<n]) {
                    found[needle, default: []].append(Occurrence(address: mapping.start + UInt64(offset), mapping: mapping.line,
                                                                 excludedFromCoreDumps: mapping.dontDump))
                }
            }
        }
        return readAny ? found : nil
    }

    private struct Mapping {
        let start: UInt64
        let end: UInt64
        let writable: Bool
        let line: String
        var dontDump = false
    }

    /// The mappings of an smaps text, each with its VmFlags.
    private static func mappings(_ smaps: String) -> [Mapping] {
        var out: [Mapping] = []
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if line.hasPrefix("VmFlags:") {
                if !out.isEmpty { out[out.count - 1].dontDump = fields.contains("dd") }
                continue
            }
            guard let range = fields.first, range.contains("-"), fields.count >= 5 else { continue }
            let bounds = range.split(separator: "-")
            guard bounds.count == 2, let start = UInt64(bounds[0], radix: 16), let end = UInt64(bounds[1], radix: 16) else { continue }
            let permissions = fields[1]
            out.append(Mapping(start: start, end: end, writable: permissions.hasPrefix("rw"), line: String(line)))
        }
        return out
    }

    /// The offsets where `needle` starts in `haystack`.
    private static func positions(of needle: [UInt8], in haystack: ArraySlice<UInt8>) -> [Int] {
        guard let first = needle.first, needle.count <= haystack.count else { return [] }
        var out: [Int] = []
        haystack.withUnsafeBytes { h in
            needle.withUnsafeBytes { n in
                var i = 0
                while i <= h.count - n.count {
                    guard let hit = memchr(h.baseAddress! + i, Int32(first), h.count - n.count - i + 1) else { break }
                    let at = h.baseAddress!.distance(to: UnsafeRawPointer(hit))
                    if memcmp(h.baseAddress! + at, n.baseAddress!, n.count) == 0 { out.append(at) }
                    i = at + 1
                }
            }
        }
        return out
    }
}
