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
        The store's password comes from SEALKV_PASSWORD, --password-file, or a prompt without echo; \
        a raw 32-byte key from --key-file. It is never accepted as a plain argument.
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
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let failure as ToolFailure {
            printError(failure.description)
            Glibc.exit(failure.exitCode)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                exit(withError: error)
            }
            // One line: the message, and where to read more.
            let message = self.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
            printError("sealkv: \(message) (see 'sealkv --help')")
            Glibc.exit(2)
        }
    }
}

func printError(_ message: String, newline: Bool = true) {
    FileHandleOutput.standardError.write(newline && !message.hasSuffix("\n") ? message + "\n" : message)
}
