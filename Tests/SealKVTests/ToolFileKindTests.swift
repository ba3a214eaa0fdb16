import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A FIFO, a directory or a device given as the store, as a file to read or as an output is
/// refused at once, saying what it is; nothing blocks on a FIFO without a writer.
@Suite("sealkv tool: kinds of file")
struct ToolFileKindTests {
    /// A character device node of our own (the real /dev/null must never be a test's target).
    static func deviceNode(in f: ToolFixture) -> String? {
        let path = f.path("null-device")
        return mknod(path, S_IFCHR | 0o600, dev_t(0x103)) == 0 ? path : nil
    }

    @Test func theStorePathMustBeARegularFile() throws {
        let f = ToolFixture()
        let fifo = f.path("fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        let targets: [(String, String)] = [(fifo, "FIFO"), (f.dir, "directory"), ("/dev/null", "character device")]
        for (target, kind) in targets {
            for command in [["get", target, "k"], ["stat", target], ["check", target], ["scan", target], ["put", target, "k", "v"],
                            ["export", target], ["load", target], ["pages", target], ["backup", target, f.path("out")]] {
                let r = try f.run(command, timeout: 30)
                r.expect(2, command.joined(separator: " "))
                #expect(r.err.contains(kind) && !r.err.contains("empty"), "\(command.joined(separator: " ")): \(r.err)")
            }
            let made = try f.run(["init", target], timeout: 30)
            made.expect(2, "init \(target)")
            #expect(made.err.contains(kind), "init \(target): \(made.err)")
        }
        #expect(FileManager.default.fileExists(atPath: "/dev/null"))
    }

    /// Outputs of compact and backup: never a FIFO, a directory or a device, even with --force,
    /// and never the store itself under another spelling of its path.
    @Test func outputsMustBeNewOrRegularFiles() throws {
        let f = ToolFixture()
        let store = try f.store("s.sealkv", lines: ToolFixture.lines(50))
        let fifo = f.path("fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        var targets: [(String, String)] = [(fifo, "FIFO"), (f.path("sub"), "directory")]
        #expect(mkdir(f.path("sub"), 0o700) == 0)
        if let device = Self.deviceNode(in: f) { targets.append((device, "character device")) }
        for (target, kind) in targets {
            for command in ["backup", "compact"] {
                let r = try f.run([command, store, target, "--force"], timeout: 30)
                r.expect(2, "\(command) onto \(target)")
                #expect(r.err.contains(kind), "\(command) onto \(target): \(r.err)")
            }
        }
        var st = stat()
        #expect(stat(fifo, &st) == 0 && (st.st_mode & S_IFMT) == S_IFIFO, "the FIFO was replaced")
        if let device = targets.first(where: { $0.1 == "character device" })?.0 {
            #expect(stat(device, &st) == 0 && (st.st_mode & S_IFMT) == S_IFCHR, "the device node was replaced")
        }
        let itself = try f.run(["compact", store, f.dir + "/./s.sealkv", "--force"])
        itself.expect(2, "compact onto the store itself")
        #expect(itself.err.contains("the store itself"), "\(itself.err)")
        try f.run(["backup", store, f.path("nofolder/out.sealkv")]).expect(2, "missing folder")
        try f.run(["check", store]).expect(0, "the store is intact")
    }

    /// Files the tool reads besides the store: the input of load, a value file.
    @Test func inputFilesMustBeRegularFilesOrPipes() throws {
        let f = ToolFixture()
        let store = try f.store("i.sealkv")
        let fifo = f.path("fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        for (target, kind) in [(fifo, "FIFO"), (f.dir, "directory"), ("/dev/null", "character device")] {
            let load = try f.run(["load", store, target], timeout: 30)
            load.expect(2, "load \(target)")
            #expect(load.err.contains(kind), "load \(target): \(load.err)")
            let put = try f.run(["put", store, "k", "--value-file", target], timeout: 30)
            put.expect(2, "put --value-file \(target)")
            #expect(put.err.contains(kind), "put --value-file \(target): \(put.err)")
        }
        let dirInput = try f.run(["load", store], stdin: .file(f.dir), timeout: 30)
        dirInput.expect(2, "load < directory")
        #expect(dirInput.err.contains("directory"), "\(dirInput.err)")
        TestSupport.writeFile(f.path("in.jsonl"), Array("{\"key\":\"a\",\"value\":\"1\"}\n".utf8))
        try f.run(["load", store, f.path("in.jsonl")]).expect(0, "load FILE")
        #expect(try f.run(["get", store, "a"]).out == "1")
    }
}
