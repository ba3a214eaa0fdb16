import Foundation

/// "512 B", "72.0 KiB", "1.5 GiB": a byte count in powers of 1024.
func formatBytes(_ n: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(n)
    var u = 0
    while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
    return u == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[u])
}

/// "85 µs", "0.6 ms", "12 ms", "1.2 s", "3 min 20 s", "2 h 5 min": a duration in the unit a
/// person reads at a glance, with two or three significant digits (not `Duration`'s
/// "0.000641993 seconds").
func formatDuration(_ d: Duration) -> String {
    let (seconds, attoseconds) = d.components
    let total = Double(seconds) + Double(attoseconds) / 1e18
    switch total {
    case ..<0.000_1: return String(format: "%.0f µs", total * 1e6)
    case ..<0.01: return String(format: "%.1f ms", total * 1e3)
    case ..<1: return String(format: "%.0f ms", total * 1e3)
    case ..<60: return String(format: "%.1f s", total)
    case ..<3600: return "\(Int(total) / 60) min \(Int(total) % 60) s"
    default: return "\(Int(total) / 3600) h \(Int(total) % 3600 / 60) min"
    }
}

/// "1 entry", "3 entries", "0 pages": a count with its noun in the right number.
func counted(_ n: some BinaryInteger, _ singular: String, _ plural: String? = nil) -> String {
    "\(n) \(n == 1 ? singular : plural ?? singular + "s")"
}
