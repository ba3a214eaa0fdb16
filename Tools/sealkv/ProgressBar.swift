import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Whether standard error is a terminal (progress bars appear only then).
var stderrIsTerminal: Bool { isatty(STDERR_FILENO) != 0 }

/// A progress bar with rate and ETA on standard error, drawn only when it is a terminal. At 100 %
/// it says what is still going on (`finishing`), so a long sync does not look like a hang; a phase
/// with no measure of progress is announced with ``phase(_:)``.
final class ProgressBar {
    let label: String
    let unit: String
    /// What happens between the last unit of work and the end (e.g. "syncing to disk").
    let finishing: String?
    private var started = Date()
    private var lastDraw = Date.distantPast
    private let enabled: Bool

    init(_ label: String, unit: String, finishing: String? = nil, enabled: Bool = stderrIsTerminal) {
        self.label = label
        self.unit = unit
        self.finishing = finishing
        self.enabled = enabled
    }

    /// Draws `done` of `total` units (at most ten times a second, and always at 100 %). Without a
    /// total, the count and rate; `fraction` gives the share done when units are not the measure
    /// (a `fraction` of 1 is 100 % too, and always drawn).
    func update(done: Int, total: Int?, fraction: Double? = nil) {
        let complete = total.map { done >= $0 } ?? fraction.map { $0 >= 1 } ?? false
        guard enabled, Date().timeIntervalSince(lastDraw) > 0.1 || complete else { return }
        lastDraw = Date()
        let elapsed = max(Date().timeIntervalSince(started), 0.001)
        let rate = Double(done) / elapsed
        let share = fraction ?? total.map { $0 > 0 ? min(1, Double(done) / Double($0)) : 1 }
        var line = "\r\u{1B}[K\(label)"
        if let share {
            let filled = Int(share * 30)
            line += " [" + String(repeating: "#", count: filled) + String(repeating: " ", count: 30 - filled) + "] \(Int(share * 100))%"
        }
        line += " \(done)\(total.map { "/\($0)" } ?? "") \(unit) \(formatRate(rate))/s"
        if complete || share == 1, let finishing {
            line += ", \(finishing)…"
        } else if let share, share > 0, share < 1 {
            line += String(format: " ETA %.0fs", elapsed / share - elapsed)
        }
        printError(line, newline: false)
    }

    /// Says what a step without measurable progress is doing ("check: page by page, cold cache…").
    func phase(_ text: String) {
        guard enabled else { return }
        printError("\r\u{1B}[K\(label): \(text)…", newline: false)
        started = Date()
        lastDraw = .distantPast
    }

    /// Ends the bar's line.
    func finish() {
        if enabled { printError("") }
    }
}

func formatRate(_ r: Double) -> String {
    r >= 1e6 ? String(format: "%.1fM", r / 1e6) : r >= 1e3 ? String(format: "%.1fk", r / 1e3) : String(format: "%.0f", r)
}
