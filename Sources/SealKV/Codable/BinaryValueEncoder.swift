/// Encodes `Encodable` values in SealKV's compact binary encoding (specified in
/// <doc:FileFormat#Codable-values>).
public struct BinaryValueEncoder {
    /// An encoder.
    public init() {}

    /// The encoded bytes of `value`.
    public func encode<T: Encodable>(_ value: T) throws(SealKVError) -> [UInt8] {
        do {
            return try Self.tree(of: value, path: []).serialized()
        } catch {
            throw SealKVError(.invalidArgument, "the value of type \(T.self) could not be encoded: \(Self.describe(error))")
        }
    }

    static func describe(_ error: any Error) -> String {
        if case EncodingError.invalidValue(_, let context) = error { return context.debugDescription }
        return "\(type(of: error))"
    }

    static func tree<T: Encodable>(of value: T, path: [any CodingKey]) throws -> BinaryValue {
        if let bytes = value as? [UInt8] { return .bytes(bytes) }
        let node = Node()
        try value.encode(to: Encoding(node: node, codingPath: path))
        return node.resolve()
    }

    /// What one encoder or container has written so far.
    final class Node {
        var value: BinaryValue?
        var items: [Node]?
        var fields: [(String, Node)]?

        func resolve() -> BinaryValue {
            if let value { return value }
            if let items { return .array(items.map { $0.resolve() }) }
            if let fields { return .map(fields.map { ($0.0, $0.1.resolve()) }) }
            return .null
        }

        func field(_ key: String) -> Node {
            let child = Node()
            if fields == nil { fields = [] }
            if let i = fields!.firstIndex(where: { $0.0 == key }) { fields![i].1 = child } else { fields!.append((key, child)) }
            return child
        }

        func item() -> Node {
            let child = Node()
            if items == nil { items = [] }
            items!.append(child)
            return child
        }
    }

    struct Encoding: Encoder {
        let node: Node
        let codingPath: [any CodingKey]
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            if node.fields == nil { node.fields = [] }
            return KeyedEncodingContainer(Keyed<Key>(node: node, codingPath: codingPath))
        }
        func unkeyedContainer() -> any UnkeyedEncodingContainer {
            if node.items == nil { node.items = [] }
            return Unkeyed(node: node, codingPath: codingPath)
        }
        func singleValueContainer() -> any SingleValueEncodingContainer { Single(node: node, codingPath: codingPath) }
    }

    static func primitive<T: Encodable>(_ value: T, path: [any CodingKey]) throws -> BinaryValue {
        switch value {
        case let v as Bool: return .bool(v)
        case let v as String: return .string(v)
        case let v as Double: return .double(v)
        case let v as Float: return .float(v)
        case let v as Int: return .int(Int64(v))
        case let v as Int8: return .int(Int64(v))
        case let v as Int16: return .int(Int64(v))
        case let v as Int32: return .int(Int64(v))
        case let v as Int64: return .int(v)
        case let v as UInt: return .uint(UInt64(v))
        case let v as UInt8: return .uint(UInt64(v))
        case let v as UInt16: return .uint(UInt64(v))
        case let v as UInt32: return .uint(UInt64(v))
        case let v as UInt64: return .uint(v)
        default: return try tree(of: value, path: path)
        }
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let node: Node
        let codingPath: [any CodingKey]
        mutating func encodeNil(forKey key: Key) throws { node.field(key.stringValue).value = .null }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            node.field(key.stringValue).value = try primitive(value, path: codingPath + [key])
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            let child = node.field(key.stringValue)
            child.fields = []
            return KeyedEncodingContainer(Keyed<NestedKey>(node: child, codingPath: codingPath + [key]))
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            let child = node.field(key.stringValue)
            child.items = []
            return Unkeyed(node: child, codingPath: codingPath + [key])
        }
        mutating func superEncoder() -> any Encoder { Encoding(node: node.field("super"), codingPath: codingPath) }
        mutating func superEncoder(forKey key: Key) -> any Encoder { Encoding(node: node.field(key.stringValue), codingPath: codingPath + [key]) }
    }

    struct IndexKey: CodingKey {
        let intValue: Int?
        var stringValue: String { "\(intValue ?? 0)" }
        init(_ i: Int) { intValue = i }
        init?(stringValue: String) { return nil }
        init?(intValue: Int) { self.intValue = intValue }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let node: Node
        let codingPath: [any CodingKey]
        var count: Int { node.items?.count ?? 0 }
        mutating func encodeNil() throws { node.item().value = .null }
        mutating func encode<T: Encodable>(_ value: T) throws {
            let path = codingPath + [IndexKey(count)]
            node.item().value = try primitive(value, path: path)
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            let child = node.item()
            child.fields = []
            return KeyedEncodingContainer(Keyed<NestedKey>(node: child, codingPath: codingPath + [IndexKey(count - 1)]))
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            let child = node.item()
            child.items = []
            return Unkeyed(node: child, codingPath: codingPath + [IndexKey(count - 1)])
        }
        mutating func superEncoder() -> any Encoder { Encoding(node: node.item(), codingPath: codingPath) }
    }

    struct Single: SingleValueEncodingContainer {
        let node: Node
        let codingPath: [any CodingKey]
        mutating func encodeNil() throws { node.value = .null }
        mutating func encode<T: Encodable>(_ value: T) throws { node.value = try primitive(value, path: codingPath) }
    }
}
