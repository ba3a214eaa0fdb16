/// Anything SealKV accepts as a key or value: byte arrays and slices, and strings (as UTF-8).
///
/// The conformances are inlinable and the hot entry points (`get`, `contains`, `put`, `delete`)
/// only hand the bytes to non-generic code, so a caller's module specialises them: no generic
/// dispatch or runtime metadata lookup per call.
public protocol ByteString {
    /// Calls `body` with the bytes; the buffer is valid only inside `body`.
    func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R
}

extension Array: ByteString where Element == UInt8 {
    /// Calls `body` with the bytes (UTF-8 for strings); the buffer is valid only inside `body`.
    @inlinable @inline(__always)
    public func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        var result: Result<R, E>? = nil
        withUnsafeBytes { raw in result = Result { () throws(E) -> R in try body(raw) } }
        return try result!.get()
    }
}

extension ArraySlice: ByteString where Element == UInt8 {
    /// Calls `body` with the bytes (UTF-8 for strings); the buffer is valid only inside `body`.
    @inlinable @inline(__always)
    public func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        var result: Result<R, E>? = nil
        withUnsafeBytes { raw in result = Result { () throws(E) -> R in try body(raw) } }
        return try result!.get()
    }
}

extension String: ByteString {
    /// Calls `body` with the bytes (UTF-8 for strings); the buffer is valid only inside `body`.
    @inlinable @inline(__always)
    public func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        var copy = self
        var result: Result<R, E>? = nil
        copy.withUTF8 { utf8 in result = Result { () throws(E) -> R in try body(UnsafeRawBufferPointer(utf8)) } }
        return try result!.get()
    }
}

extension Substring: ByteString {
    /// Calls `body` with the bytes (UTF-8 for strings); the buffer is valid only inside `body`.
    @inlinable
    public func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try String(self).withBytes(body)
    }
}

extension UnsafeRawBufferPointer: ByteString {
    /// Calls `body` with the bytes (UTF-8 for strings); the buffer is valid only inside `body`.
    @inlinable
    public func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(self)
    }
}

extension Array where Element == UInt8 {
    /// `withUnsafeMutableBytes` with a typed error.
    @inline(__always)
    mutating func withMutableBytes<R, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
        var result: Result<R, E>? = nil
        withUnsafeMutableBytes { raw in result = Result { () throws(E) -> R in try body(raw) } }
        return try result!.get()
    }
}

extension ByteString {
    /// A copy of the bytes, for handing a key or value to another thread.
    var byteArray: [UInt8] { withBytes { Array($0) } }
}
