import ArgumentParser
import SealKV

@main
struct SealKVCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sealkv",
        abstract: "Inspect, verify and maintain SealKV stores.",
        version: "sealkv \(SealKVVersion.string) (format \(SealKVVersion.formatVersion))",
        subcommands: [InitCommand.self]
    )
}
