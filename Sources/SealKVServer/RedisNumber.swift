#if canImport(Glibc)
import Glibc
#endif

/// Numbers read and written exactly as Redis does, so counters and errors agree with it byte for
/// byte: integers are strict (no sign but `-`, no leading zeros, no blanks), floats are C long
/// doubles, printed with 17 decimals and trailing zeros removed.
enum RedisNumber {
    /// Redis's `string2ll`: a 64-bit integer, or nil.
    static func integer<C: Collection<UInt8>>(_ bytes: C) -> Int64? {
        let count = bytes.count
        guard count > 0, count < 21 else { return nil }
        var i = bytes.startIndex
        if count == 1 && bytes[i] == UInt8(ascii: "0") { return 0 }
        var negative = false
        if bytes[i] == UInt8(ascii: "-") {
            negative = true
            i = bytes.index(after: i)
            guard i != bytes.endIndex else { return nil }
        }
        guard (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(bytes[i]) else { return nil }
        var v: UInt64 = 0
        while i != bytes.endIndex {
            let b = bytes[i]
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) else { return nil }
            let (times10, o1) = v.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(b - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            v = sum
            i = bytes.index(after: i)
        }
        if negative {
            guard v <= UInt64(Int64.max) + 1 else { return nil }
            return v == UInt64(Int64.max) + 1 ? .min : -Int64(v)
        }
        guard v <= UInt64(Int64.max) else { return nil }
        return Int64(v)
    }

    /// The decimal text of an integer, as stored and as INCR returns it.
    static func text(_ n: Int64) -> [UInt8] { Array(String(n).utf8) }

    #if arch(x86_64) || arch(i386)
    /// The C `long double` Redis computes INCRBYFLOAT in.
    typealias LongDouble = Float80
    #else
    typealias LongDouble = Double
    #endif

    /// Redis's `string2ld`: a long double, or nil for text that is not one, has blanks around it,
    /// is NaN, or overflows.
    static func longDouble(_ bytes: [UInt8]) -> LongDouble? {
        guard !bytes.isEmpty, bytes.count < 5 * 1024, !bytes.contains(0) else { return nil }
        if let first = bytes.first, first == 0x20 || (0x09...0x0D).contains(first) { return nil }
        var cString = bytes.map { CChar(bitPattern: $0) }
        cString.append(0)
        return cString.withUnsafeBufferPointer { p -> LongDouble? in
            var end: UnsafeMutablePointer<CChar>? = nil
            errno = 0
            #if arch(x86_64) || arch(i386)
            let value = strtold(p.baseAddress!, &end)
            #else
            let value = strtod(p.baseAddress!, &end)
            #endif
            guard let end, end.pointee == 0 else { return nil }
            if errno == ERANGE && (value.isInfinite || value == 0) { return nil }
            return value.isNaN ? nil : value
        }
    }

    /// Redis's `ld2string` in its human mode: `%.17Lf` without trailing zeros ("3.1", "5200",
    /// "16.5"), `inf`/`-inf`; nil if it would not fit Redis's 5 KiB buffer.
    static func text(_ value: LongDouble) -> [UInt8]? {
        if value.isInfinite { return Array((value > 0 ? "inf" : "-inf").utf8) }
        var out = [CChar](repeating: 0, count: 5 * 1024)
        #if arch(x86_64) || arch(i386)
        let n = withVaList([value]) { vsnprintf(&out, out.count, "%.17Lf", $0) }
        #else
        let n = withVaList([value]) { vsnprintf(&out, out.count, "%.17f", $0) }
        #endif
        guard n > 0, Int(n) < out.count else { return nil }
        var text = out.prefix(Int(n)).map { UInt8(bitPattern: $0) }
        if text.contains(UInt8(ascii: ".")) {
            while text.last == UInt8(ascii: "0") { text.removeLast() }
            if text.last == UInt8(ascii: ".") { text.removeLast() }
        }
        if text == Array("-0".utf8) { text = [UInt8(ascii: "0")] }
        return text
    }
}
