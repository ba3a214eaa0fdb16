import ArgumentParser
import SealKV

/// `sealkv init DB`: create an empty encrypted store.
struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Create an empty encrypted store (never replaces a file).")

    @Argument(help: "Path of the store to create.")
    var path: String

    @Option(help: "Argon2id cost: interactive, moderate or sensitive.")
    var kdf: KDFPreset = .interactive

    @OptionGroup var credentialOptions: CredentialOptions

    func run() throws {
        try requireCreatable(path, replacing: .never)
        let credential = try credentialOptions.credential(confirmNew: true)
        let db = try storeCall(store: path, newStore: true) { try Database.open(at: path, credential: credential, options: Options(mode: .createNew, kdf: kdf.strength)) }
        db.close()
        print("created \(path)")
    }
}

enum KDFPreset: String, ExpressibleByArgument, CaseIterable {
    case interactive, moderate, sensitive
    var strength: KDFStrength {
        switch self {
        case .interactive: .interactive
        case .moderate: .moderate
        case .sensitive: .sensitive
        }
    }
}
