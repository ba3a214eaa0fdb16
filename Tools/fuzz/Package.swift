// swift-tools-version: 6.0
// libFuzzer targets. Build only with the fuzzer runtime, which supplies `main`:
//   swift build --package-path Tools/fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
// then run, for example:
//   Tools/fuzz/.build/debug/fuzz-open Tools/fuzz/corpus/open -max_total_time=300
// `make fuzz` does both for each target (see Docs/SECURITY-TESTING.md).
import PackageDescription

let package = Package(
    name: "SealKVFuzz",
    dependencies: [
        .package(name: "SealKV", path: "../.."),
    ],
    targets: [
        // Arbitrary bytes as a store's plaintext, sealed under a known key, then opened, checked, read.
        .executableTarget(name: "fuzz-open", dependencies: [.product(name: "SealKV", package: "SealKV")]),
        // Arbitrary bytes decoded as each kind of page.
        .executableTarget(name: "fuzz-page", dependencies: [.product(name: "SealKV", package: "SealKV")]),
    ],
    swiftLanguageModes: [.v6]
)
