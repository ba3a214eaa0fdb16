@_spi(Fuzzing) import SealKV

/// libFuzzer's entry point: one input, opened as a store.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOpen(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    FuzzEntryPoints.openPlaintextImage(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
