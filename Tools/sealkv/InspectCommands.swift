import ArgumentParser
import Foundation
import SealKV

/// `sealkv stat DB`
struct StatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stat", abstract: "Show format, size, depth, entries, free pages, readers (--pages: pages by kind).")
    @Argument(help: "The store.") var path: String
    @Flag(help: "JSON output.") var json = false
    @Flag(help: "Also count pages by kind (reads and authenticates every page, as check does).") var pages = false
    @OptionGroup var store: StoreOptions

    func run() throws {
        let db = try openStore(path, store, writable: false)
        defer { db.close() }
        let s = try storeCall(store: path) { try db.stats() }
        var byKind: [PageCategory: Int]? = nil
        if pages {
            // Counting pages by kind reads every page, which takes a while on a large store.
            let bar = ProgressBar("stat", unit: "pages")
            bar.phase("reading every page to count them")
            byKind = try storeCall(store: path) { try db.check { bar.update(done: $0.done, total: $0.total) }.pagesByKind }
            bar.finish()
        }
        let recovery = db.recovery
        let namespaces = s.entries.keys.filter { !$0.isEmpty }.sorted()
        if json {
            print(jsonLine([
                "path": path, "formatVersion": s.formatVersion, "pageSize": 4096, "cipher": "XChaCha20-Poly1305-IETF",
                "keyDerivation": s.keyDerivation, "keyEpoch": s.keyEpoch, "rekeyInProgress": s.rekeyInProgress, "txnid": s.txnID, "pageCount": s.highWaterMark,
                "fileBytes": s.fileBytes,
                "pagesByKind": byKind.map { kinds in Dictionary(uniqueKeysWithValues: kinds.map { ($0.key.rawValue, $0.value) }) as Any } ?? NSNull(),
                "depth": s.depth, "entries": s.entries,
                "freePages": s.freePages, "namespaces": namespaces, "ioEngine": s.ioEngine,
                "readers": s.readers.map { r in ["txnid": r.txnID, "ageSeconds": Double(r.age.components.seconds), "pid": r.processID.map { $0 as Any } ?? NSNull()] as [String: Any] },
                "recovery": [
                    "fellBack": recovery.fellBack, "openedSlot": recovery.chosenSlot,
                    "slotTxnids": recovery.slotTxnIDs.map { $0.map { $0 as Any } ?? NSNull() },
                    "refusedReason": refusalReason(recovery).map { $0 as Any } ?? NSNull(),
                ] as [String: Any],
            ] as [String: Any]))
            return
        }
        let kinds = byKind.map { k in ": " + PageCategory.allCases.filter { $0 != .unreachable || k[$0] != nil }.map { "\($0) \(k[$0, default: 0])" }.joined(separator: ", ") }
            ?? " below the high-water mark (--pages counts them by kind)"
        print("""
        file          \(path) (\(formatBytes(s.fileBytes)))
        format        \(s.formatVersion), XChaCha20-Poly1305-IETF, 4096-byte pages
        keys          \(s.keyDerivation), key epoch \(s.keyEpoch)\(s.rekeyInProgress ? " (a rekey was interrupted: some pages are still sealed under the previous key; run `sealkv rekey` again to finish it)" : "")
        last txnid    \(s.txnID)
        pages         \(s.highWaterMark)\(kinds)
        depth         \(s.depth)
        entries       \(s.entries[""] ?? 0) in the default namespace\(namespaces.isEmpty ? "" : ", " + namespaces.map { "\($0) \(s.entries[$0]!)" }.joined(separator: ", "))
        namespaces    \(namespaces.isEmpty ? "-" : namespaces.joined(separator: ", "))
        free pages    \(s.freePages)
        readers       \(s.readers.isEmpty ? "none" : s.readers.map { "txn \($0.txnID), \(formatDuration($0.age)) old\($0.processID.map { ", process \($0)" } ?? "")" }.joined(separator: "; "))
        io engine     \(s.ioEngine)
        recovery      \(recovery.fellBack ? "fell back: " + (recoveryWarning(recovery, path: path, writable: false) ?? "") : "opened the newest commit (slot \(recovery.chosenSlot))")
        """)
    }
}

/// `sealkv pages DB`: one line per page.
struct PagesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pages", abstract: "One line per page: number, kind, txnid, entries, fill, links, owner.")
    @Argument(help: "The store.") var path: String
    @Flag(help: "JSON lines.") var json = false
    @OptionGroup var store: StoreOptions

    func run() throws {
        let db = try openStore(path, store, writable: false)
        defer { db.close() }
        let pages = try storeCall(store: path) { try db.pageMap() }
        var out = ""
        for p in pages {
            if json {
                out += jsonLine(["page": p.number, "kind": p.kind.rawValue, "txnid": p.txnID, "entries": p.entries,
                                 "fill": (p.fill * 1000).rounded() / 1000, "links": p.links.map { $0.page }, "owner": p.owner.description] as [String: Any]) + "\n"
            } else {
                let links = p.links.isEmpty ? "-" : p.links.map { String($0.page) }.joined(separator: ",")
                out += "\(p.number)\t\(p.kind)\t\(p.txnID)\t\(p.entries)\t\(Int((p.fill * 100).rounded()))%\t\(links)\t\(p.owner)\n"
            }
        }
        print(out, terminator: "")
    }
}

/// `sealkv page DB N`: one page decoded.
struct PageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "page", abstract: "Decode one page: header, entries, child links with their tags.")
    @Argument(help: "The store.") var path: String
    @Argument(help: "The page number (from 0).") var number: String
    @Flag(help: "Also dump the sealed bytes in hex.") var hex = false
    @OptionGroup var store: StoreOptions

    func run() throws {
        let number = try NumericArgument.integer(self.number, "the page number", in: 0...UInt64.max)
        let db = try openStore(path, store, writable: false)
        defer { db.close() }
        let d = try storeCall(store: path) { try db.inspect(page: number) }
        var out = """
        page          \(d.info.number)
        kind          \(d.info.kind) (\(d.info.owner))
        txnid         \(d.info.txnID)
        header        format \(d.version), key epoch \(d.keyEpoch), nonce \(d.nonce)
        tag           \(d.tag)

        """
        if let meta = d.meta {
            let fields = Self.metaFields(meta, shownTxnID: d.info.txnID)
            // Each label apart from its value, however long ("catalog.entries" is 15 characters).
            let width = max(14, (fields.map(\.label.count).max() ?? 0) + 1)
            for (label, value) in fields { out += "\(label.padding(toLength: width, withPad: " ", startingAt: 0))\(value)\n" }
        } else if d.info.number < 2 {
            out += "this meta slot does not authenticate (torn, damaged or never written)\n"
        }
        for (i, e) in d.entries.enumerated() {
            var line = "[\(i)] key \(EntryEncoding.escapedText(e.key.prefix(80)))\(e.key.count > 80 ? "..." : "")"
            if let v = e.value { line += " value (\(v.count) bytes) \(EntryEncoding.escapedText(v.prefix(48)))\(v.count > 48 ? "..." : "")" }
            if let l = e.link { line += (d.info.kind == .branch ? " child" : " overflow \(e.valueLength) bytes at") + " page \(l.page) txn \(l.txnID) tag \(l.tag)" }
            if let x = e.expiry { line += " expires \(x)" }
            out += line + "\n"
        }
        if d.info.kind == .overflow, let next = d.info.links.first { out += "next          page \(next.page) txn \(next.txnID) tag \(next.tag)\n" }
        if hex {
            for row in stride(from: 0, to: d.raw.count, by: 16) {
                out += String(format: "%04x  ", row) + d.raw[row..<(row + 16)].map { String(format: "%02x", $0) }.joined(separator: " ") + "\n"
            }
        }
        print(out, terminator: "")
    }
}

extension PageCommand {
    /// A meta slot's fields in the tool's words, sorted by label: the page count as `pages` (as
    /// `stat` says it), the library's `pageCount` never; the txnid left out when the line above
    /// shows it already.
    static func metaFields(_ meta: [String: String], shownTxnID: UInt64) -> [(label: String, value: String)] {
        var fields: [(label: String, value: String)] = []
        for (key, value) in meta {
            switch key {
            case "pageCount": fields.append(("pages", "\(value) (the high-water mark of this commit)"))
            case "txnid" where value == "\(shownTxnID)": continue
            default: fields.append((key, value))
            }
        }
        return fields.sorted { $0.label < $1.label }
    }
}

/// `sealkv check DB`: exit 1 when problems are found.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Authenticate every page and verify every invariant (exit 1 on problems).",
        discussion: """
        check verifies the commit every other command opens. If the newest commit did not survive \
        intact (a crash or power cut during a commit leaves that), recovery opens the previous one: \
        check verifies that one and names the refused commit as a warning; --strict counts warnings \
        as problems. --meta checks the commit in one meta slot as it is, reporting every damaged page. \
        --timing also checks page by page synchronously (each pass with the file dropped from the OS \
        cache) and reports both times.
        """)
    @Argument(help: "The store.") var path: String
    @Flag(help: "JSON output.") var json = false
    @Option(parsing: .unconditional, help: "Check the commit in this meta slot (0 or 1) as it is, without recovery.") var meta: String?
    @Flag(help: "Measure a page-by-page synchronous pass too, both from a cold OS cache.") var timing = false
    @Flag(help: "Treat warnings (a torn or damaged commit or meta slot) as problems.") var strict = false
    @OptionGroup var store: StoreOptions

    func run() throws {
        let slot = try meta.map { try NumericArgument.integer($0, "--meta", in: 0...1, note: "the two meta slots") }
        // Without --meta, open as every command does (recovery included); with it, the slot as it is.
        let db: Database
        do {
            db = try openStore(path, store, writable: false, slot: slot, verify: slot == nil)
        } catch let failure as ToolFailure where slot != nil && failure.message.contains("meta slot \(slot!) does not authenticate") {
            throw ToolFailure("meta slot \(slot!) of '\(path)' does not authenticate (torn, damaged or never written), so it holds no commit to check; the store opens the commit in the other slot, which `sealkv check '\(path)'` (without --meta) verifies.", exitCode: 2)
        }
        defer { db.close() }
        dropFromOSCache(path)
        let bar = ProgressBar("check", unit: "pages")
        let report = try storeCall(store: path) { try db.check { bar.update(done: $0.done, total: $0.total) } }
        bar.finish()
        // The library names a refused commit in its own words; say it in the tool's.
        let torn = recoveryWarning(db.recovery, path: path, writable: false)
        let warnings = report.warnings.map { w in
            Finding(page: w.page, message: torn != nil && w.message == db.recovery.warning ? torn! : w.message)
        }
        var sequential: Duration? = nil
        if timing {
            dropFromOSCache(path)
            let slow = ProgressBar("check, page by page from a cold cache", unit: "pages")
            sequential = try storeCall(store: path) { try db.check(readBatch: 1) { slow.update(done: $0.done, total: $0.total) } }.totalTime
            slow.finish()
        }
        if json {
            printJSON(report, warnings, db: db, sequential: sequential)
        } else {
            printText(report, warnings, db: db, sequential: sequential)
        }
        let failures = report.problems.count + (strict ? warnings.count : 0)
        if failures > 0 {
            let found = counted(report.problems.count, "problem") + (strict && !warnings.isEmpty ? " and \(counted(warnings.count, "warning")), which --strict counts" : "")
            throw ToolFailure("check found \(found)\(report.problems.isEmpty ? "" : "; " + advice(db.recovery, slot: slot) + ".")", exitCode: 1)
        }
    }

    /// What to do about problems found in the commit checked: restore from a backup, unless
    /// `--meta` chose a commit the store does not open (damage there may be expected).
    func advice(_ recovery: RecoveryReport, slot: Int?) -> String {
        guard let slot, let checked = recovery.slotTxnIDs[slot], let other = recovery.slotTxnIDs[1 - slot] else {
            return "restore '\(path)' from a backup"
        }
        if checked > other {
            return "meta slot \(slot) holds the newest commit (transaction \(checked)), which recovery refuses, so every command opens transaction \(other) in slot \(1 - slot) instead. A crash or power cut during that commit leaves exactly this, and the next write replaces it; if there was none, the file was damaged: restore it from a backup"
        }
        return "meta slot \(slot) holds the older commit (transaction \(checked)), whose pages later commits may reuse, so problems there are expected; the store opens transaction \(other) in slot \(1 - slot), which `sealkv check` without --meta verifies"
    }

    /// A problem's message as check reports it: without the page number a second time, and
    /// without the library's advice to run check (the user is running it; the last line says
    /// what to do).
    static func problemMessage(_ problem: CheckReport.Problem) -> String {
        var message = problem.message
        if let advice = message.range(of: " Run `sealkv check` and restore from a backup.") { message.removeSubrange(advice) }
        if let page = problem.page, let repeated = message.range(of: ") page \(page) ") {
            message.replaceSubrange(repeated, with: ") ")
        }
        return message
    }

    /// A warning to report: the checker's, or the tool's own about recovery.
    struct Finding {
        let page: UInt64?
        let message: String
    }

    private func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

    private func printJSON(_ report: CheckReport, _ warnings: [Finding], db: Database, sequential: Duration?) {
        var timingFields: [String: Any] = ["checkSeconds": seconds(report.totalTime), "readSeconds": seconds(report.readTime),
                                           "pagesRead": report.pagesRead, "ioEngine": (try? db.stats().ioEngine) ?? "?"]
        timingFields["sequentialCheckSeconds"] = sequential.map { seconds($0) as Any } ?? NSNull()
        print(jsonLine([
            "ok": report.isClean, "txnid": report.txnID, "pageCount": report.highWaterMark,
            "metaSlots": report.metaSlots.map { $0.map { $0 as Any } ?? NSNull() },
            "openedSlot": db.recovery.chosenSlot, "fellBack": db.recovery.fellBack,
            "refusedReason": refusalReason(db.recovery).map { $0 as Any } ?? NSNull(),
            "problems": report.problems.map { ["page": $0.page.map { $0 as Any } ?? NSNull(), "message": Self.problemMessage($0)] },
            "warnings": warnings.map { ["page": $0.page.map { $0 as Any } ?? NSNull(), "message": $0.message] },
            "pagesByKind": Dictionary(uniqueKeysWithValues: report.pagesByKind.map { ($0.key.rawValue, $0.value) }), "entries": report.entries, "timing": timingFields,
        ] as [String: Any]))
    }

    private func printText(_ report: CheckReport, _ warnings: [Finding], db: Database, sequential: Duration?) {
        let slots = report.metaSlots.enumerated().map { "slot \($0.offset): " + ($0.element.map { "txn \($0)" } ?? "invalid") }
        print("meta          \(slots.joined(separator: ", ")); opened slot \(db.recovery.chosenSlot)\(db.recovery.fellBack ? " (the newer commit was torn or damaged)" : "")")
        for p in report.problems { print(p.page.map { "page \($0): " } ?? "", Self.problemMessage(p), separator: "") }
        for w in warnings { print("warning: ", w.page.map { "page \($0): " } ?? "", w.message, separator: "") }
        print(report.isClean ? "ok: \(counted(report.pagesRead, "page")) authenticated, every invariant holds (\(formatDuration(report.totalTime)))"
                             : "\(counted(report.problems.count, "problem")) found")
        if let sequential { print("page by page, synchronously: \(formatDuration(sequential))") }
    }
}

/// Asks the kernel to drop the file's pages from its cache, so a pass reads from the device.
func dropFromOSCache(_ path: String) {
    let fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY)
    guard fd >= 0 else { return }
    _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
    close(fd)
}
