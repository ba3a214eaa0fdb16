import ArgumentParser
import SealKV

/// `sealkv export DB > data.jsonl`
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write every entry as JSON lines: {\"expires\", \"key\" or \"key_b64\", \"ns\", \"value\" or \"value_b64\"}.",
        discussion: """
        "expires" is the entry's expiry time as stored, in milliseconds since 1970 (absent for \
        entries without one), so `load` restores it exactly. The export is one snapshot.
        """)
    @Argument(help: "The store.") var path: String
    @Option(name: .customLong("ns"), help: "Only this namespace (default: all).") var namespace: String?
    @OptionGroup var store: StoreOptions

    /// Text values whose escaped form would pass this many bytes are written in base64, so every
    /// line stays within what `load` accepts (``LineReader/maxLineLength``).
    static let longestTextValue = 3 << 29

    func run() throws {
        let db = try openStore(path, store, writable: false)
        defer { db.close() }
        let out = OutputBuffer()
        try storeCall(store: path) {
            try db.read { tx in
                let names = try namespace.map { [$0] } ?? ([""] + tx.namespaces())
                for name in names {
                    let cursor = try tx.existingNamespace(name).cursor()
                    let nameBytes = Array(name.utf8)
                    try EntryWalk(cursor: cursor).forEach { key, value in
                        try write(key: key, value: value, namespace: nameBytes, expires: cursor.expiration, to: out)
                    }
                }
            }
        }
        try out.flush()
    }

    /// One line, fields in sorted order as before: expires, key, ns, value.
    private func write(key: [UInt8], value: [UInt8], namespace: [UInt8], expires: UInt64?, to out: OutputBuffer) throws {
        try out.append(0x7B)
        if let expires {
            try out.append("\"expires\":")
            try out.appendDecimal(expires)
            try out.append(0x2C)
        }
        try key.withUnsafeBytes { try EntryEncoding.appendJSONField("key", $0, to: out) }
        try out.append(",\"ns\":")
        try namespace.withUnsafeBytes { try EntryEncoding.appendJSONString($0, to: out) }
        try out.append(0x2C)
        try value.withUnsafeBytes { v in
            if v.count > Self.longestTextValue / 6 && EntryEncoding.escapedJSONLength(v) > Self.longestTextValue {
                try out.append("\"value_b64\":\"")
                try EntryEncoding.appendBase64(v, to: out)
                try out.append(0x22)
            } else {
                try EntryEncoding.appendJSONField("value", v, to: out)
            }
        }
        try out.append("}\n")
    }
}
