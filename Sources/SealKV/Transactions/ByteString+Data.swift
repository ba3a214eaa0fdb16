#if canImport(FoundationEssentials)
import FoundationEssentials
#elseif canImport(Foundation)
import Foundation
#endif

extension Data: ByteString {
    /// Calls `body` with the bytes; the buffer is valid only inside `body`.
    @inlinable
    public func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        var result: Result<R, E>? = nil
        withUnsafeBytes { raw in result = Result { () throws(E) -> R in try body(raw) } }
        return try result!.get()
    }
}

extension Namespace {
    /// The value stored at `key` as `Data`, or nil.
    public func getData<K: ByteString>(_ key: K) throws(SealKVError) -> Data? {
        try get(key).map { Data($0) }
    }
}

extension ReadTransaction {
    /// The value stored at `key` in the default namespace as `Data`, or nil.
    public func getData<K: ByteString>(_ key: K) throws(SealKVError) -> Data? {
        try Namespace(transaction: self, name: "").getData(key)
    }
}
