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
        subcommands: [InitCommand.self]
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
            printError(fullMessage(for: error))
            Glibc.exit(2)
        }
    }
}

func printError(_ message: String) {
    FileHandleOutput.standardError.write(message.hasSuffix("\n") ? message : message + "\n")
}
