import SealKV
#if canImport(Glibc)
import Glibc
#endif

/// Bytes given in hexadecimal on the command line (`--key-hex 00ff`), for keys and values that are
/// not text: arguments must be UTF-8, so raw bytes cannot be passed as they are.
func hexBytes(_ text: String, option: String) throws -> [UInt8] {
    let digits = Array(text.utf8)
    func value(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x41...0x46: c - 0x41 + 10
        case 0x61...0x66: c - 0x61 + 10
        default: nil
        }
    }
    guard digits.count % 2 == 0 else {
        throw ToolFailure("\(option) must be pairs of hex digits (like 00ff41), but '\(text)' has an odd number of digits.", exitCode: 2)
    }
    var out: [UInt8] = []
    out.reserveCapacity(digits.count / 2)
    for i in stride(from: 0, to: digits.count, by: 2) {
        guard let hi = value(digits[i]), let lo = value(digits[i + 1]) else {
            throw ToolFailure("\(option) must be pairs of hex digits (like 00ff41); '\(text)' holds something else.", exitCode: 2)
        }
        out.append(hi << 4 | lo)
    }
    return out
}

/// A value read from a file or standard input into memory of its own (grown with `realloc`, which
/// moves large blocks without copying), refused the moment it passes the store's value limit.
final class ValueBuffer {
    private(set) var base: UnsafeMutableRawPointer?
    private(set) var count = 0
    private var capacity = 0

    /// Reads all of `file`, which must hold at most `limit` bytes.
    init(reading file: InputFile, limit: Int = Limits.maxValueLength) throws {
        if let size = file.size, size > limit { throw Self.tooLarge(file, limit) }
        try grow(to: max(4096, min(limit + 1, (file.size ?? 0) + 1)))
        while true {
            if count == capacity {
                guard capacity <= limit else { throw Self.tooLarge(file, limit) }
                try grow(to: min(limit + 1, capacity * 2))
            }
            let n = try file.read(into: base! + count, count: capacity - count)
            if n == 0 { break }
            count += n
            if count > limit { throw Self.tooLarge(file, limit) }
        }
    }

    deinit { free(base) }

    /// The bytes read.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    private func grow(to size: Int) throws {
        guard let p = realloc(base, size) else {
            throw ToolFailure("not enough memory for a value of \(size) bytes.", exitCode: 2)
        }
        base = p
        capacity = size
    }

    private static func tooLarge(_ file: InputFile, _ limit: Int) -> ToolFailure {
        ToolFailure("the value in \(file.name) is longer than the store's limit of \(limit) bytes (\(limit >> 20) MiB); split it across several keys. Nothing was written.", exitCode: 2)
    }
}
