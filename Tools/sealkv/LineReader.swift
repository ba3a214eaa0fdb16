#if canImport(Glibc)
import Glibc
#endif

/// Lines of a file or pipe, read in large chunks as they are needed: memory holds the chunk and
/// the longest line, never the whole input.
final class LineReader {
    /// The longest line accepted: an entry with the largest key and value the store takes, in
    /// base64, fits with room to spare (and `export` writes longer text values in base64).
    static let maxLineLength = (3 << 29) + (64 << 10)
    /// Read size; also the length past which an unfinished line is checked for bytes JSON text
    /// cannot hold, so binary input (`/dev/zero`) is refused at once instead of filling memory.
    static let chunk = 1 << 20

    private let file: InputFile
    private var buffer: UnsafeMutableRawPointer
    private var capacity: Int
    /// Bytes [start, end) of the buffer are read but not yet returned.
    private var start = 0
    private var end = 0
    /// Where the search for the current line's end resumes, and how far it was checked.
    private var scanned = 0
    private var checked = 0
    private var atEOF = false
    /// The number of the line last returned (from 1).
    private(set) var lineNumber = 0
    /// Bytes of input consumed so far.
    private(set) var consumed = 0

    init(_ file: InputFile) {
        self.file = file
        capacity = 2 * Self.chunk
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    deinit { buffer.deallocate() }

    /// The next line without its line break (valid until the next call), or nil at the end.
    func next() throws -> UnsafeRawBufferPointer? {
        while true {
            if let newline = memchr(buffer + start + scanned, 0x0A, end - start - scanned) {
                let length = UnsafeMutableRawPointer(newline) - (buffer + start)
                let line = UnsafeRawBufferPointer(start: buffer + start, count: length)
                start += length + 1
                consumed += length + 1
                scanned = 0
                checked = 0
                lineNumber += 1
                return line
            }
            if end - start > Self.chunk {
                try checkUnfinishedLine(from: checked)
                checked = end - start
            }
            scanned = end - start
            if atEOF {
                guard end > start else { return nil }
                let line = UnsafeRawBufferPointer(start: buffer + start, count: end - start)
                consumed += end - start
                start = end
                scanned = 0
                lineNumber += 1
                return line
            }
            try fill()
        }
    }

    /// Reads more input, moving the unfinished line to the front or growing the buffer first.
    private func fill() throws {
        if start > 0 && end - start < capacity / 2 {
            memmove(buffer, buffer + start, end - start)
            end -= start
            start = 0
        }
        if capacity - end < Self.chunk {
            guard end - start < Self.maxLineLength else {
                throw ToolFailure("line \(lineNumber + 1) is longer than \(Self.maxLineLength) bytes, more than any entry needs; is this the export format?", exitCode: 2)
            }
            let grown = min(capacity * 2, Self.maxLineLength + 2 * Self.chunk)
            let bigger = UnsafeMutableRawPointer.allocate(byteCount: grown, alignment: 16)
            bigger.copyMemory(from: buffer + start, byteCount: end - start)
            buffer.deallocate()
            buffer = bigger
            capacity = grown
            end -= start
            start = 0
        }
        let n = try file.read(into: buffer + end, count: min(capacity - end, Self.chunk))
        if n == 0 { atEOF = true }
        end += n
    }

    /// Refuses a long unfinished line that holds a byte no JSON text may hold (a control
    /// character other than tab and carriage return).
    private func checkUnfinishedLine(from offset: Int) throws {
        let p = UnsafeRawBufferPointer(start: buffer + start, count: end - start)
        for i in offset..<p.count where p[i] < 0x20 && p[i] != 0x09 && p[i] != 0x0D {
            throw ToolFailure("line \(lineNumber + 1) holds the byte 0x\(String(p[i], radix: 16)) at column \(i + 1), which JSON text cannot hold; is this the export format?", exitCode: 2)
        }
    }
}
