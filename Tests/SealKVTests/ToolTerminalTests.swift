import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What a person at a terminal sees: prompts on the terminal even when standard input is
/// redirected, `passwd` asking for the current password first, progress bars that reach 100%.
/// Each run gets a pseudo-terminal as its controlling terminal.
@Suite("sealkv tool: at a terminal")
struct ToolTerminalTests {
    /// Starts `arguments` with a new pseudo-terminal as its controlling terminal (and, with
    /// `stderrOnTerminal`, as its standard error).
    static func start(_ arguments: [String], terminal: PseudoTerminal, environment: [String: String] = [:],
                      stdin: ToolProcess.Input = .null, stderrOnTerminal: Bool = false) throws -> ToolProcess.Running {
        var descriptors = [(Int32(3), terminal.slavePath)]
        if stderrOnTerminal { descriptors.append((2, terminal.slavePath)) }
        return try ToolProcess.start(arguments.map { Array($0.utf8) }, environment: environment, stdin: stdin, extraDescriptors: descriptors)
    }

    /// Waits for the end, reading the terminal meanwhile so the child never blocks writing to it.
    static func finish(_ running: ToolProcess.Running, _ terminal: PseudoTerminal, timeout: Double = 60) -> ToolProcess.Result {
        let deadline = Date().addingTimeInterval(timeout)
        while running.isRunning && Date() < deadline {
            _ = terminal.transcript
            usleep(5_000)
        }
        return running.finish(timeout: 1)
    }

    @Test func thePromptGoesToTheTerminalWhenStdinIsRedirected() throws {
        let f = ToolFixture()
        let store = f.path("p.sealkv")
        try ToolProcess.run(["init", store], environment: ["SEALKV_PASSWORD": "tty pw"]).expect(0, "init")
        TestSupport.writeFile(f.path("in.jsonl"), Array("{\"key\":\"a\",\"value\":\"1\"}\n".utf8))
        let terminal = try PseudoTerminal()
        let load = try Self.start(["load", store], terminal: terminal, stdin: .file(f.path("in.jsonl")))
        #expect(terminal.waitFor("Password: "), "no prompt on the terminal: \(terminal.transcript) \(String(decoding: load.stderr, as: UTF8.self))")
        terminal.type("tty pw\n")
        let r = Self.finish(load, terminal)
        r.expect(0, "load with the password typed at the terminal")
        #expect(!terminal.transcript.contains("tty pw"), "the password was echoed: \(terminal.transcript)")
        #expect(try ToolProcess.run(["get", store, "a"], environment: ["SEALKV_PASSWORD": "tty pw"]).out == "1")
    }

    @Test func passwdAsksForTheCurrentPasswordFirst() throws {
        let f = ToolFixture()
        let store = f.path("p.sealkv")
        try ToolProcess.run(["init", store], environment: ["SEALKV_PASSWORD": "old pw"]).expect(0, "init")
        let terminal = try PseudoTerminal()
        let passwd = try Self.start(["passwd", store], terminal: terminal)
        #expect(terminal.waitFor("Current password: "), "\(terminal.transcript)")
        #expect(!terminal.transcript.contains("New password"), "asked for the new password first: \(terminal.transcript)")
        terminal.type("old pw\n")
        #expect(terminal.waitFor("New password: "), "\(terminal.transcript)")
        terminal.type("new pw\n")
        #expect(terminal.waitFor("Repeat: "), "\(terminal.transcript)")
        terminal.type("new pw\n")
        Self.finish(passwd, terminal).expect(0, "passwd")
        try ToolProcess.run(["check", store], environment: ["SEALKV_PASSWORD": "new pw"]).expect(0, "the new password opens it")

        // A wrong current password ends it before a new one is asked for.
        let again = try PseudoTerminal()
        let wrong = try Self.start(["passwd", store], terminal: again)
        #expect(again.waitFor("Current password: "))
        again.type("not it\n")
        let r = Self.finish(wrong, again)
        r.expect(2, "a wrong current password")
        #expect(!again.transcript.contains("New password"), "\(again.transcript)")
    }

    /// Bars end at 100% (check once stopped at 96%, as free pages are never read), and the
    /// page-by-page pass of `check --timing` shows its own bar instead of seconds of silence.
    @Test func progressBarsReachOneHundredPercent() throws {
        let f = ToolFixture()
        var lines = ToolFixture.lines(6000, valueSize: 200)
        lines += (0..<3000).map { "{\"key\":\"key-\(String(format: "%07d", $0 * 2))\",\"value\":\"w\"}" }
        let store = try f.store("p.sealkv", lines: lines)
        for command in [["check", store], ["check", store, "--timing"], ["backup", store, f.path("b.sealkv")],
                        ["compact", store, f.path("c.sealkv")], ["rekey", store]] {
            let terminal = try PseudoTerminal()
            let running = try Self.start(command + ["--key-file", f.keyFile], terminal: terminal, stderrOnTerminal: true)
            Self.finish(running, terminal).expect(0, command.joined(separator: " "))
            let shown = terminal.transcript
            #expect(shown.contains("100%"), "\(command.joined(separator: " ")): \(shown.suffix(300))")
            if command.contains("--timing") { #expect(shown.contains("page by page"), "\(shown.suffix(300))") }
        }
    }

    /// `load` measures its progress by the bytes of its input read, and its bar is drawn at most
    /// ten times a second: the last line read must still be shown as 100%, whether the input is
    /// named or redirected into standard input.
    @Test func loadsProgressBarReachesOneHundredPercent() throws {
        let f = ToolFixture()
        let input = f.path("in.jsonl")
        TestSupport.writeFile(input, Array((ToolFixture.lines(6000, valueSize: 200).joined(separator: "\n") + "\n").utf8))
        for (name, arguments, stdin) in [("named", [input], ToolProcess.Input.null), ("redirected", [], .file(input))] {
            let store = try f.store("l-\(name).sealkv")
            let terminal = try PseudoTerminal()
            let running = try Self.start(["load", store] + arguments + ["--key-file", f.keyFile], terminal: terminal,
                                         stdin: stdin, stderrOnTerminal: true)
            Self.finish(running, terminal).expect(0, "load, input \(name)")
            let shown = terminal.transcript
            #expect(shown.contains("100%"), "load, input \(name): \(shown.suffix(300))")
        }
    }
}
