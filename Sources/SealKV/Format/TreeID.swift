/// The trees of a store, each named once. A commit's meta slot holds the roots of the four built-in
/// trees; a named namespace is a tree whose descriptor is an entry of the catalog.
enum TreeID: Hashable, Sendable, CustomStringConvertible {
    /// The default namespace, "".
    case main
    /// Named namespaces: name → tree descriptor.
    case catalog
    /// Pages freed by each commit, keyed by the freeing txnid (section 6 of FORMAT.md).
    case freePages
    /// Entries with a time to live, by expiry time (section 7 of FORMAT.md).
    case expiry
    /// A named namespace (never empty).
    case namespace(String)

    /// The tree of namespace `name` ("" is the default namespace).
    init(namespace name: String) {
        self = name.isEmpty ? .main : .namespace(name)
    }

    /// The trees whose roots live in the meta slot, in the order a commit seals them.
    static let builtIn: [TreeID] = [.main, .catalog, .freePages, .expiry]

    /// The kind of this tree's leaves.
    var leafKind: PageKind { self == .catalog ? .catalogLeaf : .leaf }

    /// The namespace name, for the default and named namespaces; nil for the internal trees.
    var namespaceName: String? {
        switch self {
        case .main: ""
        case .namespace(let name): name
        case .catalog, .freePages, .expiry: nil
        }
    }

    /// How messages and the page map name the tree.
    var description: String {
        switch self {
        case .main: "namespace ''"
        case .namespace(let name): "namespace '\(name)'"
        case .catalog: "catalog"
        case .freePages: "free-page tree"
        case .expiry: "expiry index"
        }
    }
}
