import ArgumentParser
import SealKV
#if canImport(Glibc)
import Glibc
#endif

/// `sealkv load DB < data.jsonl`: the export format, one transaction per batch of lines.
struct LoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Load JSON lines (the export format) from stdin or a file.",
        discussion: """
        Lines are read as they arrive; each batch (--batch lines, or 64 MiB of keys and values, \
        whichever comes first) is one transaction, and a bad line loads nothing of its batch. The \
        store's lock is taken before any input is read. Entries whose "expires" time has passed are \
        skipped and counted.
        """)
    @Argument(help: "The store.") var path: String
    @Argument(help: "Read this file instead of stdin.") var input: String?
    @Option(parsing: .unconditional, help: "Lines per transaction (1 to 1000000).") var batch = "1000"
    @OptionGroup var store: StoreOptions

    /// A batch is committed once its keys and values reach this many bytes.
    static let batchBytes = 64 << 20

    func run() throws {
        let lines = try NumericArgument.integer(batch, "--batch", in: 1...1_000_000)
        let db = try openStore(path, store, writable: true)
        defer { db.close() }
        let file = try input.map { try InputFile(path: $0, what: "the input") } ?? InputFile.standardInput()
        if input == nil && isatty(STDIN_FILENO) != 0 {
            printError("sealkv: reading JSON lines from the terminal; end with Ctrl-D.")
        }
        var loader = BatchLoader(db: db, path: path, linesPerBatch: lines)
        let reader = LineReader(file)
        let bar = ProgressBar("load", unit: "lines", finishing: "committing")
        while let line = try reader.next() {
            try loader.add(line, number: reader.lineNumber)
            if loader.isFull(at: reader.lineNumber) { try loader.commit() }
            bar.update(done: reader.lineNumber, total: nil, fraction: file.size.map { Double(reader.consumed) / Double(max(1, $0)) })
        }
        // All of the input is read: 100 %, even if the last draw was skipped or the file changed size.
        bar.update(done: reader.lineNumber, total: nil, fraction: file.size.map { _ in 1 })
        try loader.commit()
        bar.finish()
        printError("loaded \(counted(loader.loaded, "entry", "entries"))" + (loader.expired > 0 ? "; skipped \(loader.expired) whose expiry time had already passed" : ""))
    }
}

/// Entries gathered into one transaction at a time.
struct BatchLoader {
    let db: Database
    let path: String
    let linesPerBatch: Int
    private(set) var loaded = 0
    private(set) var expired = 0
    private var entries: [LoadEntry] = []
    private var bytes = 0
    private var firstLine: Int? = nil
    /// The latest expiry the store accepts: 2^50 ms from now.
    private let latestExpiry = Options.wallClockMilliseconds() + (UInt64(1) << 50) - 1

    init(db: Database, path: String, linesPerBatch: Int) {
        self.db = db
        self.path = path
        self.linesPerBatch = linesPerBatch
    }

    /// Parses and checks line `number`; a bad line fails the load, naming it.
    mutating func add(_ line: UnsafeRawBufferPointer, number: Int) throws {
        if firstLine == nil { firstLine = number }
        let entry: LoadEntry?
        do throws(LineProblem) {
            entry = try EntryLineParser.parse(line, latestExpiry: latestExpiry)
        } catch {
            throw failure(line: number, error.phrase)
        }
        guard let entry else { return }
        if let problem = Self.problem(with: entry) { throw failure(line: number, problem) }
        entries.append(entry)
        bytes += entry.size
    }

    /// What the store would refuse about `entry`, said before anything of its batch is written.
    static func problem(with entry: LoadEntry) -> String? {
        if entry.key.count > Limits.maxKeyLength {
            return "has a key of \(entry.key.count) bytes, longer than the store's \(Limits.maxKeyLength)-byte limit"
        }
        if entry.value.count > Limits.maxValueLength {
            return "has a value of \(entry.value.count) bytes, longer than the store's \(Limits.maxValueLength)-byte limit"
        }
        if entry.namespace.utf8.count > Namespace.maxNameLength || entry.namespace.utf8.first == 0 {
            return "has an \"ns\" longer than \(Namespace.maxNameLength) bytes or starting with a NUL character"
        }
        return nil
    }

    /// Whether the batch is complete once line `number` is in.
    func isFull(at number: Int) -> Bool {
        guard let firstLine else { return false }
        return number - firstLine + 1 >= linesPerBatch || bytes >= LoadCommand.batchBytes
    }

    /// Writes the batch in one transaction, skipping entries whose expiry time has passed.
    mutating func commit() throws {
        defer {
            entries.removeAll(keepingCapacity: true)
            bytes = 0
            firstLine = nil
        }
        guard !entries.isEmpty else { return }
        let batch = entries
        let skipped: Int
        do {
            skipped = try db.write { tx in
                var skipped = 0
                var ns = try tx.namespace("")
                for e in batch {
                    if let expires = e.expires, expires <= tx.now {
                        skipped += 1
                        continue
                    }
                    if ns.name != e.namespace { ns = try tx.namespace(e.namespace) }
                    if let expires = e.expires {
                        try ns.put(e.key, e.value, expiresAt: expires)
                    } else {
                        try ns.put(e.key, e.value)
                    }
                }
                return skipped
            }
        } catch let error as SealKVError {
            throw ToolFailure("\(ToolFailure.toolWords(for: error, store: path, output: nil)) Nothing from the batch starting at line \(firstLine ?? 0) was loaded (\(counted(loaded, "entry", "entries")) before it \(loaded == 1 ? "was" : "were")).", exitCode: 2)
        }
        loaded += batch.count - skipped
        expired += skipped
    }

    private func failure(line: Int, _ what: String) -> ToolFailure {
        ToolFailure("line \(line) \(what); nothing from the batch starting at line \(firstLine ?? line) was loaded (\(counted(loaded, "entry", "entries")) before it \(loaded == 1 ? "was" : "were")). Fix the line and load again from there.", exitCode: 2)
    }
}

extension Options {
    /// The wall clock in Unix milliseconds (the store's clock for time to live).
    static func wallClockMilliseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
    }
}
