// swift-tools-version: 6.0
// The side-by-side benchmark: SealKV against LMDB, SQLCipher and SQLite. A package of its own, so the
// peer libraries never enter the core build. Run it with `make bench` from the repository root.
import PackageDescription

let package = Package(
    name: "SealKVBench",
    dependencies: [
        .package(name: "SealKV", path: "../.."),
    ],
    targets: [
        .systemLibrary(
            name: "CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        .executableTarget(
            name: "sealkv-bench",
            dependencies: [
                .product(name: "SealKV", package: "SealKV"),
                "CLMDB",
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
