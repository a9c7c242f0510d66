import BadgeModel
import BadgeStore
import Foundation
import LMDB
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A write waiting for the writer thread: `apply` runs inside the batch's transaction and returns
/// what to do once the batch has committed; `fail` reports a refusal or a failed commit.
struct PendingWrite: Sendable {
    let deadline: ContinuousClock.Instant?
    let apply: @Sendable (borrowing WriteTransaction, Int64) throws(BadgeError) -> @Sendable () -> Void
    let fail: @Sendable (BadgeError) -> Void
    /// When it was made, right before it was queued (for `badges_writer_queue_wait_seconds`).
    let queuedAt = ContinuousClock.now
}

/// The one thread that owns every LMDB write transaction.
///
/// Callers enqueue; the thread takes everything waiting, applies it in one transaction, commits once
/// (made durable by the store: a journal append + fdatasync by default), and only then completes
/// the callers (group commit). LMDB ties a write transaction to
/// its OS thread, which is why this is a thread and not a task.
final class WriteQueue: @unchecked Sendable {
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var pending: [PendingWrite] = []
    private var stopping = false
    private var finished = false
    private var statistics = WriterStatistics()

    private let store: BadgeStore
    private let clock: @Sendable () -> Int64
    private let maxBatch: Int
    private let logger: Logger
    private let metrics: WriterMetrics
    /// Runs on the writer thread when a batch transaction is abandoned, so caches built inside it go.
    private let onRollback: @Sendable () -> Void
    /// Runs on the writer thread after each commit, before any of its completions: readers' caches
    /// drop what it changed before a caller can hear of the change.
    private let afterCommit: @Sendable (TrophyCaseChanges) -> Void
    /// Run on the writer thread after each batch's completions (see `BadgeService.addBatchObserver`).
    private let batchObservers = Mutex<[UInt64: @Sendable () -> Void]>([:])
    private let nextObserver = Atomic<UInt64>(0)
    /// The writer thread's id, set before it takes any work.
    private let writerThread = Atomic<UInt>(0)
    /// Housekeeping run on the writer thread between batches (see `Maintenance`).
    private let maintenance: Maintenance?
    /// Grows the store's map: after each batch when it is nearly full (false), and when a batch
    /// failed because it is full (true), which then retries the batch once if it grew.
    private let makeRoom: @Sendable (_ whenFull: Bool) -> Bool
    /// The last "batch failed" warning, and how many failures went unlogged since (writer thread
    /// only): a full store fails every batch, and one line per batch would flood the log.
    private var lastBatchFailureWarning: ContinuousClock.Instant?
    private var unloggedBatchFailures = 0
    /// Writes other threads are preparing and will submit soon (`announce()`).
    private let announced = Atomic<Int>(0)
    /// When the last announced write was submitted (guarded by `condition`).
    private var lastAnnouncedSubmit = ContinuousClock.now

    /// How long a batch may wait for writes that are still being prepared (`announce()`; by
    /// default 1 ms), and how soon after the previous announced one the next must arrive for the
    /// wait to go on (150 µs, about one Evaluate plan). The wait only happens while something is
    /// announced, but then holds the whole batch, unannounced writes in it included (never into the
    /// last `deadlineSlack` before a queued write's deadline). Evaluate prepares its plan on the caller's thread, so
    /// plans reach the writer one at a time; without waiting, each commit took the few that had
    /// arrived and paid an fdatasync for them (measured at 32 x 8: 10.8 events per commit and
    /// ~110 µs of writer time per event; with the wait 46.6 and ~80 µs).
    let gatherWindow: Duration
    let gatherGap: Duration
    /// What else bounds that wait (`GatherBound`).
    let gatherBound: GatherBound
    /// With `.measuredCommits`: a running average of the batches' commit times (writer thread only).
    private var commitEstimateNanoseconds: Int64 = 0

    /// Besides `gatherWindow` and `gatherGap`, a batch waits for announced writes no longer than:
    enum GatherBound: Sendable {
        /// ...a commit takes (a running average of the last batches'): waiting longer holds the
        /// batch's callers for more than the commit it would save costs. With a fast disk (an
        /// fdatasync of ~0.1 ms) the 1 ms window kept the writer idle while the callers' threads
        /// planned, then the callers idle while it committed: at 32 x 1, 14.5k events/s against
        /// 16-19k with the wait bounded by the commit (2026-11-28, 2 cores, 2 event loops).
        case measuredCommits
        /// ...this.
        case fixed(Duration)
        /// ...anything: only the window and the gap apply.
        case none
    }
    /// A batch stops waiting this long before a queued write's deadline: room for a commit with
    /// its fdatasync (~0.3-2 ms here) and for the writer thread waking late, which on this VM
    /// reaches 4-9 ms (with 5 ms, a gather test failed now and then: the write missed its deadline
    /// by a late wake-up). Writes due sooner just do not wait for others; the usual wait is 1 ms.
    static let deadlineSlack = Duration.milliseconds(25)

    /// Work the writer does by itself every `interval`, between batches, in transactions of its
    /// own: `run` returns true when it stopped with more left, and then runs again after
    /// `backlogPause` (so a backlog is worked off in steps, between callers' batches).
    struct Maintenance: Sendable {
        var interval: Duration
        var backlogPause: Duration = .milliseconds(50)
        var run: @Sendable (_ nowMs: Int64) -> Bool
    }

    init(
        store: BadgeStore, clock: @escaping @Sendable () -> Int64, maxBatch: Int, logger: Logger,
        metrics: WriterMetrics, onRollback: @escaping @Sendable () -> Void = {},
        afterCommit: @escaping @Sendable (TrophyCaseChanges) -> Void = { _ in }, maintenance: Maintenance? = nil,
        makeRoom: @escaping @Sendable (_ whenFull: Bool) -> Bool = { _ in false },
        gatherWindow: Duration = .microseconds(1_000), gatherGap: Duration = .microseconds(150),
        gatherBound: GatherBound = .measuredCommits
    ) {
        self.gatherWindow = gatherWindow
        self.gatherGap = gatherGap
        self.gatherBound = gatherBound
        self.metrics = metrics
        self.maintenance = maintenance
        self.makeRoom = makeRoom
        self.onRollback = onRollback
        self.afterCommit = afterCommit
        self.store = store
        self.clock = clock
        self.maxBatch = maxBatch
        self.logger = logger
        // The thread holds the queue until `stop()`: dropping the service without stopping it leaks
        // the thread rather than leaving it with a dangling queue.
        let thread = Thread {
            nameCurrentThread("badges-writer")
            self.run()
        }
        thread.start()
    }

    /// Says that a write is being prepared and will be submitted with `announced: true` (or
    /// `withdraw()`n): a batch may wait briefly for it instead of committing without it.
    func announce() {
        announced.wrappingAdd(1, ordering: .relaxed)
    }

    /// Takes back an `announce()` whose write will not be submitted.
    func withdraw() {
        announced.wrappingSubtract(1, ordering: .relaxed)
        // A batch may be waiting for it.
        condition.lock()
        condition.signal()
        condition.unlock()
    }

    /// Queues a write. After `stop()`, it fails at once with UNAVAILABLE.
    func submit(_ write: PendingWrite, announced wasAnnounced: Bool = false) {
        condition.lock()
        if wasAnnounced {
            announced.wrappingSubtract(1, ordering: .relaxed)
            lastAnnouncedSubmit = .now
        }
        if stopping {
            condition.unlock()
            write.fail(BadgeError(.unavailable, "the service is shutting down", reason: "shutting_down"))
            return
        }
        pending.append(write)
        condition.signal()
        condition.unlock()
    }

    /// Applies everything already queued, then stops the thread. Blocks until it has stopped.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }

    /// Writes waiting for the writer (not counting a batch being applied); for tests.
    var queued: Int {
        condition.lock()
        defer { condition.unlock() }
        return pending.count
    }

    var stats: WriterStatistics {
        condition.lock()
        defer { condition.unlock() }
        return statistics
    }

    /// True on the writer thread, where every completion of an applied write runs.
    var isWriterThread: Bool { writerThread.load(ordering: .relaxed) == Self.currentThreadID }

    /// `pthread_self()` as a number (0 is never a live thread's).
    private static var currentThreadID: UInt {
        #if canImport(Glibc)
            UInt(pthread_self())
        #else
            UInt(bitPattern: pthread_self())
        #endif
    }

    func addBatchObserver(_ observer: @escaping @Sendable () -> Void) -> UInt64 {
        let id = nextObserver.wrappingAdd(1, ordering: .relaxed).newValue
        batchObservers.withLock { $0[id] = observer }
        return id
    }

    func removeBatchObserver(_ id: UInt64) {
        _ = batchObservers.withLock { $0.removeValue(forKey: id) }
    }

    private func run() {
        writerThread.store(Self.currentThreadID, ordering: .relaxed)
        var maintenanceDue = maintenance.map { ContinuousClock.now + $0.interval }
        while true {
            if let maintenance, let due = maintenanceDue, due <= ContinuousClock.now {
                let more = maintenance.run(clock())
                maintenanceDue =
                    ContinuousClock.now
                    + (more ? min(maintenance.backlogPause, maintenance.interval) : maintenance.interval)
            }
            guard let batch = nextBatch(waitingUntil: maintenanceDue) else { break }
            if batch.isEmpty { continue }  // woken for maintenance
            count(writes: batch.count)
            apply(batch)
            if case .measuredCommits = gatherBound {
                let last = store.environment.lastCommitNanoseconds
                commitEstimateNanoseconds =
                    commitEstimateNanoseconds == 0 ? last : (commitEstimateNanoseconds * 7 + last) / 8
            }
            notifyObservers()
            // After the replies: a remap waits for a moment when no reader uses the map.
            _ = makeRoom(false)
        }
        // A later thread may be given the same id: it must not pass for the writer.
        writerThread.store(0, ordering: .relaxed)
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for work; nil once stopping and drained; empty when `due` came first.
    private func nextBatch(waitingUntil due: ContinuousClock.Instant?) -> [PendingWrite]? {
        condition.lock()
        defer { condition.unlock() }
        while pending.isEmpty {
            if stopping { return nil }
            if let due {
                if due <= ContinuousClock.now { return [] }
                waitForSignal(until: due)
            } else {
                condition.wait()
            }
        }
        if pending.count < maxBatch, announced.load(ordering: .relaxed) > 0 {
            // More writes are on their way: one commit (one fdatasync) for them all. Waits while
            // they keep coming, up to the window, and never past a queued write's deadline.
            let bound: Duration? =
                switch gatherBound {
                case .measuredCommits: .nanoseconds(commitEstimateNanoseconds)
                case .fixed(let duration): duration
                case .none: nil
                }
            let window = bound.map { min(gatherWindow, $0) } ?? gatherWindow
            let gap = bound.map { min(gatherGap, $0) } ?? gatherGap
            var until = ContinuousClock.now + window
            while pending.count < maxBatch, !stopping {
                for write in pending {
                    // Stops early enough for the write to be applied and synced before its deadline.
                    if let deadline = write.deadline { until = min(until, deadline - Self.deadlineSlack) }
                }
                let stopAt =
                    announced.load(ordering: .relaxed) > 0 ? until : min(until, lastAnnouncedSubmit + gap)
                if stopAt <= ContinuousClock.now { break }
                waitForSignal(until: stopAt)
            }
        }
        if pending.count <= maxBatch {
            defer { pending.removeAll(keepingCapacity: true) }
            return pending
        }
        let batch = Array(pending.prefix(maxBatch))
        pending.removeFirst(maxBatch)
        return batch
    }

    /// Waits on `condition` (held) until signalled or `instant`, whichever comes first.
    private func waitForSignal(until instant: ContinuousClock.Instant) {
        let (seconds, attoseconds) = ContinuousClock.now.duration(to: instant).components
        _ = condition.wait(until: Date(timeIntervalSinceNow: Double(seconds) + Double(attoseconds) / 1e18))
    }

    /// Adds to the statistics. Called before the callers concerned hear back, so that a caller who
    /// has its answer finds its write and commit counted.
    private func count(writes: Int = 0, commits: Int = 0) {
        condition.lock()
        statistics.writes += writes
        statistics.commits += commits
        statistics.largestBatch = max(statistics.largestBatch, writes)
        condition.unlock()
    }

    /// Applies a batch in one transaction. If the transaction fails as a whole (storage full, I/O
    /// error), each write is retried in a transaction of its own so that only the writes that
    /// cannot be stored fail.
    private func apply(_ batch: [PendingWrite], grown: Bool = false) {
        let now = clock()
        let start = ContinuousClock.now
        // Writes are taken in the order they came: the first waited longest.
        if !grown, let oldest = batch.first {
            metrics.queueWait.recordNanoseconds((start - oldest.queuedAt).inNanoseconds)
        }
        var live: [PendingWrite] = []
        live.reserveCapacity(batch.count)
        for write in batch {
            if let deadline = write.deadline, deadline <= start {
                write.fail(
                    BadgeError(
                        .deadlineExceeded, "the deadline passed before the write was applied",
                        reason: "deadline_exceeded"))
            } else {
                live.append(write)
            }
        }
        if live.isEmpty { return }

        var completions: [@Sendable () -> Void] = []
        var refusals: [(PendingWrite, BadgeError)] = []
        do throws(BadgeError) {
            let changes = try store.writeNotingChanges { txn throws(BadgeError) in
                for write in live {
                    do throws(BadgeError) {
                        completions.append(try write.apply(txn, now))
                    } catch  where !error.abortsTransaction {
                        // A refusal writes nothing, so the rest of the batch stands.
                        refusals.append((write, error))
                    }
                }
            }.changes
            afterCommit(changes)
        } catch {
            onRollback()
            // A full map that could grow takes the batch whole, once.
            if !grown, error.reason == "storage_full", makeRoom(true) { return apply(live, grown: true) }
            metrics.batchFailures.increment()
            warnOfFailedBatch(live.count, error)
            return applyOneByOne(live, now: now)
        }
        // Durable now: what callers wait for, completions excluded.
        metrics.commitDuration.recordNanoseconds((ContinuousClock.now - start).inNanoseconds)
        metrics.batchSize.record(live.count)
        count(commits: 1)
        for completion in completions { completion() }
        for (write, error) in refusals { write.fail(error) }
    }

    /// Logs a failed batch, at most once every 10 s, saying how many failed since the last line.
    private func warnOfFailedBatch(_ count: Int, _ error: BadgeError) {
        let now = ContinuousClock.now
        if let last = lastBatchFailureWarning, now - last < .seconds(10) {
            unloggedBatchFailures += 1
            return
        }
        let since =
            unloggedBatchFailures == 0 ? "" : " (and \(unloggedBatchFailures) more batches since the last warning)"
        logger.warning("batch of \(count) writes failed (\(error)); retrying one by one\(since)")
        lastBatchFailureWarning = now
        unloggedBatchFailures = 0
    }

    private func applyOneByOne(_ writes: [PendingWrite], now: Int64) {
        for write in writes {
            count(commits: 1)
            do throws(BadgeError) {
                let (completion, changes) = try store.writeNotingChanges { txn throws(BadgeError) in
                    try write.apply(txn, now)
                }
                afterCommit(changes)
                completion()
            } catch {
                onRollback()
                write.fail(error)
            }
            // Each of these commits is durable on its own: its reply need not wait for the rest.
            notifyObservers()
        }
    }

    /// Tells the batch observers that the completions run so far are all the batch has.
    private func notifyObservers() {
        for observer in batchObservers.withLock({ Array($0.values) }) { observer() }
    }
}

/// Counters of the writer's work, for tests, logs and benchmarks.
public struct WriterStatistics: Sendable, Hashable {
    /// Writes taken from the queue.
    public var writes = 0
    /// Transactions committed (or attempted).
    public var commits = 0
    public var largestBatch = 0
}

extension BadgeError {
    /// Storage failures leave the transaction unusable, unlike refusals, which write nothing.
    var abortsTransaction: Bool {
        switch code {
        case .internal, .dataLoss, .unavailable: true
        case .resourceExhausted: reason.hasPrefix("storage_")
        default: false
        }
    }
}
