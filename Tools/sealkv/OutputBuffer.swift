#if canImport(Glibc)
import Glibc
#endif

/// Bytes for standard output, gathered in one large buffer and written with `write(2)` when it
/// fills: a scan of a million entries makes a few hundred system calls, and no `String` or `Data`
/// per entry. A failed write (a full disk, a closed pipe) is an error, never silently lost output.
final class OutputBuffer {
    private let fd: Int32
    private let capacity: Int
    private let base: UnsafeMutableRawPointer
    private var count = 0
    /// Bytes written to the descriptor so far.
    private(set) var written = 0

    init(fd: Int32 = STDOUT_FILENO, capacity: Int = 1 << 20) {
        self.fd = fd
        self.capacity = capacity
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
    }

    deinit { base.deallocate() }

    /// Makes room for `n` more bytes (flushing if needed) and returns where they go; `n` must not
    /// exceed the capacity. The caller then calls ``advance(_:)`` with what it wrote.
    @inline(__always)
    func reserve(_ n: Int) throws -> UnsafeMutableRawPointer {
        if count + n > capacity { try flush() }
        return base + count
    }

    /// Counts `n` bytes written at the pointer ``reserve(_:)`` returned.
    @inline(__always)
    func advance(_ n: Int) { count += n }

    /// Appends one byte.
    @inline(__always)
    func append(_ byte: UInt8) throws {
        if count == capacity { try flush() }
        base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    /// Appends bytes of any length.
    func append(_ bytes: UnsafeRawBufferPointer) throws {
        var rest = bytes
        while !rest.isEmpty {
            if count == capacity { try flush() }
            let n = min(rest.count, capacity - count)
            (base + count).copyMemory(from: rest.baseAddress!, byteCount: n)
            count += n
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
        }
    }

    /// Appends a string's UTF-8 bytes.
    func append(_ text: StaticString) throws {
        try append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Appends a string's UTF-8 bytes.
    func append(_ text: String) throws {
        var copy = text
        try copy.withUTF8 { try append(UnsafeRawBufferPointer($0)) }
    }

    /// Appends `value` in decimal.
    func appendDecimal(_ value: UInt64) throws {
        var length = 1
        var v = value
        while v >= 10 { v /= 10; length += 1 }
        let p = try reserve(length)
        v = value
        for i in stride(from: length - 1, through: 0, by: -1) {
            p.storeBytes(of: UInt8(truncatingIfNeeded: v % 10) + 0x30, toByteOffset: i, as: UInt8.self)
            v /= 10
        }
        advance(length)
    }

    /// Writes everything buffered.
    func flush() throws {
        var done = 0
        while done < count {
            let n = write(fd, base + done, count - done)
            if n > 0 {
                done += n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                let reason = n < 0 ? String(cString: strerror(errno)).lowercased() : "nothing was written"
                count = 0
                throw ToolFailure("cannot write the output: \(reason); what was written so far is incomplete.", exitCode: 2)
            }
        }
        written += count
        count = 0
    }
}
