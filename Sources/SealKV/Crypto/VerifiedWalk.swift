/// What one complete, successful walk of recovery's verification (``Recovery``'s `verifyCommit`)
/// read, kept by ``AuthenticationCache`` when its storage named every page the walk reached
/// (``PageStorage/contentIdentity(ofPage:)``).
///
/// The walk is breadth-first: it checks the pages of its frontier in order, in batches, and each
/// page it checks appends the links it follows to the frontier. Its course up to any page is a
/// function of its ``Inputs`` (the commit's roots, watermark, txnid, page count and rekey record,
/// and the sealers) and of the bytes of the pages before it in that order; the file's size enters
/// only through the bounds check of the pages it reaches. So over another image of the store:
/// - when every page of the walk carries the name it had (equal identities mean equal bytes) and
///   the file holds the highest of them, the walk passes exactly as before, without running;
/// - when the first page that differs is page `j` of the walk, the walk up to it — its frontier,
///   the pages seen, the checks of the pages before `j` — is the one recorded here, so it resumes
///   at `j` (``resume(at:)``) and runs from there as it would have, to the same outcome and error.
///
/// This takes reads of pages inside the file to succeed, as they do for the storage that names
/// pages (the crash harness's states, in memory): a walk from the start reads a whole batch before
/// checking any of its pages, a resumed one reads page `j` first and a whole one reads nothing.
package final class VerifiedWalk: Sendable {
    /// Everything the walk depends on besides the pages it reads.
    struct Inputs: Hashable, Sendable {
        /// The roots the walk starts from, in order.
        let roots: [PageLink]
        /// Pages linked with a txnid above this one are walked.
        let watermark: UInt64
        let txnID: UInt64
        let pageCount: UInt64
        let rekey: RekeyProgress?
        /// The sealers' data keys (by object: keys never change) and the file id.
        let keys: ObjectIdentifier
        let previousKeys: ObjectIdentifier?
        let fileID: [UInt8]
    }

    /// How far another image agrees with a remembered walk.
    enum Agreement: Equatable {
        /// It names every page of the walk as the walk found it, and holds the highest.
        case whole
        /// Page `firstDifference` of the walk is the first it does not name so (0: run in full).
        case upTo(firstDifference: Int)
    }

    /// Where a resumed walk stands: its frontier, the pages its batches have claimed so far, and
    /// the batch it is in (the pages from `next` to `batchEnd` are still to check).
    struct Position {
        var frontier: [PageLink]
        var seen: Set<UInt64>
        var next: Int
        var batchEnd: Int
    }

    /// The number of pages the walk claims and reads as one batch.
    static let batchSize = 256

    let inputs: Inputs
    /// The walk's frontier when it finished: every page it checked, in order.
    let links: [PageLink]
    /// The identity each of those pages had.
    let identities: [UInt64]
    /// The frontier's length after each page was checked (the links it followed appended).
    let frontierAfter: [Int32]
    let highestPage: UInt64
    /// Held so that the objects ``Inputs`` names by identity live as long as this walk.
    private let keys: DataKeys
    private let previousKeys: DataKeys?

    init(inputs: Inputs, links: [PageLink], identities: [UInt64], frontierAfter: [Int32], sealer: PageSealer, previous: PageSealer?) {
        precondition(links.count == identities.count && links.count == frontierAfter.count && links.count >= inputs.roots.count)
        self.inputs = inputs
        self.links = links
        self.identities = identities
        self.frontierAfter = frontierAfter
        highestPage = links.lazy.map(\.page).max() ?? 0
        keys = sealer.keys
        previousKeys = previous?.keys
    }

    /// The inputs of a walk of `state` from `roots` above `watermark`, with these sealers.
    static func inputs(of state: CommitState, roots: [PageLink], watermark: UInt64, sealer: PageSealer, previous: PageSealer?) -> Inputs {
        Inputs(roots: roots, watermark: watermark, txnID: state.txnID, pageCount: state.pageCount, rekey: state.rekey,
               keys: ObjectIdentifier(sealer.keys), previousKeys: previous.map { ObjectIdentifier($0.keys) },
               fileID: sealer.fileID)
    }

    /// How far an image of `pageCount` pages, naming page `n`'s bytes `identity(n)`, agrees with
    /// the walk. A file too short for the highest page is walked in full, so that its bounds checks
    /// run in their order (a defence: recovery refuses a file shorter than the commit's page count,
    /// which is part of the ``Inputs``, before it walks).
    func agreement(pageCount: UInt64, identity: (UInt64) -> UInt64?) -> Agreement {
        guard highestPage < pageCount else { return .upTo(firstDifference: 0) }
        for (n, link) in links.enumerated() where identity(link.page) != identities[n] {
            return .upTo(firstDifference: n)
        }
        return .whole
    }

    /// The walk's position just before it checks page `j` (0 < `j` < the pages walked): the
    /// frontier the pages before `j` built, and the pages claimed by the batches up to and
    /// including the one holding `j` (a batch claims its pages before checking any of them).
    func resume(at j: Int) -> Position {
        precondition(j > 0 && j < links.count)
        var start = 0, end = min(Self.batchSize, inputs.roots.count)
        while end <= j {
            start = end
            end = min(start + Self.batchSize, Int(frontierAfter[start - 1]))
        }
        return Position(frontier: Array(links[..<Int(frontierAfter[j - 1])]), seen: Set(links[..<end].lazy.map(\.page)),
                        next: j, batchEnd: end)
    }
}
