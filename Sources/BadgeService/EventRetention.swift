import BadgeModel
import BadgeStore
import LMDB
import Logging

/// Evaluated events are kept so a retried event returns its original outcome instead of counting
/// twice. With a retention period set, events recorded longer ago than that are deleted (their
/// records and history entries; progress and awards stay), and a retry after that counts as new.
extension BadgeService {
    /// Most events deleted in one transaction: small enough that callers' writes are not held up.
    public static let pruneChunk = 2_000

    /// Deletes every evaluated event recorded more than the retention period ago (none when the
    /// service keeps events forever), in transactions of `chunk` events; returns how many went
    /// (damaged records included).
    /// The writer also does this by itself (every `pruneInterval`).
    public func pruneExpiredEvents(chunk: Int = BadgeService.pruneChunk) async throws(BadgeError) -> Int {
        guard eventRetentionMs > 0 else { return 0 }
        let retention = eventRetentionMs
        let chunk = max(chunk, 1)
        var total = 0
        while true {
            let pruned = try await withCheckedContinuation { continuation in
                enqueue(deadline: nil, completion: { continuation.resume(returning: $0) }) {
                    store, txn, now throws(BadgeError) in
                    try store.pruneEvents(txn, recordedBefore: now - retention, limit: chunk)
                }
            }.get()
            Self.reportUnreadable(pruned, logger: logger)
            total += pruned.removed
            if pruned.removed < chunk { return total }
        }
    }

    /// Damaged records go with the rest of what is past the retention; an operator hears of them,
    /// since the disk they came from may be failing.
    static func reportUnreadable(_ pruned: PrunedEvents, logger: Logger) {
        guard pruned.unreadable > 0 else { return }
        logger.warning(
            "\(pruned.unreadable) event records past their retention did not decode; deleted with the others",
            metadata: ["records": "\(pruned.unreadableExamples.joined(separator: "; "))"])
    }

    /// The writer's own pruning, between batches: one chunk per run; true when more is left.
    static func pruneMaintenance(
        store: BadgeStore, retentionMs: Int64, interval: Duration, logger: Logger
    ) -> WriteQueue.Maintenance {
        WriteQueue.Maintenance(interval: interval) { now in
            do throws(BadgeError) {
                let pruned = try store.write { txn throws(BadgeError) in
                    try store.pruneEvents(txn, recordedBefore: now - retentionMs, limit: pruneChunk)
                }
                if pruned.deleted > 0 { logger.debug("pruned \(pruned.deleted) evaluated events past their retention") }
                reportUnreadable(pruned, logger: logger)
                return pruned.removed == pruneChunk
            } catch {
                logger.warning("pruning evaluated events failed (\(error)); will try again")
                return false
            }
        }
    }
}
