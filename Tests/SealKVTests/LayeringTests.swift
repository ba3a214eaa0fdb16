import Foundation
import Testing

/// The library's folders are its layers, and dependencies point downward only (Docs/DESIGN.md,
/// "Layers"). The layers share one module, so the compiler cannot enforce this; this test does:
/// a file may name only what its own folder or a folder below it declares at the top level.
@Suite("Layering")
struct LayeringTests {
    /// The folders of Sources/SealKV, bottom to top.
    static let layers = ["Support", "Errors", "Format", "Codable", "Crypto", "Storage", "Pager", "BTree",
                         "Transactions", "Commit", "Check", "Database", "Fuzzing"]

    static var sources: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Sources/SealKV").standardized
    }

    /// The source with comments and string literals removed, so only code is searched.
    static func code(_ source: String) -> String {
        var out = source.replacing(#/\/\*[\s\S]*?\*\//#, with: "")
        out = out.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            var l = String(line).replacing(#/"(?:\\.|[^"\\])*"/#, with: "\"\"")
            if let comment = l.range(of: "//") { l = String(l[..<comment.lowerBound]) }
            return l
        }.joined(separator: "\n")
        return out
    }

    /// Names declared at the top level of `code` (types, functions, globals).
    static func topLevelDeclarations(_ code: String) -> [String] {
        let declaration = #/^(?:@\S+\s+)*(?:(?:public|package|internal|private|fileprivate|final|open|indirect)\s+)*(?:class|struct|enum|protocol|actor|typealias|func|let|var)\s+(\w+)/#.anchorsMatchLineEndings()
        return code.matches(of: declaration).map { String($0.1) }
    }

    @Test func dependenciesPointDownward() throws {
        let fm = FileManager.default
        // The DocC catalog (SealKV.docc) holds articles, not code: it is no layer.
        let folders = try fm.contentsOfDirectory(atPath: Self.sources.path).filter { !$0.hasPrefix(".") && !$0.hasSuffix(".docc") }.sorted()
        #expect(Set(folders) == Set(Self.layers), "Sources/SealKV's folders \(folders) are not the layers \(Self.layers): place a new folder in the layer map here and in Docs/DESIGN.md")
        var declaredIn: [String: Int] = [:]
        var files: [(layer: Int, name: String, code: String)] = []
        for (level, layer) in Self.layers.enumerated() {
            let dir = Self.sources.appendingPathComponent(layer)
            for file in try fm.contentsOfDirectory(atPath: dir.path).sorted() where file.hasSuffix(".swift") {
                let code = Self.code(try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8))
                files.append((level, "\(layer)/\(file)", code))
                for name in Self.topLevelDeclarations(code) where declaredIn[name] == nil { declaredIn[name] = level }
            }
        }
        #expect(declaredIn.count > 100, "the declaration scan found only \(declaredIn.count) names: it is broken")
        var upward: [String] = []
        for file in files {
            let names = Set(file.code.matches(of: #/\b[A-Za-z_]\w*\b/#).map { String($0.0) })
            for name in names.sorted() {
                if let level = declaredIn[name], level > file.layer {
                    upward.append("\(file.name) uses \(name) from \(Self.layers[level])")
                }
            }
        }
        #expect(upward.isEmpty, "upward references:\n\(upward.joined(separator: "\n"))")
    }

    /// The scan must see an upward reference when there is one (it is not vacuous).
    @Test func theScanFindsAnUpwardReference() {
        let lower = Self.code("struct PageThing { let db: Database } // Database is mentioned \"Database\"")
        let names = Set(lower.matches(of: #/\b[A-Za-z_]\w*\b/#).map { String($0.0) })
        #expect(names.contains("Database") && names.contains("PageThing"))
        #expect(Self.topLevelDeclarations("public final class Database {\n    struct Nested {}\n}\nfunc helper() {}") == ["Database", "helper"])
        #expect(Self.code("let x = 1 // Database\n/* Database */ let s = \"Database\"").contains("Database") == false)
    }
}
