#if canImport(Glibc)
import Glibc
#endif

/// Writes a large commit's sealed pages on a thread of its own while the committing thread seals
/// the next batch and, when the pages are scattered over the file, starts each batch's writeback
/// to the device at once: the commit's final fdatasync then finds most of its pages already
/// written, and sealing (CPU) overlaps the disk.
///
/// Batches are written one at a time in the order they were submitted, so a recording backend sees
/// the same sequence of writes as without the thread. At most ``depth`` batches wait in the queue:
/// their sealed copies are the only memory this adds. The thread starts with the first batch, so a
/// commit that fits in one batch never creates it. No write here is a sync: the caller writes the
/// meta and syncs once ``finish()`` has returned without an error.
final class BackgroundPageWriter: @unchecked Sendable {
    /// Batches that may wait for the thread before `submit` blocks.
    static let depth = 2

    private struct State {
        var queue: [[PageWrite]] = []
        var error: SealKVError?
    }
    private let storage: any PageStorage
    private let buffers: PageBufferPool
    private let state = Locked(State())
    /// Counts queued batches, plus one wake-up when the caller finishes.
    private let queued: UnsafeMutablePointer<sem_t>
    /// Counts free places in the queue.
    private let room: UnsafeMutablePointer<sem_t>
    private var thread: pthread_t?
    /// Set when the thread could not be created: batches are then written by the caller.
    private var inline = false

    /// Whether each batch's writeback is started as soon as it is written.
    let startsWriteback: Bool

    /// A writer for one commit. Every buffer handed to ``submit(_:)`` goes back to `buffers` once
    /// written (or once writing failed). `startingWriteback` suits pages scattered over a file:
    /// each is a request of its own to the device, so starting them early overlaps the device
    /// with sealing. A commit that rewrites most of a file (a fill) leaves it off: the final sync
    /// then writes its pages as a few large requests, far faster than batch by batch.
    init(storage: any PageStorage, buffers: PageBufferPool, startingWriteback: Bool) {
        self.storage = storage
        self.buffers = buffers
        startsWriteback = startingWriteback
        queued = .allocate(capacity: 1)
        room = .allocate(capacity: 1)
        sem_init(queued, 0, 0)
        sem_init(room, 0, UInt32(Self.depth))
    }

    deinit {
        precondition(thread == nil, "a BackgroundPageWriter was dropped without finish()")
        sem_destroy(queued)
        sem_destroy(room)
        queued.deallocate()
        room.deallocate()
    }

    /// Queues `batch` (sealed pages in page order; ownership of their buffers passes here). Waits
    /// while the queue is full. Throws the first write error seen so far, so the caller stops
    /// sealing pages that will not be written.
    func submit(_ batch: [PageWrite]) throws(SealKVError) {
        if let error = state.withLock({ $0.error }) {
            giveBack(batch)
            throw error
        }
        if thread == nil && !inline { start() }
        if inline {
            write(batch)
            if let error = state.withLock({ $0.error }) { throw error }
            return
        }
        Self.wait(room)
        state.withLock { $0.queue.append(batch) }
        sem_post(queued)
    }

    /// Waits until every submitted batch is written (or given up after an error), stops the
    /// thread, and throws the first write error.
    func finish() throws(SealKVError) {
        if let thread {
            sem_post(queued)
            pthread_join(thread, nil)
            self.thread = nil
        }
        if let error = state.withLock({ $0.error }) { throw error }
    }

    private func start() {
        let context = Unmanaged.passRetained(self).toOpaque()
        var id = pthread_t()
        let rc = pthread_create(&id, nil, { context in
            let writer = Unmanaged<BackgroundPageWriter>.fromOpaque(context!).takeRetainedValue()
            writer.run()
            return nil
        }, context)
        if rc == 0 {
            thread = id
        } else {
            Unmanaged<BackgroundPageWriter>.fromOpaque(context).release()
            inline = true
        }
    }

    /// The thread: writes batches until woken with an empty queue (by ``finish()``).
    private func run() {
        while true {
            Self.wait(queued)
            guard let batch = state.withLock({ $0.queue.isEmpty ? nil : $0.queue.removeFirst() }) else { return }
            write(batch)
            sem_post(room)
        }
    }

    /// Writes one batch unless an earlier one failed, starts its writeback if asked to, and returns
    /// its buffers.
    private func write(_ batch: [PageWrite]) {
        defer { giveBack(batch) }
        guard state.withLock({ $0.error == nil }) else { return }
        do throws(SealKVError) {
            try storage.writePages(batch, sync: false)
            if startsWriteback { storage.startWriteback(batch) }
        } catch {
            state.withLock { $0.error = error }
        }
    }

    private func giveBack(_ batch: [PageWrite]) {
        for w in batch { buffers.give(UnsafeMutableRawPointer(mutating: w.bytes)) }
    }

    private static func wait(_ semaphore: UnsafeMutablePointer<sem_t>) {
        while sem_wait(semaphore) != 0 && errno == EINTR {}
    }
}
