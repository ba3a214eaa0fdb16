/// SealKV's compact binary encoding for `Codable` values (see Docs/FORMAT.md, "Codable values").
///
/// A stored value is one version byte (1) followed by one tagged item:
///
/// | tag | item |
/// |---|---|
/// | 0 | nil |
/// | 1, 2 | false, true |
/// | 3 | signed integer, zig-zag LEB128 varint |
/// | 4 | unsigned integer, LEB128 varint |
/// | 5 | Double, 8 bytes little-endian IEEE 754 |
/// | 6 | Float, 4 bytes little-endian IEEE 754 |
/// | 7 | String: varint byte count, UTF-8 |
/// | 8 | array (unkeyed container): varint count, items |
/// | 9 | map (keyed container): varint count, then per field a varint-length UTF-8 key and an item |
/// | 10 | bytes (`[UInt8]`): varint count, raw bytes |
///
/// Field names are stored, so adding optional fields or reordering them keeps old values readable.
indirect enum BinaryValue: Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case float(Float)
    case string(String)
    case array([BinaryValue])
    case map([(String, BinaryValue)])
    case bytes([UInt8])

    static let formatVersion: UInt8 = 1

    static func == (a: BinaryValue, b: BinaryValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.uint(x), .uint(y)): return x == y
        case let (.double(x), .double(y)): return x.bitPattern == y.bitPattern
        case let (.float(x), .float(y)): return x.bitPattern == y.bitPattern
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.map(x), .map(y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case let (.bytes(x), .bytes(y)): return x == y
        default: return false
        }
    }

    // MARK: Writing

    func serialized() -> [UInt8] {
        var out: [UInt8] = [Self.formatVersion]
        write(to: &out)
        return out
    }

    private static func varint(_ v: UInt64, to out: inout [UInt8]) {
        var v = v
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    private func write(to out: inout [UInt8]) {
        switch self {
        case .null: out.append(0)
        case .bool(let b): out.append(b ? 2 : 1)
        case .int(let i):
            out.append(3)
            Self.varint(UInt64(bitPattern: (i << 1) ^ (i >> 63)), to: &out)
        case .uint(let u):
            out.append(4)
            Self.varint(u, to: &out)
        case .double(let d):
            out.append(5)
            withUnsafeBytes(of: d.bitPattern.littleEndian) { out.append(contentsOf: $0) }
        case .float(let f):
            out.append(6)
            withUnsafeBytes(of: f.bitPattern.littleEndian) { out.append(contentsOf: $0) }
        case .string(let s):
            out.append(7)
            Self.varint(UInt64(s.utf8.count), to: &out)
            out.append(contentsOf: s.utf8)
        case .array(let items):
            out.append(8)
            Self.varint(UInt64(items.count), to: &out)
            for item in items { item.write(to: &out) }
        case .map(let fields):
            out.append(9)
            Self.varint(UInt64(fields.count), to: &out)
            for (k, v) in fields {
                Self.varint(UInt64(k.utf8.count), to: &out)
                out.append(contentsOf: k.utf8)
                v.write(to: &out)
            }
        case .bytes(let b):
            out.append(10)
            Self.varint(UInt64(b.count), to: &out)
            out.append(contentsOf: b)
        }
    }

    // MARK: Reading

    /// Why bytes do not parse; the message never includes the bytes themselves.
    struct ParseError: Error { let message: String }

    /// Parses a stored value, checking every length against the bytes left and nesting depth.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws(ParseError) -> BinaryValue {
        guard let version = bytes.first else { throw ParseError(message: "the value is empty") }
        guard version == formatVersion else {
            throw ParseError(message: "the value was not written by SealKV's Codable encoding (version byte \(version))")
        }
        var reader = Reader(bytes: bytes, position: 1)
        let value = try reader.item(depth: 0)
        guard reader.position == bytes.count else { throw ParseError(message: "the value has \(bytes.count - reader.position) trailing bytes") }
        return value
    }

    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var position: Int
        static let maxDepth = 200

        mutating func byte() throws(ParseError) -> UInt8 {
            guard position < bytes.count else { throw ParseError(message: "the value ends early") }
            defer { position += 1 }
            return bytes[position]
        }

        mutating func varint() throws(ParseError) -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                let b = try byte()
                guard shift < 64 else { throw ParseError(message: "a number is too long") }
                result |= UInt64(b & 0x7F) << shift
                if b & 0x80 == 0 { return result }
                shift += 7
            }
        }

        mutating func length() throws(ParseError) -> Int {
            let n = try varint()
            guard n <= UInt64(bytes.count - position) else { throw ParseError(message: "a length runs past the end of the value") }
            return Int(n)
        }

        mutating func raw(_ n: Int) throws(ParseError) -> UnsafeRawBufferPointer {
            guard n <= bytes.count - position else { throw ParseError(message: "the value ends early") }
            defer { position += n }
            return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + n)])
        }

        mutating func string() throws(ParseError) -> String {
            let r = try raw(try length())
            guard let s = String(validating: r, as: UTF8.self) else { throw ParseError(message: "a string is not valid UTF-8") }
            return s
        }

        mutating func item(depth: Int) throws(ParseError) -> BinaryValue {
            guard depth < Self.maxDepth else { throw ParseError(message: "the value nests deeper than \(Self.maxDepth) levels") }
            switch try byte() {
            case 0: return .null
            case 1: return .bool(false)
            case 2: return .bool(true)
            case 3:
                let z = try varint()
                return .int(Int64(bitPattern: (z >> 1) ^ (0 &- (z & 1))))
            case 4: return .uint(try varint())
            case 5: return .double(Double(bitPattern: UInt64(littleEndian: try raw(8).loadUnaligned(as: UInt64.self))))
            case 6: return .float(Float(bitPattern: UInt32(littleEndian: try raw(4).loadUnaligned(as: UInt32.self))))
            case 7: return .string(try string())
            case 8:
                let n = try length()
                var items: [BinaryValue] = []
                items.reserveCapacity(n)
                for _ in 0..<n { items.append(try item(depth: depth + 1)) }
                return .array(items)
            case 9:
                let n = try length()
                var fields: [(String, BinaryValue)] = []
                fields.reserveCapacity(n)
                for _ in 0..<n { fields.append((try string(), try item(depth: depth + 1))) }
                return .map(fields)
            case 10: return .bytes(Array(try raw(try length())))
            case let tag: throw ParseError(message: "unknown item tag \(tag)")
            }
        }
    }
}
