import CoreMetrics
import LMDB
import Synchronization

/// The writer's metric handles, made once when the service starts. They are updated once per
/// committed batch, never per write, so their cost is shared by every write in the batch.
struct WriterMetrics: Sendable {
    /// `badges_writer_batch_size`: writes applied in each committed transaction (the group-commit
    /// batch); its count is the number of commits and its sum the number of writes.
    let batchSize: Recorder
    /// `badges_writer_commit_duration_seconds`: one batch from the start of its transaction until
    /// it is durable (applying the writes, the commit and the journal's fdatasync).
    let commitDuration: CoreMetrics.Timer
    /// `badges_writer_batch_failures_total`: batches whose transaction failed as a whole and were
    /// retried one write at a time (storage full, I/O errors).
    let batchFailures: Counter
    /// `badges_writer_queue_wait_seconds`: for each batch, how long its oldest write waited for the
    /// writer (behind earlier batches, then gathering) before the batch's transaction began. With
    /// `commit_duration` and `rpc_call_duration` it tells whether calls wait for the writer.
    let queueWait: CoreMetrics.Timer

    init(factory: any MetricsFactory) {
        batchSize = Recorder(label: "badges_writer_batch_size", aggregate: true, factory: factory)
        commitDuration = CoreMetrics.Timer(label: "badges_writer_commit_duration_seconds", factory: factory)
        batchFailures = Counter(label: "badges_writer_batch_failures_total", factory: factory)
        queueWait = CoreMetrics.Timer(label: "badges_writer_queue_wait_seconds", factory: factory)
    }
}

/// Facts about the store that change slowly or behind the writer's back (checkpoints run on their
/// own thread). Nothing updates them as they change: `refresh()` samples them, typically right
/// before a scrape.
final class StoreMetrics: Sendable {
    private let environment: Environment
    /// `badges_journal_checkpoints_total`: journal checkpoints completed since the process started.
    private let checkpoints: Counter
    /// `badges_journal_checkpoint_failing`: 1 while the last background checkpoint failed.
    private let checkpointFailing: Gauge
    /// `badges_store_used_bytes` and `badges_store_map_size_bytes`: how full the LMDB map is
    /// (writes fail with RESOURCE_EXHAUSTED once it is).
    private let usedBytes: Gauge
    private let mapSize: Gauge
    /// Checkpoints already added to the counter.
    private let reportedCheckpoints = Mutex(0)

    init(environment: Environment, factory: any MetricsFactory) {
        self.environment = environment
        checkpoints = Counter(label: "badges_journal_checkpoints_total", factory: factory)
        checkpointFailing = Gauge(label: "badges_journal_checkpoint_failing", factory: factory)
        usedBytes = Gauge(label: "badges_store_used_bytes", factory: factory)
        mapSize = Gauge(label: "badges_store_map_size_bytes", factory: factory)
    }

    func refresh() {
        let completed = environment.completedCheckpoints
        let added = reportedCheckpoints.withLock { reported in
            defer { reported = max(reported, completed) }
            return completed - reported
        }
        if added > 0 { checkpoints.increment(by: added) }
        checkpointFailing.record(environment.checkpointFailure == nil ? 0 : 1)
        usedBytes.record(environment.usedBytes())
        mapSize.record(environment.mapSize)
    }
}

/// `badges_evaluate_plans_total{outcome}`: Evaluate plans made on callers' threads that the writer
/// stored as made (`used`) or made again because something they read had changed or they could not
/// be made there (`redone`), and
/// events the writer planned from the start (`writer`, see `writerPlanPercent`).
/// Counted by `PlanCounters` with atomics per event and added here when sampled, before a scrape.
final class PlanMetrics: Sendable {
    private let counters: PlanCounters
    private let used: Counter
    private let redone: Counter
    private let onWriter: Counter
    /// What the Prometheus counters already hold.
    private let reported = Mutex(EvaluatePlanStatistics())

    init(counters: PlanCounters, factory: any MetricsFactory) {
        self.counters = counters
        used = Counter(label: "badges_evaluate_plans_total", dimensions: [("outcome", "used")], factory: factory)
        redone = Counter(label: "badges_evaluate_plans_total", dimensions: [("outcome", "redone")], factory: factory)
        onWriter = Counter(label: "badges_evaluate_plans_total", dimensions: [("outcome", "writer")], factory: factory)
    }

    func refresh() {
        let now = counters.statistics
        let added = reported.withLock { reported in
            defer { reported = now }
            return (
                used: now.used - reported.used, redone: now.redone - reported.redone,
                onWriter: now.onWriter - reported.onWriter
            )
        }
        if added.used > 0 { used.increment(by: added.used) }
        if added.redone > 0 { redone.increment(by: added.redone) }
        if added.onWriter > 0 { onWriter.increment(by: added.onWriter) }
    }
}
