@_spi(Fuzzing) import SealKV

/// libFuzzer's entry point: one input, decoded as a page.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPage(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    FuzzEntryPoints.decodePage(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
