import SealKV
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The passwords the environment carried at startup (`SEALKV_PASSWORD`, and for `passwd`
/// `SEALKV_NEW_PASSWORD`), moved out of the environment block first thing in `main`.
///
/// `unsetenv` only removes a variable from the `environ` array: its bytes stay in the block the
/// kernel placed on the stack, which `/proc/PID/environ` shows to the user's other processes for as
/// long as this one runs (a `serve` for weeks). So every secret variable's bytes are overwritten with
/// zeros where they lie and the variable is unset, so children do not inherit it either. A variable
/// the command reads is first copied, straight from the block, into a ``Credential`` (the library's
/// guarded `sodium_malloc` memory, wiped when released): no `String` or array ever holds it. A
/// variable the command does not read is wiped without being copied anywhere.
enum EnvironmentSecrets {
    /// The variables treated as secrets.
    static let names = ["SEALKV_PASSWORD", "SEALKV_NEW_PASSWORD"]

    /// The secret variables `command` reads: `passwd` both, `crashtest` (which makes its own
    /// stores) none, every other command `SEALKV_PASSWORD`; an argument that is not a command none.
    static func variables(readBy command: String?, commands: [String]) -> Set<String> {
        guard let command, commands.contains(command), command != "crashtest" else { return [] }
        return command == "passwd" ? Set(names) : ["SEALKV_PASSWORD"]
    }

    /// The credentials taken from the environment and not yet handed out.
    private static let captured = Mutex<[String: EnvironmentPassword]>([:])

    /// Copies the variables in `wanted` into credentials, then zeroes every secret variable in the
    /// environment block and unsets it. Call once, before anything reads the environment.
    static func capture(_ wanted: Set<String>) {
        for name in names {
            if let password = takeVariable(name, keep: wanted.contains(name)) {
                captured.withLock { $0[name] = password }
            }
        }
    }

    /// The password `name` carried, handed over once: the tool keeps no copy after that, so the
    /// credential's memory is wiped as soon as the command drops it (once the store is open). Nil
    /// if it was not set, or this command does not read it.
    static func take(_ name: String) -> EnvironmentPassword? {
        captured.withLock { $0.removeValue(forKey: name) }
    }

    /// Copies the first value of `name` into a credential if `keep`, then zeroes every occurrence
    /// in the environment block and unsets it. Returns nil if it was not set or not kept.
    private static func takeVariable(_ name: String, keep: Bool) -> EnvironmentPassword? {
        let prefix = Array((name + "=").utf8)
        var password: EnvironmentPassword? = nil
        var found = false
        var i = 0
        while let entry = environ[i] {
            i += 1
            let matches = prefix.withUnsafeBufferPointer { p in
                strncmp(entry, UnsafeRawPointer(p.baseAddress!).assumingMemoryBound(to: CChar.self), prefix.count) == 0
            }
            guard matches else { continue }
            let start = UnsafeMutableRawPointer(entry) + prefix.count
            let count = strlen(entry) - prefix.count
            if keep && !found {
                let bytes = UnsafeRawBufferPointer(start: start, count: count)
                password = EnvironmentPassword(credential: Credential.password(bytes: bytes), isEmpty: count == 0)
            }
            found = true
            wipe(start, count: count)
        }
        if found { unsetenv(name) }
        return password
    }
}

/// A password from the environment: the credential, and whether it was empty (which the tool
/// refuses without `--allow-empty-password`).
struct EnvironmentPassword: Sendable {
    let credential: Credential
    let isEmpty: Bool
}
