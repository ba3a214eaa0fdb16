/// How keys and values are written by `scan` and `export`, straight from their bytes into an
/// ``OutputBuffer``:
/// - escaped text (`scan`): printable ASCII as is; `\\`, `\t`, `\n`; every other byte `\xNN`;
/// - JSON (`scan --json`, `export`): a string when the bytes are UTF-8, escaped as Foundation's
///   JSONSerialization did (`\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, `\u00XX` for the other
///   control characters, everything else as is), otherwise base64 under `<name>_b64`.
///
/// Runs of bytes that need no escape are found eight bytes at a time and copied whole.
enum EntryEncoding {
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highs: UInt64 = 0x8080_8080_8080_8080
    private static let hex: StaticString = "0123456789abcdef"

    /// Whether some byte of `word` is zero.
    @inline(__always)
    private static func hasZeroByte(_ word: UInt64) -> Bool { (word &- ones) & ~word & highs != 0 }

    /// Whether some byte of `word` is below `n` (n <= 128), or has its top bit set.
    @inline(__always)
    private static func hasByteBelowOrHigh(_ word: UInt64, _ n: UInt64) -> Bool { ((word &- ones &* n) | word) & highs != 0 }

    /// Whether every byte of `word` is printable ASCII other than a backslash.
    @inline(__always)
    private static func isPlainText(_ word: UInt64) -> Bool {
        !hasByteBelowOrHigh(word, 0x20) && !hasZeroByte(word ^ (ones &* 0x7F)) && !hasZeroByte(word ^ (ones &* 0x5C))
    }

    /// Whether no byte of `word` needs an escape in a JSON string (control characters, `"`, `\`).
    @inline(__always)
    private static func isPlainJSON(_ word: UInt64) -> Bool {
        // Bytes with the top bit set (UTF-8 sequences, already validated) need no escape.
        ((word &- ones &* 0x20) & ~word & highs) == 0 && !hasZeroByte(word ^ (ones &* 0x22)) && !hasZeroByte(word ^ (ones &* 0x5C))
    }

    @inline(__always)
    private static func load(_ p: UnsafeRawPointer, _ i: Int) -> UInt64 { p.loadUnaligned(fromByteOffset: i, as: UInt64.self) }

    /// The length of the run of bytes from `start` that `plain` accepts (checked a word at a time,
    /// then byte by byte with `plainByte`).
    @inline(__always)
    private static func plainRun(_ bytes: UnsafeRawBufferPointer, from start: Int, word plain: (UInt64) -> Bool, byte plainByte: (UInt8) -> Bool) -> Int {
        let base = bytes.baseAddress!
        var i = start
        while i + 8 <= bytes.count && plain(load(base, i)) { i += 8 }
        while i < bytes.count && plainByte(bytes[i]) { i += 1 }
        return i - start
    }

    /// Writes `bytes` as escaped text.
    static func appendEscaped(_ bytes: UnsafeRawBufferPointer, to out: OutputBuffer) throws {
        guard !bytes.isEmpty else { return }
        var i = 0
        while i < bytes.count {
            let run = plainRun(bytes, from: i, word: isPlainText) { $0 >= 0x20 && $0 < 0x7F && $0 != 0x5C }
            if run > 0 {
                try out.append(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + run)]))
                i += run
                continue
            }
            let b = bytes[i]
            let p = try out.reserve(4)
            switch b {
            case 0x5C: p.storeBytes(of: 0x5C5C, as: UInt16.self); out.advance(2)
            case 0x09: p.storeBytes(of: UInt16(0x5C) | UInt16(0x74) << 8, as: UInt16.self); out.advance(2)
            case 0x0A: p.storeBytes(of: UInt16(0x5C) | UInt16(0x6E) << 8, as: UInt16.self); out.advance(2)
            default:
                p.storeBytes(of: 0x5C, toByteOffset: 0, as: UInt8.self)
                p.storeBytes(of: 0x78, toByteOffset: 1, as: UInt8.self)
                p.storeBytes(of: hexDigit(b >> 4), toByteOffset: 2, as: UInt8.self)
                p.storeBytes(of: hexDigit(b & 15), toByteOffset: 3, as: UInt8.self)
                out.advance(4)
            }
            i += 1
        }
    }

    /// `bytes` as escaped text in a `String` (for short displays such as `sealkv page`).
    static func escapedText<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var out = ""
        for b in bytes {
            switch b {
            case 0x5C: out += "\\\\"
            case 0x09: out += "\\t"
            case 0x0A: out += "\\n"
            case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(b))
            default: out += "\\x" + String(b, radix: 16).leftPadded(2)
            }
        }
        return out
    }

    @inline(__always)
    private static func hexDigit(_ v: UInt8) -> UInt8 { hex.utf8Start[Int(v)] }

    /// Writes `"name":"…"` for UTF-8 bytes, else `"name_b64":"…"`.
    static func appendJSONField(_ name: StaticString, _ bytes: UnsafeRawBufferPointer, to out: OutputBuffer) throws {
        try out.append(0x22)
        try out.append(name)
        if isValidUTF8(bytes) {
            try out.append("\":")
            try appendJSONString(bytes, to: out)
        } else {
            try out.append("_b64\":\"")
            try appendBase64(bytes, to: out)
            try out.append(0x22)
        }
    }

    /// Writes `bytes` (valid UTF-8) as a quoted JSON string.
    static func appendJSONString(_ bytes: UnsafeRawBufferPointer, to out: OutputBuffer) throws {
        try out.append(0x22)
        var i = 0
        while i < bytes.count {
            let run = plainRun(bytes, from: i, word: isPlainJSON) { $0 >= 0x20 && $0 != 0x22 && $0 != 0x5C }
            if run > 0 {
                try out.append(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + run)]))
                i += run
                continue
            }
            let b = bytes[i]
            let p = try out.reserve(6)
            let short: UInt8? = switch b {
            case 0x22: 0x22
            case 0x5C: 0x5C
            case 0x08: 0x62
            case 0x0C: 0x66
            case 0x0A: 0x6E
            case 0x0D: 0x72
            case 0x09: 0x74
            default: nil
            }
            p.storeBytes(of: 0x5C, toByteOffset: 0, as: UInt8.self)
            if let short {
                p.storeBytes(of: short, toByteOffset: 1, as: UInt8.self)
                out.advance(2)
            } else {
                // \u00XX
                p.storeBytes(of: 0x75, toByteOffset: 1, as: UInt8.self)
                p.storeBytes(of: 0x30, toByteOffset: 2, as: UInt8.self)
                p.storeBytes(of: 0x30, toByteOffset: 3, as: UInt8.self)
                p.storeBytes(of: hexDigit(b >> 4), toByteOffset: 4, as: UInt8.self)
                p.storeBytes(of: hexDigit(b & 15), toByteOffset: 5, as: UInt8.self)
                out.advance(6)
            }
            i += 1
        }
        try out.append(0x22)
    }

    /// How long `bytes` is as a quoted JSON string.
    static func escapedJSONLength(_ bytes: UnsafeRawBufferPointer) -> Int {
        bytes.reduce(2) { n, b in
            n + (b == 0x22 || b == 0x5C || b == 0x08 || b == 0x0C || b == 0x0A || b == 0x0D || b == 0x09 ? 2 : b < 0x20 ? 6 : 1)
        }
    }

    private static let base64Alphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    /// Writes `bytes` in standard base64 with padding.
    static func appendBase64(_ bytes: UnsafeRawBufferPointer, to out: OutputBuffer) throws {
        let alphabet = base64Alphabet.utf8Start
        var i = 0
        while i < bytes.count {
            // Up to 12 KiB of input per reservation (16 KiB of output).
            let chunkEnd = min(bytes.count, i + 12 * 1024)
            let p = try out.reserve((chunkEnd - i + 2) / 3 * 4)
            var o = 0
            while i + 3 <= chunkEnd {
                let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
                p.storeBytes(of: alphabet[Int(v >> 18)], toByteOffset: o, as: UInt8.self)
                p.storeBytes(of: alphabet[Int(v >> 12 & 63)], toByteOffset: o + 1, as: UInt8.self)
                p.storeBytes(of: alphabet[Int(v >> 6 & 63)], toByteOffset: o + 2, as: UInt8.self)
                p.storeBytes(of: alphabet[Int(v & 63)], toByteOffset: o + 3, as: UInt8.self)
                i += 3
                o += 4
            }
            if i < chunkEnd {
                let rest = chunkEnd - i
                let v = UInt32(bytes[i]) << 16 | (rest == 2 ? UInt32(bytes[i + 1]) << 8 : 0)
                p.storeBytes(of: alphabet[Int(v >> 18)], toByteOffset: o, as: UInt8.self)
                p.storeBytes(of: alphabet[Int(v >> 12 & 63)], toByteOffset: o + 1, as: UInt8.self)
                p.storeBytes(of: rest == 2 ? alphabet[Int(v >> 6 & 63)] : 0x3D, toByteOffset: o + 2, as: UInt8.self)
                p.storeBytes(of: 0x3D, toByteOffset: o + 3, as: UInt8.self)
                i = chunkEnd
                o += 4
            }
            out.advance(o)
        }
    }

    /// Whether `bytes` is well-formed UTF-8 (no overlong forms, surrogates or values past
    /// U+10FFFF), the same rule as Swift's `String(validating:as:)`.
    static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let n = bytes.count
        var i = 0
        while i < n {
            if i + 8 <= n && load(bytes.baseAddress!, i) & highs == 0 {
                i += 8
                continue
            }
            let b = bytes[i]
            if b < 0x80 {
                i += 1
                continue
            }
            let length: Int
            var lower: UInt8 = 0x80, upper: UInt8 = 0xBF
            switch b {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; lower = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; upper = 0x9F
            case 0xF0: length = 4; lower = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; upper = 0x8F
            default: return false
            }
            guard i + length <= n, (lower...upper).contains(bytes[i + 1]) else { return false }
            for k in 2..<max(2, length) where !(0x80...0xBF).contains(bytes[i + k]) { return false }
            i += length
        }
        return true
    }
}
