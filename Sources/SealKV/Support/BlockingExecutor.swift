#if canImport(Glibc)
import Glibc
#endif

/// Threads of SealKV's own for work that blocks — key derivation, fsync, long maintenance — so
/// `async` callers suspend instead of holding a thread of Swift's cooperative pool (which has one
/// per core: two blocked there stall every other task of a 2-core process).
///
/// Threads are started as work arrives, up to ``maximumThreads``; one idle for ``idleSeconds``
/// ends. Blocked writers waiting for the writer lock are what group commit gathers, so the cap is
/// well above the core count.
final class BlockingExecutor: @unchecked Sendable {
    /// Most threads at once.
    let maximumThreads: Int
    /// An idle thread ends after this long without work.
    static let idleSeconds = 5

    private var mutex = pthread_mutex_t()
    private var workAvailable = pthread_cond_t()
    private var queue: [@Sendable () -> Void] = []
    private var threads = 0
    private var idle = 0

    /// An executor of up to `maximumThreads` threads.
    init(maximumThreads: Int) {
        self.maximumThreads = max(1, maximumThreads)
        pthread_mutex_init(&mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(&workAvailable, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    /// The executor every handle shares for opening (a store's own executor exists only once it is
    /// open).
    static let opening = BlockingExecutor(maximumThreads: 16)

    /// Runs `work` on one of the executor's threads and suspends the caller until it is done.
    func run<R: Sendable>(_ work: @escaping @Sendable () throws -> R) async throws -> R {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<R, any Error>) in
            submit {
                do { continuation.resume(returning: try work()) } catch { continuation.resume(throwing: error) }
            }
        }
    }

    /// Queues `job`, starting a thread for it when none is idle.
    func submit(_ job: @escaping @Sendable () -> Void) {
        pthread_mutex_lock(&mutex)
        queue.append(job)
        let start = idle == 0 && threads < maximumThreads
        if start { threads += 1 }
        pthread_cond_signal(&workAvailable)
        pthread_mutex_unlock(&mutex)
        if start { startThread() }
    }

    private func startThread() {
        let context = Unmanaged.passRetained(self).toOpaque()
        var id = pthread_t()
        let rc = pthread_create(&id, nil, { context in
            let executor = Unmanaged<BlockingExecutor>.fromOpaque(context!).takeRetainedValue()
            executor.work()
            return nil
        }, context)
        if rc == 0 {
            pthread_detach(id)
        } else {
            Unmanaged<BlockingExecutor>.fromOpaque(context).release()
            // No thread: run the queue here rather than leave callers suspended forever.
            pthread_mutex_lock(&mutex)
            threads -= 1
            let jobs = threads == 0 ? queue : []
            if threads == 0 { queue.removeAll() }
            pthread_mutex_unlock(&mutex)
            for job in jobs { job() }
        }
    }

    /// A thread's loop: jobs until none came for ``idleSeconds``.
    private func work() {
        pthread_mutex_lock(&mutex)
        while true {
            while queue.isEmpty {
                idle += 1
                var deadline = timespec()
                clock_gettime(CLOCK_MONOTONIC, &deadline)
                deadline.tv_sec += Self.idleSeconds
                let rc = pthread_cond_timedwait(&workAvailable, &mutex, &deadline)
                idle -= 1
                if rc == ETIMEDOUT && queue.isEmpty {
                    threads -= 1
                    pthread_mutex_unlock(&mutex)
                    return
                }
            }
            let job = queue.removeFirst()
            pthread_mutex_unlock(&mutex)
            job()
            pthread_mutex_lock(&mutex)
        }
    }
}
