/// The `--listen` address of `serve`, HOST:PORT (an IPv6 address in brackets: `[::1]:6380`),
/// checked part by part so a mistake is named: a missing port, an empty host, a port out of range.
struct ListenAddress: Equatable {
    let host: String
    let port: Int

    /// Parses `text`; the message of a failure names `--listen`, repeats what was given and shows
    /// an address of the accepted shape.
    init(parsing text: String) throws {
        let example = "like 127.0.0.1:6379 (or [::1]:6379 for IPv6)"
        guard let colon = text.lastIndex(of: ":") else {
            throw ToolFailure("--listen: '\(text)' has no port; give HOST:PORT, \(example).", exitCode: 2)
        }
        var host = String(text[..<colon])
        let portText = String(text[text.index(after: colon)...])
        if host.hasPrefix("[") || host.hasSuffix("]") {
            guard host.hasPrefix("[") && host.hasSuffix("]") && host.count > 2 else {
                throw ToolFailure("--listen: '\(text)' has an unbalanced or empty [...] host; give HOST:PORT, \(example).", exitCode: 2)
            }
            host = String(host.dropFirst().dropLast())
        } else if host.contains(":") {
            throw ToolFailure("--listen: '\(text)' looks like an IPv6 address without brackets; write the address in brackets and the port after them, like [::1]:6379.", exitCode: 2)
        }
        let examplePort = Int(portText).flatMap { (0...65535).contains($0) ? $0 : nil } ?? 6379
        guard !host.isEmpty else {
            throw ToolFailure("--listen: the host part of '\(text)' is empty; give the address to listen on, like 127.0.0.1:\(examplePort) (or [::1]:\(examplePort) for IPv6).", exitCode: 2)
        }
        guard !portText.isEmpty, portText.allSatisfy(\.isASCIIDigit), let port = Int(portText), (0...65535).contains(port) else {
            let shown = portText.isEmpty ? "empty" : "'\(portText)'"
            throw ToolFailure("--listen: the port of '\(text)' is \(shown); give a port from 0 to 65535 (0 picks a free one), like \(text[..<colon]):6379.", exitCode: 2)
        }
        self.host = host
        self.port = port
    }
}
