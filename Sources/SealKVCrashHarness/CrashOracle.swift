import SealKV
#if canImport(Glibc)
import Glibc
#endif

/// The oracle: what a crash state must satisfy. It opens (unless the store's creation was never
/// acknowledged), at a commit between the last acknowledged one and the last issued one, and that
/// commit is intact: every page it reaches is the one it wrote (and, with the full check, the
/// store's checker passes and the contents equal the acknowledged ones).
extension CrashHarness {
    /// What the oracle concluded about one state.
    enum Verdict {
        case opened
        /// Open failed, legitimately: the store's creation was never acknowledged.
        case neverCreated
        case violation(CrashViolation.Kind, String)
    }

    /// The oracle.
    func judge(_ state: OverlayStorage, base: EpochBase, d: Int64, i: Int64, recorder: Recorder, fullCheck: Bool) -> Verdict {
        judgeState(state, base: base, d: d, i: i, recorder: recorder, fullCheck: fullCheck)
    }

    private func judgeState(_ state: OverlayStorage, base: EpochBase, d: Int64, i: Int64, recorder: Recorder, fullCheck: Bool) -> Verdict {
        var opened: OpenedStore? = nil
        var openedWith: Credential? = nil
        var lastError: SealKVError? = nil
        for credential in recorder.credentials.reversed() {
            do throws(SealKVError) {
                opened = try Recovery.open(storage: state, credential: credential,
                                              verifyNewest: !configuration.deliberateBugs.has(.skipRecoveryCheck), unlockCache: unlockCache,
                                              authenticationCache: authenticationCache)
                openedWith = credential
                break
            } catch {
                // Try every credential of the run: a crash during a password change can leave a
                // store only the previous credential opens (the change was not acknowledged).
                if lastError == nil || lastError!.code == .wrongCredential { lastError = error }
            }
        }
        guard let opened else {
            if d < 0 { return .neverCreated }   // the store's creation was never acknowledged
            return .violation(.openFailed, "open failed with commit \(d) acknowledged: \(lastError?.message ?? "?")")
        }
        let k = Int64(opened.state.txnID)
        if k < d { return .violation(.lostCommit, "recovered commit \(k), but commit \(d) was acknowledged\(configuration.durability == .noSync ? " and synced" : "")") }
        if k > i { return .violation(.phantomCommit, "recovered commit \(k), which was never issued (last issued \(i))") }
        guard let reference = recorder.references[UInt64(k)] else {
            return .violation(.phantomCommit, "recovered commit \(k), which was never acknowledged in this run")
        }
        if opened.state.pageCount > state.pages {
            return .violation(.damagedPage, "commit \(k) needs \(opened.state.pageCount) pages; the file holds \(state.pages)")
        }
        if let page = base.firstDifference(reference, in: state) {
            return .violation(.damagedPage, "page \(page), reachable from recovered commit \(k), differs from what that commit wrote (a full check would fail)")
        }
        if fullCheck {
            do {
                // The real open, check and digest. None goes by the states' names: `check` decrypts
                // every page afresh; the open and the digest use the full checks' own cache, which
                // stands in for a decryption only after comparing all of a page's sealed bytes.
                let db = try Database.open(storage: ScratchStorage(state), credential: openedWith!, options: fullCheckOptions(),
                                           unlockCache: unlockCache, authenticationCache: fullCheckCache)
                defer { db.close() }
                let report = try db.check()
                if !report.isClean { return .violation(.checkFailed, "full check: \(report.problems.prefix(3))") }
                let digest = try Recorder.digest(db)
                if digest != reference.digest { return .violation(.contentsDiffer, "contents differ from commit \(k)") }
            } catch {
                return .violation(.checkFailed, "full check could not run: \(error)")
            }
        }
        return .opened
    }
}
