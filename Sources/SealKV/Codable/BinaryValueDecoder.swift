/// Decodes values written by ``BinaryValueEncoder``. Malformed bytes and type mismatches are
/// `decodingFailed` errors, never crashes.
public struct BinaryValueDecoder {
    /// A decoder.
    public init() {}

    /// Decodes a `T` from `bytes`.
    public func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws(SealKVError) -> T {
        let parsed: Result<BinaryValue, BinaryValue.ParseError> = bytes.withUnsafeBytes { b in
            Result { () throws(BinaryValue.ParseError) in try BinaryValue.parse(b) }
        }
        let tree: BinaryValue
        switch parsed {
        case .success(let t): tree = t
        case .failure(let error):
            throw SealKVError(.decodingFailed, "the stored value cannot be decoded as \(T.self): \(error.message).")
        }
        do {
            return try Self.decode(T.self, from: tree, path: [])
        } catch {
            throw SealKVError(.decodingFailed, "the stored value cannot be decoded as \(T.self): \(Self.describe(error)).")
        }
    }

    static func describe(_ error: any Error) -> String {
        func at(_ path: [any CodingKey]) -> String {
            path.isEmpty ? "at the top level" : "at " + path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case DecodingError.typeMismatch(let t, let c): return "expected \(t) \(at(c.codingPath))"
        case DecodingError.valueNotFound(let t, let c): return "missing \(t) \(at(c.codingPath))"
        case DecodingError.keyNotFound(let k, let c): return "missing field '\(k.stringValue)' \(at(c.codingPath))"
        case DecodingError.dataCorrupted(let c): return "\(c.debugDescription) \(at(c.codingPath))"
        default: return "\(type(of: error))"
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, from value: BinaryValue, path: [any CodingKey]) throws -> T {
        if T.self == [UInt8].self, case .bytes(let b) = value { return b as! T }
        return try T(from: Decoding(value: value, codingPath: path))
    }

    struct Decoding: Decoder {
        let value: BinaryValue
        let codingPath: [any CodingKey]
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
            guard case .map(let fields) = value else {
                throw DecodingError.typeMismatch([String: Any].self, .init(codingPath: codingPath, debugDescription: "not a keyed value"))
            }
            var byName: [String: BinaryValue] = [:]
            for (k, v) in fields { byName[k] = v }
            return KeyedDecodingContainer(Keyed<Key>(fields: byName, codingPath: codingPath))
        }
        func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
            switch value {
            case .array(let items): return Unkeyed(items: items, codingPath: codingPath)
            case .bytes(let b): return Unkeyed(items: b.map { .uint(UInt64($0)) }, codingPath: codingPath)
            default:
                throw DecodingError.typeMismatch([Any].self, .init(codingPath: codingPath, debugDescription: "not a list"))
            }
        }
        func singleValueContainer() throws -> any SingleValueDecodingContainer { Single(value: value, codingPath: codingPath) }
    }

    /// Converts a stored item to a primitive type, checking ranges.
    static func primitive<T>(_ type: T.Type, _ value: BinaryValue, path: [any CodingKey]) throws -> T? {
        func mismatch() -> DecodingError { .typeMismatch(T.self, .init(codingPath: path, debugDescription: "wrong type")) }
        func integer<I: FixedWidthInteger>(_: I.Type) throws -> I {
            switch value {
            case .int(let i): if let v = I(exactly: i) { return v }
            case .uint(let u): if let v = I(exactly: u) { return v }
            default: throw mismatch()
            }
            throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "number out of range for \(I.self)"))
        }
        switch type {
        case is Bool.Type: if case .bool(let b) = value { return b as? T }; throw mismatch()
        case is String.Type: if case .string(let s) = value { return s as? T }; throw mismatch()
        case is Double.Type:
            switch value {
            case .double(let d): return d as? T
            case .float(let f): return Double(f) as? T
            default: throw mismatch()
            }
        case is Float.Type:
            switch value {
            case .float(let f): return f as? T
            case .double(let d): return Float(d) as? T
            default: throw mismatch()
            }
        case is Int.Type: return try integer(Int.self) as? T
        case is Int8.Type: return try integer(Int8.self) as? T
        case is Int16.Type: return try integer(Int16.self) as? T
        case is Int32.Type: return try integer(Int32.self) as? T
        case is Int64.Type: return try integer(Int64.self) as? T
        case is UInt.Type: return try integer(UInt.self) as? T
        case is UInt8.Type: return try integer(UInt8.self) as? T
        case is UInt16.Type: return try integer(UInt16.self) as? T
        case is UInt32.Type: return try integer(UInt32.self) as? T
        case is UInt64.Type: return try integer(UInt64.self) as? T
        default: return nil
        }
    }

    static func decodeAny<T: Decodable>(_ type: T.Type, _ value: BinaryValue, path: [any CodingKey]) throws -> T {
        if case .null = value, !(T.self is any ExpressibleByNilLiteral.Type) {
            throw DecodingError.valueNotFound(T.self, .init(codingPath: path, debugDescription: "nil"))
        }
        if let p = try primitive(T.self, value, path: path) { return p }
        return try decode(T.self, from: value, path: path)
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let fields: [String: BinaryValue]
        let codingPath: [any CodingKey]
        var allKeys: [Key] { fields.keys.compactMap { Key(stringValue: $0) } }
        func contains(_ key: Key) -> Bool { fields[key.stringValue] != nil }
        func field(_ key: Key) throws -> BinaryValue {
            guard let v = fields[key.stringValue] else {
                throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing"))
            }
            return v
        }
        func decodeNil(forKey key: Key) throws -> Bool { if case .null = try field(key) { return true }; return false }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            try decodeAny(T.self, try field(key), path: codingPath + [key])
        }
        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            try Decoding(value: try field(key), codingPath: codingPath + [key]).container(keyedBy: type)
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            try Decoding(value: try field(key), codingPath: codingPath + [key]).unkeyedContainer()
        }
        func superDecoder() throws -> any Decoder { Decoding(value: fields["super"] ?? .null, codingPath: codingPath) }
        func superDecoder(forKey key: Key) throws -> any Decoder { Decoding(value: try field(key), codingPath: codingPath + [key]) }
    }

    struct Unkeyed: UnkeyedDecodingContainer {
        let items: [BinaryValue]
        let codingPath: [any CodingKey]
        var currentIndex = 0
        var count: Int? { items.count }
        var isAtEnd: Bool { currentIndex >= items.count }
        mutating func next() throws -> BinaryValue {
            guard !isAtEnd else {
                throw DecodingError.valueNotFound(Any.self, .init(codingPath: codingPath, debugDescription: "the list ended"))
            }
            defer { currentIndex += 1 }
            return items[currentIndex]
        }
        mutating func decodeNil() throws -> Bool {
            guard !isAtEnd, case .null = items[currentIndex] else { return false }
            currentIndex += 1
            return true
        }
        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
            let path = codingPath + [BinaryValueEncoder.IndexKey(currentIndex)]
            return try decodeAny(T.self, try next(), path: path)
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
            try Decoding(value: try next(), codingPath: codingPath).container(keyedBy: type)
        }
        mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
            try Decoding(value: try next(), codingPath: codingPath).unkeyedContainer()
        }
        mutating func superDecoder() throws -> any Decoder { Decoding(value: try next(), codingPath: codingPath) }
    }

    struct Single: SingleValueDecodingContainer {
        let value: BinaryValue
        let codingPath: [any CodingKey]
        func decodeNil() -> Bool { if case .null = value { return true }; return false }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try decodeAny(T.self, value, path: codingPath) }
    }
}
