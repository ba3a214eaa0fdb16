import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One JSON document on one line, keys sorted, for stable scriptable output (`stat`, `pages`,
/// `check`, `crashtest`; the data path writes its JSON by hand, see ``EntryEncoding``).
func jsonLine(_ object: Any) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    return String(decoding: data, as: UTF8.self)
}

/// Writes a message to standard error (with a newline unless `newline` is false).
func printError(_ message: String, newline: Bool = true) {
    var bytes = Array((newline && !message.hasSuffix("\n") ? message + "\n" : message).utf8)
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress! + done, $0.count - done) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }
        done += n
    }
}
