// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "SealKV",
    products: [
        .library(name: "SealKV", targets: ["SealKV"]),
        .library(name: "SealKVCrashHarness", targets: ["SealKVCrashHarness"]),
        .executable(name: "sealkv", targets: ["sealkv"]),
        .executable(name: "sealkv-demo", targets: ["sealkv-demo"]),
        .executable(name: "sealkv-async-example", targets: ["sealkv-async-example"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
    ],
    targets: [
        // libsodium through pkg-config: XChaCha20-Poly1305, Argon2id, BLAKE2b, secure memory.
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        // liburing behind a header of our own: liburing.h must not meet Glibc in a Clang module.
        .target(
            name: "CSealURing",
            linkerSettings: [.linkedLibrary("uring")]
        ),
        // Atomic operations on memory shared between processes (the lock file's reader table).
        .target(name: "CSealAtomics"),
        .target(
            name: "SealKV",
            dependencies: ["CSodium", "CSealURing", "CSealAtomics"]
        ),
        // The crash-consistency harness: a product of its own, so applications can run it on their
        // own workloads; it reaches the store's storage layer through `package` access.
        .target(
            name: "SealKVCrashHarness",
            dependencies: ["SealKV"]
        ),
        // `sealkv serve`: the Redis-protocol server, on SwiftNIO, kept out of the core library.
        .target(
            name: "SealKVServer",
            dependencies: [
                "SealKV",
                "CSodium",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "sealkv",
            dependencies: [
                "SealKV",
                "SealKVCrashHarness",
                "SealKVServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Tools/sealkv"
        ),
        .executableTarget(
            name: "sealkv-demo",
            dependencies: ["SealKV"],
            path: "Tools/demo"
        ),
        // An example client of the async API: warnings are errors, so a strict-concurrency
        // diagnostic the API causes in client code fails the build.
        .executableTarget(
            name: "sealkv-async-example",
            dependencies: ["SealKV"],
            path: "Tools/async-example",
            swiftSettings: [.unsafeFlags(["-warnings-as-errors"])]
        ),
        .testTarget(
            name: "SealKVTests",
            dependencies: ["SealKV", "SealKVCrashHarness", "SealKVServer"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
