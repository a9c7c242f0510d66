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
}

/// The one thread that owns every LMDB write transaction.
///
/// Callers enqueue; the thread takes everything waiting, applies it in one transaction, commits once,
/// and completes the callers once the commit is durable (group commit). LMDB ties a write
/// transaction to its OS thread, which is why this is a thread and not a task.
///
/// With `syncingLater` (and the store's journal) commits are pipelined: a batch is committed as
/// soon as its journal record is written, and the journal syncs the record on its own thread while
/// this one applies the next batch. The batch waits, staged, for its sync; only then are its
/// callers answered (`gate` holds back reads that would see it meanwhile). LMDB takes one write
/// transaction at a time, so without this the writer sat idle through every fdatasync.
final class WriteQueue: @unchecked Sendable {
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var pending: [PendingWrite] = []
    private var stopping = false
    private var finished = false
    private var statistics = WriterStatistics()

    private let store: BadgeStore
    /// Commit before the journal sync, and answer once it is done (see the type's comment).
    let syncingLater: Bool
    let gate: DurabilityGate
    /// Committed batches waiting for their journal sync, oldest first. Writer thread only.
    private var staged: [StagedBatch] = []
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
        gatherWindow: Duration = .microseconds(1_000), gatherGap: Duration = .microseconds(150),
        syncingLater: Bool = true, gate: DurabilityGate = DurabilityGate()
    ) {
        self.syncingLater = syncingLater
        self.gate = gate
        self.gatherWindow = gatherWindow
        self.gatherGap = gatherGap
        self.metrics = metrics
        self.maintenance = maintenance
        self.onRollback = onRollback
        self.afterCommit = afterCommit
        self.store = store
        self.clock = clock
        self.maxBatch = maxBatch
        self.logger = logger
        // The thread holds the queue until `stop()`: dropping the service without stopping it leaks
        // the thread rather than leaving it with a dangling queue.
        // Wakes a writer waiting for work, so that it answers a staged batch as soon as it is synced.
        if syncingLater {
            store.environment.setSyncObserver { [condition] in
                condition.lock()
                condition.signal()
                condition.unlock()
            }
        }
        let thread = Thread { self.run() }
        thread.name = "badges-writer"
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
            finishStaged(waiting: false)
            if let maintenance, let due = maintenanceDue, due <= ContinuousClock.now {
                // Its writes sync on their own: the callers before them hear back first.
                finishStaged(waiting: true)
                let more = maintenance.run(clock())
                maintenanceDue =
                    ContinuousClock.now
                    + (more ? min(maintenance.backlogPause, maintenance.interval) : maintenance.interval)
            }
            guard let batch = nextBatch(waitingUntil: maintenanceDue) else { break }
            if batch.isEmpty { continue }  // woken for maintenance or a sync
            count(writes: batch.count)
            apply(batch)
            notifyObservers()
        }
        finishStaged(waiting: true)
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
            if stagedReady { return [] }
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
            var until = ContinuousClock.now + gatherWindow
            while pending.count < maxBatch, !stopping {
                for write in pending {
                    // Stops early enough for the write to be applied and synced before its deadline.
                    if let deadline = write.deadline { until = min(until, deadline - Self.deadlineSlack) }
                }
                let stopAt =
                    announced.load(ordering: .relaxed) > 0 ? until : min(until, lastAnnouncedSubmit + gatherGap)
                if stopAt <= ContinuousClock.now { break }
                waitForSignal(until: stopAt)
                if stagedReady {
                    // Answers the synced batch's callers now rather than after this one commits.
                    condition.unlock()
                    finishStaged(waiting: false)
                    condition.lock()
                }
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
    private func apply(_ batch: [PendingWrite]) {
        let now = clock()
        let start = ContinuousClock.now
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

        var completions: [(PendingWrite, @Sendable () -> Void)] = []
        var refusals: [(PendingWrite, BadgeError)] = []
        var gateEntry: UInt64?
        let ticket: SyncTicket
        // With nothing else to do, the writer would only wait for the sync: it syncs in place then
        // (visible only once durable, no hand-over to the sync thread), as it does a quiet caller.
        let later = syncingLater && moreWorkWaiting
        do throws(BadgeError) {
            let written = try store.writeNotingChanges(
                syncingLater: later,
                beforeCommit: { changes in
                    // Even without trophy-case changes: a batch may still write what `.everything`
                    // reads (evaluated events' outcomes, pruned events), and a stored outcome
                    // is replayed and dry-run outside the writer.
                    if later { gateEntry = gate.add(changes) }
                }
            ) { txn throws(BadgeError) in
                for write in live {
                    do throws(BadgeError) {
                        completions.append((write, try write.apply(txn, now)))
                    } catch  where !error.abortsTransaction {
                        // A refusal writes nothing, so the rest of the batch stands.
                        refusals.append((write, error))
                    }
                    // The previous batch's callers hear back as soon as its sync is done.
                    finishStaged(waiting: false)
                }
            }
            ticket = written.ticket
            afterCommit(written.changes)
        } catch {
            if let gateEntry { gate.remove(gateEntry) }
            onRollback()
            metrics.batchFailures.increment()
            logger.warning("batch of \(live.count) writes failed (\(error)); retrying one by one")
            finishStaged(waiting: true)
            return applyOneByOne(live, now: now)
        }
        // Answered once durable: now, without a journal or syncing in place; else once the
        // journal's sync thread is done (a batch without a record waits for the one before it).
        staged.append(
            StagedBatch(
                ticket: ticket, gateEntry: gateEntry, completions: completions, refusals: refusals, start: start))
        finishStaged(waiting: false)
    }

    /// Writes are queued or being prepared: the next batch is ready to go.
    private var moreWorkWaiting: Bool {
        if announced.load(ordering: .relaxed) > 0 { return true }
        condition.lock()
        defer { condition.unlock() }
        return !pending.isEmpty
    }

    /// A committed batch waiting for its journal sync before its callers hear back.
    private struct StagedBatch {
        let ticket: SyncTicket
        let gateEntry: UInt64?
        let completions: [(PendingWrite, @Sendable () -> Void)]
        let refusals: [(PendingWrite, BadgeError)]
        let start: ContinuousClock.Instant
    }

    /// The oldest staged batch is synced (or its sync failed): it can be answered.
    private var stagedReady: Bool {
        guard let first = staged.first else { return false }
        return store.environment.isSynced(first.ticket) || store.environment.syncFailure != nil
    }

    /// Answers the staged batches whose syncs are done, oldest first; `waiting`, all of them,
    /// waiting for their syncs. Writer thread only.
    private func finishStaged(waiting: Bool) {
        while let batch = staged.first {
            if !store.environment.isSynced(batch.ticket) {
                guard waiting || store.environment.syncFailure != nil else { return }
                do {
                    try store.environment.waitUntilSynced(batch.ticket)
                } catch {
                    return failStaged(error)
                }
            }
            staged.removeFirst()
            if let entry = batch.gateEntry { gate.durable(through: entry) }
            metrics.commitDuration.recordNanoseconds(Self.nanoseconds(ContinuousClock.now - batch.start))
            metrics.batchSize.record(batch.completions.count + batch.refusals.count)
            count(commits: 1)
            for (_, completion) in batch.completions { completion() }
            for (write, error) in batch.refusals { write.fail(error) }
            notifyObservers()
        }
    }

    /// A journal sync failed: every staged batch may be lost, so none of its callers may be told
    /// it succeeded, and reads that would see them fail too.
    private func failStaged(_ error: any Error) {
        let failure = BadgeError(
            .unavailable,
            "the write was committed but could not be made durable (\(error)); restart badged to recover",
            reason: "storage_sync_failed")
        logger.critical("journal sync failed: \(error); every later write fails until a restart")
        gate.fail(failure)
        for batch in staged {
            count(commits: 1)
            for (write, _) in batch.completions { write.fail(failure) }
            for (write, _) in batch.refusals { write.fail(failure) }
        }
        staged.removeAll()
        notifyObservers()
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
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
