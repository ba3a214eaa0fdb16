import ArgumentParser
import SealKV

/// A key given as text (an argument) or, for bytes that are not UTF-8, in hex (`--key-hex`).
struct KeyOptions: ParsableArguments {
    @Option(name: .customLong("key-hex"), help: ArgumentHelp("The key as hex digits (for keys that are not text), instead of KEY.", valueName: "hex"))
    var keyHex: String?

    @Option(name: .customLong("ns"), help: "Namespace (default: the default namespace).")
    var namespace = ""

    /// The key bytes, from `--key-hex` or the text `argument`; exactly one must be given.
    func key(argument: String?) throws -> [UInt8] {
        switch (argument, keyHex) {
        case (let text?, nil): return Array(text.utf8)
        case (nil, let hex?): return try hexBytes(hex, option: "--key-hex")
        case (nil, nil): throw ToolFailure("give the key as an argument, or in hex with --key-hex.", exitCode: 2)
        case (_?, _?): throw ToolFailure("give the key either as an argument or with --key-hex, not both.", exitCode: 2)
        }
    }
}

/// `sealkv put DB KEY [VALUE | -]`
struct PutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "put",
        abstract: "Store a value ('-' or no value reads it from stdin).",
        discussion: """
        Binary-safe forms: --key-hex HEX instead of KEY (the one argument after the store is then the \
        value), and --value-hex HEX or --value-file FILE instead of VALUE. A value from stdin or a file \
        is refused as soon as it passes the 1 GiB value limit; the store's lock is taken first.
        """)
    @Argument(help: "The store.") var path: String
    @Argument(help: "The key (or --key-hex).") var key: String?
    @Argument(help: "The value, or '-' to read it from stdin (or --value-hex, --value-file).") var value: String?
    @OptionGroup var keyOptions: KeyOptions
    @Option(name: .customLong("value-hex"), help: ArgumentHelp("The value as hex digits.", valueName: "hex")) var valueHex: String?
    @Option(name: .customLong("value-file"), help: ArgumentHelp("Read the value from this file.", valueName: "file")) var valueFile: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Time to live in seconds (fractions down to 1 ms).", valueName: "seconds")) var ttl: String?
    @OptionGroup var store: StoreOptions

    func run() throws {
        // With --key-hex, the one positional argument after the store is the value.
        let (keyText, valueText) = keyOptions.keyHex != nil && value == nil ? (nil, key) : (key, value)
        let keyBytes = try keyOptions.key(argument: keyText)
        let ttlMilliseconds = try ttl.map { try NumericArgument.ttlMilliseconds($0, "--ttl") }
        let given = [valueText.map { _ in "VALUE" }, valueHex.map { _ in "--value-hex" }, valueFile.map { _ in "--value-file" }].compactMap { $0 }
        guard given.count <= 1 else { throw ToolFailure("give one value: \(given.joined(separator: " or ")), not several.", exitCode: 2) }
        let hexValue = try valueHex.map { try hexBytes($0, option: "--value-hex") }
        let file = try valueFile.map { try InputFile(path: $0, what: "the value file") }
        // Take the store's lock before reading a value that may be large and slow to arrive.
        let db = try openStore(path, store, writable: true)
        defer { db.close() }
        let write = { (bytes: UnsafeRawBufferPointer) throws in
            try storeCall(store: path) {
                try db.write { tx in
                    let ns = try tx.namespace(keyOptions.namespace)
                    if let ttlMilliseconds {
                        try ns.put(keyBytes, bytes, ttl: .milliseconds(ttlMilliseconds))
                    } else {
                        try ns.put(keyBytes, bytes)
                    }
                }
            }
        }
        if let hexValue {
            try hexValue.withUnsafeBytes { try write($0) }
        } else if let valueText, valueText != "-" {
            try Array(valueText.utf8).withUnsafeBytes { try write($0) }
        } else {
            let value = try ValueBuffer(reading: file ?? InputFile.standardInput())
            try write(value.bytes)
        }
    }
}

/// `sealkv get DB KEY`: the value on stdout; exit 1 when absent.
struct GetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Print a value, as raw bytes (exit 1 when absent).")
    @Argument(help: "The store.") var path: String
    @Argument(help: "The key (or --key-hex).") var key: String?
    @OptionGroup var keyOptions: KeyOptions
    @OptionGroup var store: StoreOptions

    func run() throws {
        let keyBytes = try keyOptions.key(argument: key)
        let db = try openStore(path, store, writable: false)
        defer { db.close() }
        let out = OutputBuffer()
        let found: Void? = try storeCall(store: path) {
            try db.read { tx in try tx.existingNamespace(keyOptions.namespace).withValue(for: keyBytes) { try out.append($0) } }
        }
        guard found != nil else { throw ToolFailure("no value at that key", exitCode: 1) }
        try out.flush()
    }
}

/// `sealkv del DB KEY`: exit 1 when absent.
struct DelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "del", abstract: "Delete a key (exit 1 when absent).")
    @Argument(help: "The store.") var path: String
    @Argument(help: "The key (or --key-hex).") var key: String?
    @OptionGroup var keyOptions: KeyOptions
    @OptionGroup var store: StoreOptions

    func run() throws {
        let keyBytes = try keyOptions.key(argument: key)
        let db = try openStore(path, store, writable: true)
        defer { db.close() }
        let deleted = try storeCall(store: path) {
            try db.write { tx in
                // A write transaction creates a namespace it names: look first, so a typo creates nothing.
                let name = keyOptions.namespace
                guard try name.isEmpty || tx.namespaces().contains(name) else { return nil as Bool? }
                return try tx.namespace(name).delete(keyBytes)
            }
        }
        guard let deleted else {
            throw ToolFailure("there is no namespace '\(keyOptions.namespace)' in '\(path)'; `sealkv stat` lists the namespaces of a store.", exitCode: 2)
        }
        guard deleted else {
            throw ToolFailure("no value at that key", exitCode: 1)
        }
    }
}
