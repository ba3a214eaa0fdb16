import SealKV
#if canImport(Glibc)
import Glibc
#endif

// A tour of SealKV: create an encrypted store in a temporary folder, write, reopen, read back,
// and show that the file holds no plaintext.

func section(_ title: String) { print("\n== \(title)") }

var template = Array("/tmp/sealkv-demo-XXXXXX".utf8CString)
guard let dir = mkdtemp(&template) else { fatalError("mkdtemp failed") }
let folder = String(cString: dir)
let path = folder + "/demo.sealkv"
let password = "correct horse battery staple"

do {
    section("Create \(path)")
    let db = try Database.open(at: path, credential: .password(password))
    try db.write { tx in
        try tx.put("user:1", "alice")
        try tx.put("user:2", "bob")
        try tx.put("user:3", "carol")
        try tx.namespace("sessions").put("alice", "token-4b1d")
    }
    print("wrote 3 users and 1 session in one transaction (txn \(try db.read { $0.snapshotTxnID }))")
    db.close()

    section("Reopen and read back")
    let reopened = try Database.open(at: path, credential: .password(password), options: Options(mode: .openExisting))
    try reopened.read { tx in
        for (key, value) in try tx.prefix("user:") {
            print("  \(String(decoding: key, as: UTF8.self)) = \(String(decoding: value, as: UTF8.self))")
        }
        print("  sessions/alice = \(try tx.namespace("sessions").getString("alice") ?? "-")")
    }
    reopened.close()

    section("The file holds no plaintext")
    let fd = open(path, O_RDONLY)
    var bytes = [UInt8](repeating: 0, count: 1 << 20)
    let n = read(fd, &bytes, bytes.count)
    close(fd)
    let needle = Array("alice".utf8)
    let found = n >= needle.count && (0...(n - needle.count)).contains { i in bytes[i..<(i + needle.count)].elementsEqual(needle) }
    print("  \(n) bytes on disk; the string \"alice\" appears: \(found ? "YES (bug!)" : "no")")

    section("A wrong password is refused and changes nothing")
    do {
        _ = try Database.open(at: path, credential: .password("wrong"), options: Options(mode: .openExisting))
        print("  opened?! (bug)")
    } catch {
        print("  \(error)")
    }
    print("\ndone; the store is at \(path)")
} catch {
    print("demo failed: \(error)")
    exit(1)
}
