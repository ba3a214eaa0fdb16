/// SealKV's version and format information.
public enum SealKVVersion {
    /// The library version.
    public static let string = "0.1.0"
    /// The on-disk format version this build reads and writes.
    public static let formatVersion = Int(FileFormat.formatVersion)
}
