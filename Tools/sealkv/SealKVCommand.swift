import ArgumentParser
import SealKV
#if canImport(Glibc)
import Glibc
#endif

/// `sealkv`: inspect, verify and maintain SealKV stores.
///
/// Exit codes: 0 success; 1 "not found" (get/del) or "problems found" (check); 2 a usage error or a
/// store that cannot be opened, with a one-line message on stderr that says what to do.
@main
struct SealKVCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sealkv",
        abstract: "Inspect, verify and maintain SealKV stores.",
        discussion: """
        The store's password comes from --password-file, SEALKV_PASSWORD, or a prompt without echo on \
        the terminal; a raw 32-byte key from --key-file. It is never accepted as a plain argument. \
        SEALKV_MIN_TXN (or --min-txn) refuses a store rolled back to an older commit.
        """,
        version: "sealkv \(SealKVVersion.string) (format \(SealKVVersion.formatVersion))",
        subcommands: [
            InitCommand.self, PutCommand.self, GetCommand.self, DelCommand.self, ScanCommand.self,
            ExportCommand.self, LoadCommand.self, StatCommand.self, PagesCommand.self, PageCommand.self,
            CheckCommand.self, CompactCommand.self, BackupCommand.self, PasswdCommand.self, RekeyCommand.self,
            CrashtestCommand.self, ServeCommand.self,
        ]
    )

    static func main() {
        // First of all: move passwords out of the environment block (see EnvironmentSecrets),
        // keeping only those this command reads.
        let commands = configuration.subcommands.map { $0._commandName }
        EnvironmentSecrets.capture(EnvironmentSecrets.variables(readBy: CommandLine.arguments.dropFirst().first, commands: commands))
        do {
            let arguments = try CommandLineCheck.arguments()
            try CommandLineCheck.requireKnownCommand(arguments, known: commands)
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch let failure as ToolFailure {
            printError(failure.description)
            Glibc.exit(failure.exitCode)
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) }
            // One line: the message, and where to read more.
            let message = CommandLineCheck.usageMessage(for: error, message: self.message(for: error))
            printError("sealkv: \(message)")
            Glibc.exit(2)
        }
    }
}

/// Checks of the command line made before (and after) the argument parser's own.
enum CommandLineCheck {
    /// The arguments after the program name, refused if any is not valid UTF-8: Swift would turn
    /// the bad bytes into U+FFFD, so `put S $'a\xff' V` and `get S $'a\xfe'` would meet at one key.
    static func arguments() throws -> [String] {
        var out: [String] = []
        for i in 1..<Int(CommandLine.argc) {
            guard let raw = CommandLine.unsafeArgv[i] else { continue }
            let bytes = UnsafeRawBufferPointer(start: raw, count: strlen(raw))
            guard EntryEncoding.isValidUTF8(bytes) else {
                throw ToolFailure("argument \(i) ('\(printable(bytes))') is not valid UTF-8, and arguments must be text. Give other bytes in hex (--key-hex, --value-hex, --prefix-hex, --from-hex, --to-hex), with --value-file, or on stdin (put STORE KEY -).", exitCode: 2)
            }
            out.append(String(decoding: bytes, as: UTF8.self))
        }
        return out
    }

    /// Printable ASCII as is, other bytes as \xNN.
    static func printable(_ bytes: UnsafeRawBufferPointer) -> String {
        bytes.map { (0x20..<0x7F).contains($0) && $0 != 0x5C ? String(UnicodeScalar($0)) : "\\x" + String($0, radix: 16, uppercase: false).leftPadded(2) }.joined()
    }

    /// Refuses a first argument that names no command, suggesting the nearest one.
    static func requireKnownCommand(_ arguments: [String], known: [String]) throws {
        guard let first = arguments.first, !first.hasPrefix("-"), first != "help", !known.contains(first) else { return }
        let nearest = known.map { ($0, editDistance(first, $0)) }.min { $0.1 < $1.1 }
        if let (name, distance) = nearest, distance <= max(1, min(2, first.count / 2)) {
            throw ToolFailure("'\(first)' is not a command; did you mean '\(name)'? (see 'sealkv --help')", exitCode: 2)
        }
        throw ToolFailure("'\(first)' is not a command; the commands are \(known.joined(separator: ", ")) (see 'sealkv --help').", exitCode: 2)
    }

    /// Levenshtein distance (a transposition counts as one edit).
    static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a), y = Array(b)
        var d = [[Int]](repeating: [Int](repeating: 0, count: y.count + 1), count: x.count + 1)
        for i in 0...x.count { d[i][0] = i }
        for j in 0...y.count { d[0][j] = j }
        for i in stride(from: 1, through: x.count, by: 1) {
            for j in stride(from: 1, through: y.count, by: 1) {
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
                if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[x.count][y.count]
    }

    /// The argument parser's message in one line, pointing at the command's own help.
    static func usageMessage(for error: Error, message: String) -> String {
        let arguments = (try? self.arguments()) ?? []
        let command = arguments.first.flatMap { SealKVCommand.configuration.subcommands.map { $0._commandName }.contains($0) ? $0 : nil }
        let help = "(see 'sealkv \(command.map { "\($0) " } ?? "")--help')"
        if let at = arguments.indices.dropFirst().first(where: { arguments[$0].count > 1 && arguments[$0].hasPrefix("-") && arguments[$0].dropFirst().allSatisfy(\.isASCIIDigit) }) {
            let negative = arguments[at]
            if arguments[at - 1].hasPrefix("--") {
                return "\(arguments[at - 1]) must not be negative; got '\(negative)' \(help)"
            }
            return "'\(negative)' is not an option: numbers here cannot be negative, and a key or value that starts with '-' goes after '--' \(help)"
        }
        let first = message.split(separator: "\n").first.map(String.init) ?? "invalid arguments"
        return "\(first.hasPrefix("Error: ") ? String(first.dropFirst(7)) : first) \(help)"
    }
}

extension String {
    /// The string with zeros in front up to `width` characters.
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
