import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Failures are told in the tool's words (its flags and commands), never the library's option
/// names; a rolled-back file is refused on request; a commit that recovery refused is a warning.
@Suite("sealkv tool: messages")
struct ToolMessageTests {
    /// Library vocabulary that means nothing at the command line.
    static let libraryWords = [".openExisting", ".createIfMissing", ".createNew", ".readOnly", "Options.", "allow overwriting",
                               "Open the store read-only", "Database.", "reopen it writable"]

    static func expectToolWords(_ r: ToolProcess.Result, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for word in libraryWords {
            #expect(!r.err.contains(word), "\(what) says '\(word)': \(r.err)", sourceLocation: sourceLocation)
        }
    }

    @Test func failuresNameTheToolsFlagsAndCommands() throws {
        let f = ToolFixture()
        let store = try f.store("m.sealkv", lines: ToolFixture.lines(10))
        try f.run(["backup", store, f.path("copy.sealkv")]).expect(0, "backup")
        let cases: [([String], [String: String], String)] = [
            (["init", store], [:], "never replaces"),
            (["compact", store, f.path("copy.sealkv")], [:], "--force"),
            (["backup", store, f.path("copy.sealkv")], [:], "--force"),
            (["get", f.path("absent.sealkv"), "k"], [:], "sealkv init"),
            (["put", f.path("absent.sealkv"), "k", "v"], [:], "sealkv init"),
            (["get", store, "k", "--ns", "nope"], [:], "sealkv stat"),
        ]
        for (arguments, environment, says) in cases {
            let r = try f.run(arguments, environment: environment)
            r.expect(2, arguments.joined(separator: " "))
            #expect(r.err.contains(says), "\(arguments.joined(separator: " ")): \(r.err)")
            Self.expectToolWords(r, arguments.joined(separator: " "))
        }
        let wrong = try ToolProcess.run(["get", store, "k"], environment: ["SEALKV_PASSWORD": "not the key"])
        wrong.expect(2, "a password for a key-file store")
        #expect(wrong.err.contains("--key-file"), "\(wrong.err)")
    }

    /// A store on a read-only file system: writes say so in those words, reads still work.
    @Test func aReadOnlyFileSystemIsNamed() throws {
        let f = ToolFixture()
        let mountPoint = f.path("ro")
        #expect(mkdir(mountPoint, 0o700) == 0)
        guard system("mount -t tmpfs -o size=16m tmpfs '\(mountPoint)' 2>/dev/null") == 0 else {
            print("skipped: mounting a tmpfs needs root")
            return
        }
        defer { _ = system("umount '\(mountPoint)' 2>/dev/null") }
        let store = mountPoint + "/r.sealkv"
        try f.run(["init", store]).expect(0, "init")
        try f.run(["put", store, "k", "v"]).expect(0, "put")
        #expect(system("mount -o remount,ro '\(mountPoint)'") == 0)
        let put = try f.run(["put", store, "k", "w"])
        put.expect(2, "put on a read-only file system")
        #expect(put.err.contains("read-only file system"), "\(put.err)")
        Self.expectToolWords(put, "put on a read-only file system")
        #expect(try f.run(["get", store, "k"]).out == "v")
        let backup = try f.run(["backup", store, mountPoint + "/b.sealkv"])
        backup.expect(2, "backup into a read-only folder")
        Self.expectToolWords(backup, "backup into a read-only folder")
        // A new file there (a copy, a store) cannot be made: say that, not that reads still work.
        for arguments in [["backup", store, mountPoint + "/b.sealkv"], ["compact", store, mountPoint + "/c.sealkv"], ["init", mountPoint + "/n.sealkv"]] {
            let r = try f.run(arguments)
            r.expect(2, arguments.joined(separator: " "))
            #expect(r.err.contains("cannot create '\(arguments.last!)'") && r.err.contains("read-only file system")
                    && r.err.contains("writable file system") && !r.err.contains("still work"), "\(arguments.joined(separator: " ")): \(r.err)")
        }
    }

    /// A file that is not a store (or was cut short) is named in the message: "the file" leaves
    /// the user guessing which one, as does a lock file's path taken by a folder.
    @Test func aFileThatIsNotAStoreIsNamed() throws {
        let f = ToolFixture()
        var rng = SeededRandom(seed: 4)
        let stray = f.path("stray.bin")
        TestSupport.writeFile(stray, (0..<16384).map { _ in UInt8.random(in: 0...255, using: &rng) })
        for arguments in [["get", stray, "k"], ["check", stray], ["stat", stray]] {
            let r = try f.run(arguments)
            r.expect(2, arguments.joined(separator: " "))
            #expect(r.err.contains("'\(stray)'") && r.err.contains("not a SealKV store"), "\(arguments.joined(separator: " ")): \(r.err)")
        }
        let store = try f.store("t.sealkv", lines: ToolFixture.lines(300))
        let whole = TestSupport.readFile(store)
        TestSupport.writeFile(store, Array(whole.prefix(2 * 4096)))
        let cut = try f.run(["get", store, "k"])
        cut.expect(2, "a store cut short")
        #expect(cut.err.contains("'\(store)'") && cut.err.contains("truncated"), "\(cut.err)")
        let locked = try f.store("l.sealkv")
        _ = unlink(locked + "-lock")
        #expect(mkdir(locked + "-lock", 0o700) == 0)
        let folder = try f.run(["get", locked, "k"])
        folder.expect(2, "a folder where the lock file belongs")
        #expect(folder.err.contains("'\(locked)-lock'") && folder.err.contains("is a directory") && folder.err.contains("move"), "\(folder.err)")
    }

    /// Commits once more, then flips a bit in a leaf that commit wrote: recovery will refuse it.
    /// Returns the damaged page and the commit's txnid.
    private func damageALeafOfTheNewestCommit(_ store: String, _ f: ToolFixture) throws -> (page: Int, newest: Int) {
        try f.run(["put", store, "newest", "v"]).expect(0, "put")
        let pages = try f.run(["pages", store, "--json"]).out.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let newest = pages.compactMap { $0["txnid"] as? Int }.max() ?? 0
        let page = try #require(pages.first { $0["txnid"] as? Int == newest && $0["kind"] as? String == "leaf" }?["page"] as? Int)
        var bytes = TestSupport.readFile(store)
        bytes[page * 4096 + 1000] ^= 1
        TestSupport.writeFile(store, bytes)
        return (page, newest)
    }

    /// `check --meta N` on the commit recovery refused lists its damage and says what that means
    /// and what to do, without telling the user to run `sealkv check` (the command running).
    @Test func checkingARefusedCommitGivesAdviceThatLeadsSomewhere() throws {
        let f = ToolFixture()
        let store = try f.store("c.sealkv", lines: ToolFixture.lines(200))
        let (page, newest) = try damageALeafOfTheNewestCommit(store, f)
        let stat = try JSONSerialization.jsonObject(with: Data(try f.run(["stat", store, "--json"]).stdout)) as? [String: Any]
        let opened = try #require((stat?["recovery"] as? [String: Any])?["openedSlot"] as? Int)
        let slot = 1 - opened
        let check = try f.run(["check", store])
        check.expect(0, "check")
        #expect(check.err.contains("`sealkv check --meta \(slot)` lists what is damaged"), "the warning does not say how to look closer: \(check.err)")
        let refused = try f.run(["check", store, "--meta", "\(slot)"])
        refused.expect(1, "check --meta \(slot)")
        #expect(refused.out.contains("page \(page): ") && !refused.out.contains("page \(page): (namespace '') page \(page)"), "\(refused.out)")
        #expect(!refused.out.contains("sealkv check") && !refused.err.contains("Run `sealkv check`"), "circular advice: \(refused.out) \(refused.err)")
        #expect(refused.err.contains("newest commit (transaction \(newest))") && refused.err.contains("recovery refuses")
                && refused.err.contains("restore it from a backup"), "\(refused.err)")
        let json = try f.run(["check", store, "--meta", "\(slot)", "--json"])
        #expect(!json.out.contains("sealkv check"), "\(json.out)")
    }

    /// Counts agree with their nouns, durations are in units a person reads ("0.6 ms", not
    /// "0.000641993 seconds"), and `page` on a meta slot says `pages`, not the field `pageCount`.
    @Test func countsDurationsAndFieldsReadAsEnglish() throws {
        let f = ToolFixture()
        let store = try f.store("e.sealkv")
        let loaded = try f.run(["load", store], stdin: .bytes(Array("{\"key\":\"a\",\"value\":\"b\"}\n".utf8)))
        loaded.expect(0, "load")
        #expect(loaded.err.contains("loaded 1 entry") && !loaded.err.contains("entries"), "\(loaded.err)")
        let check = try f.run(["check", store, "--timing"])
        check.expect(0, "check")
        #expect(!check.out.contains("seconds") && !check.out.contains("1 pages"), "\(check.out)")
        let pattern = try Regex(#"every invariant holds \(\d+(\.\d)? (µs|ms|s)\)"#)
        #expect(check.out.contains(pattern), "\(check.out)")
        #expect(check.out.contains(try Regex(#"page by page, synchronously: \d+(\.\d)? (µs|ms|s)\n"#)), "\(check.out)")
        let meta = try f.run(["page", store, "0"])
        meta.expect(0, "page 0")
        #expect(!meta.out.contains("pageCount") && meta.out.contains("\npages "), "\(meta.out)")
    }

    /// `--min-txn` and `SEALKV_MIN_TXN` refuse a store whose newest commit is older.
    @Test func aRolledBackStoreIsRefusedOnRequest() throws {
        let f = ToolFixture()
        let store = try f.store("r.sealkv", lines: ToolFixture.lines(10))
        try f.run(["backup", store, f.path("old.sealkv")]).expect(0, "backup")
        try f.run(["put", store, "k", "v"]).expect(0, "put")
        let stat = try JSONSerialization.jsonObject(with: Data(try f.run(["stat", store, "--json"]).stdout)) as? [String: Any]
        let txn = try #require(stat?["txnid"] as? Int)
        try f.run(["get", store, "k", "--min-txn", "\(txn)"]).expect(0, "the newest commit")
        _ = system("cp '\(f.path("old.sealkv"))' '\(store)'")
        let refused = try f.run(["get", store, "k", "--min-txn", "\(txn)"])
        refused.expect(2, "rolled back")
        #expect(refused.err.contains("rolled back") && refused.err.contains("--min-txn"), "\(refused.err)")
        Self.expectToolWords(refused, "rolled back")
        try f.run(["scan", store], environment: ["SEALKV_MIN_TXN": "\(txn)"]).expect(2, "SEALKV_MIN_TXN")
        try f.run(["scan", store, "--min-txn", "0"], environment: ["SEALKV_MIN_TXN": "\(txn)"]).expect(0, "the flag wins")
        try f.run(["scan", store], environment: ["SEALKV_MIN_TXN": "-3"]).expect(2, "a bad SEALKV_MIN_TXN")
    }

    /// A damaged page of the newest commit: recovery opens the previous commit, and every command
    /// says so on stderr (stat too); check passes with a warning, --strict fails.
    @Test func aRefusedCommitIsAWarningEverywhere() throws {
        let f = ToolFixture()
        let store = try f.store("w.sealkv", lines: ToolFixture.lines(200))
        let (page, _) = try damageALeafOfTheNewestCommit(store, f)
        let get = try f.run(["get", store, "key-0000001"])
        get.expect(0, "get")
        #expect(get.err.contains("warning") && get.err.contains("page \(page)"), "\(get.err)")
        try f.run(["get", store, "newest"]).expect(1, "the refused commit's key")
        let stat = try f.run(["stat", store])
        #expect(stat.out.contains("fell back") && stat.err.contains("warning"), "\(stat.out) \(stat.err)")
        let check = try f.run(["check", store])
        check.expect(0, "check")
        #expect(check.out.contains("warning") && !check.out.contains("restore from a backup"), "\(check.out)")
        try f.run(["check", store, "--strict"]).expect(1, "check --strict")
        let put = try f.run(["put", store, "after", "v"])
        put.expect(0, "put")
        #expect(put.err.contains("replaces the refused commit"), "\(put.err)")
        try f.run(["check", store, "--strict"]).expect(0, "after the write")
    }

    /// `page` on a meta slot lists the commit's fields one per line, each label apart from its
    /// value (the longest, "catalog.entries", once ran into its number: "catalog.entrie0").
    @Test func aMetaPagesLabelsStandApartFromTheirValues() throws {
        let f = ToolFixture()
        let store = try f.store("p.sealkv", lines: ToolFixture.lines(10))
        let shown = try f.run(["page", store, "0"])
        shown.expect(0, "page 0")
        let lines = shown.out.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("catalog.entries ") }, "\(shown.out)")
        for line in lines {
            let label = line.prefix { $0 != " " }
            #expect(line.count > label.count && !label.hasSuffix("0") && !label.hasSuffix("1"), "label and value run together: '\(line)'")
        }
    }
}
