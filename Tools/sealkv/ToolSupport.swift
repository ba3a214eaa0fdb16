import ArgumentParser
import Foundation
import SealKV

/// Opens a store for a command: existing stores only; read-only unless the command writes.
func openStore(_ path: String, _ credentials: CredentialOptions, writable: Bool, slot: Int? = nil, verify: Bool = true) throws -> Database {
    let credential = try credentials.credential()
    var options = Options(mode: writable ? .openExisting : .readOnly)
    options.metaSlot = slot
    options.verifyNewestCommit = verify
    do {
        return try Database.open(at: path, credential: credential, options: options)
    } catch where error.code == .fileNotFound {
        throw ToolFailure("there is no store at '\(path)'; check the path, or create one with `sealkv init \(path)`.", exitCode: 2)
    } catch {
        throw ToolFailure(error)
    }
}

/// Runs a store operation, turning store errors into the tool's one-line failure (exit 2).
func storeCall<R>(_ body: () throws -> R) throws -> R {
    do {
        return try body()
    } catch let error as SealKVError {
        throw ToolFailure(error)
    }
}

/// Bytes for a terminal or a script: printable ASCII as is, `\\`, `\t`, `\n` and other bytes as
/// escapes (`\xNN`), so every line holds exactly one entry.
func escaped(_ bytes: [UInt8]) -> String {
    var out = ""
    for b in bytes {
        switch b {
        case 0x5C: out += "\\\\"
        case 0x09: out += "\\t"
        case 0x0A: out += "\\n"
        case 0x20...0x7E: out.unicodeScalars.append(Unicode.Scalar(b))
        default: out += String(format: "\\x%02x", b)
        }
    }
    return out
}

/// A key or value in JSON: a string when the bytes are UTF-8, else base64 under `<name>_b64`.
func jsonField(_ name: String, _ bytes: [UInt8], into object: inout [String: Any]) {
    if let s = String(validating: bytes, as: UTF8.self) {
        object[name] = s
    } else {
        object[name + "_b64"] = Data(bytes).base64EncodedString()
    }
}

/// Reads `name` or `name_b64` from a JSON object as bytes.
func jsonBytes(_ name: String, in object: [String: Any]) -> [UInt8]? {
    if let s = object[name] as? String { return Array(s.utf8) }
    if let b = object[name + "_b64"] as? String, let d = Data(base64Encoded: b) { return Array(d) }
    return nil
}

/// One JSON document on one line, keys sorted, for stable scriptable output.
func jsonLine(_ object: Any) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    return String(decoding: data, as: UTF8.self)
}

/// Writes raw bytes to standard output.
func writeStdout(_ bytes: [UInt8]) {
    FileHandle.standardOutput.write(Data(bytes))
}

/// Whether standard error is a terminal (progress bars appear only then).
var stderrIsTerminal: Bool { isatty(STDERR_FILENO) != 0 }

/// A progress bar with rate and ETA on standard error, drawn only when it is a terminal.
final class ProgressBar {
    let label: String
    let unit: String
    let started = Date()
    var lastDraw = Date.distantPast
    let enabled = stderrIsTerminal

    init(_ label: String, unit: String) {
        self.label = label
        self.unit = unit
    }

    func update(done: Int, total: Int) {
        guard enabled, Date().timeIntervalSince(lastDraw) > 0.1 || done >= total else { return }
        lastDraw = Date()
        let elapsed = max(Date().timeIntervalSince(started), 0.001)
        let rate = Double(done) / elapsed
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 0
        let width = 30
        let filled = Int(fraction * Double(width))
        let eta = rate > 0 && total > done ? String(format: "%.0fs", Double(total - done) / rate) : "0s"
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        printError("\r\(label) [\(bar)] \(Int(fraction * 100))% \(done)/\(total) \(unit) \(formatRate(rate))/s ETA \(eta)", newline: false)
    }

    func finish() {
        if enabled { printError("") }
    }
}

func formatRate(_ r: Double) -> String {
    r >= 1e6 ? String(format: "%.1fM", r / 1e6) : r >= 1e3 ? String(format: "%.1fk", r / 1e3) : String(format: "%.0f", r)
}

func formatBytes(_ n: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(n)
    var u = 0
    while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
    return u == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[u])
}
