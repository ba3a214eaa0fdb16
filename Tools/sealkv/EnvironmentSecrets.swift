#if canImport(Glibc)
import Glibc
#endif

/// The passwords the environment carried at startup (`SEALKV_PASSWORD`, `SEALKV_NEW_PASSWORD`),
/// moved out of the environment block at once.
///
/// `unsetenv` only removes a variable from the `environ` array: its bytes stay in the block the
/// kernel placed on the stack, which `/proc/PID/environ` shows to the user's other processes for as
/// long as this one runs (a `serve` for weeks). So the value is copied into wiped-on-release memory
/// and overwritten with zeros where it lies, then the variable is unset, so children do not inherit it.
enum EnvironmentSecrets {
    /// The variables treated as secrets.
    static let names = ["SEALKV_PASSWORD", "SEALKV_NEW_PASSWORD"]

    /// Each secret variable that was set, by name; read once, at the start of `main`.
    static let captured: [String: SecretBytes] = {
        var found: [String: SecretBytes] = [:]
        for name in names {
            if let value = takeVariable(name) { found[name] = value }
        }
        return found
    }()

    /// Copies the first value of `name`, then zeroes every occurrence in the environment block
    /// and unsets it. Returns nil if it was not set.
    private static func takeVariable(_ name: String) -> SecretBytes? {
        let prefix = Array((name + "=").utf8)
        var value: SecretBytes? = nil
        var i = 0
        while let entry = environ[i] {
            i += 1
            let matches = prefix.withUnsafeBufferPointer { p in
                strncmp(entry, UnsafeRawPointer(p.baseAddress!).assumingMemoryBound(to: CChar.self), prefix.count) == 0
            }
            guard matches else { continue }
            let start = UnsafeMutableRawPointer(entry) + prefix.count
            let count = strlen(entry) - prefix.count
            if value == nil { value = SecretBytes(copying: UnsafeRawBufferPointer(start: start, count: count)) }
            wipe(start, count: count)
        }
        if value != nil { unsetenv(name) }
        return value
    }
}

/// Secret bytes in memory of their own, locked against swapping where allowed, wiped on release.
final class SecretBytes: @unchecked Sendable {
    private let base: UnsafeMutableRawPointer
    /// How many bytes it holds.
    let count: Int

    init(copying bytes: UnsafeRawBufferPointer) {
        count = bytes.count
        base = UnsafeMutableRawPointer.allocate(byteCount: max(1, count), alignment: 16)
        if count > 0 { base.copyMemory(from: bytes.baseAddress!, byteCount: count) }
        _ = mlock(base, max(1, count))
    }

    deinit {
        wipe(base, count: count)
        _ = munlock(base, max(1, count))
        base.deallocate()
    }

    /// Calls `body` with the bytes; they must not escape it.
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }
}
