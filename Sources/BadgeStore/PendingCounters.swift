import BadgeModel
import LMDB

/// The hot counters a write transaction changes, held in memory until just before it commits.
///
/// Every award bumps the next award id and its badge's unrevoked count, and every event the history
/// sequence: reading and rewriting those few keys once per award cost two B-tree reads and writes
/// each (and their journal bytes). With group commit a batch of awards now writes each counter
/// once. Only the writer thread touches this, inside `BadgeStore.write`, which empties it when a
/// transaction starts and ends (so an aborted batch leaves nothing behind).
final class PendingCounters: @unchecked Sendable {
    var nextAwardId: UInt64?
    var nextHistorySequence: UInt64?
    var badgeCounts: [String: UInt64] = [:]
    /// Inside `BadgeStore.write`: only there are the counters written back before the commit.
    var active = false

    func reset(active: Bool) {
        nextAwardId = nil
        nextHistorySequence = nil
        badgeCounts.removeAll(keepingCapacity: true)
        self.active = active
    }

    /// A store write outside `BadgeStore.write` (say, in `environment.write`) would take ids and
    /// counts that are never written back: the next batch would reuse them. Stop rather than do that.
    func requireActive() {
        precondition(active, "store writes must run inside BadgeStore.write, which writes their counters back")
    }
}

extension BadgeStore {
    /// Writes what `pendingCounters` holds into the transaction about to commit.
    func flushPendingCounters(_ txn: borrowing WriteTransaction) throws(BadgeError) {
        let pending = pendingCounters
        try lmdb {
            if let next = pending.nextAwardId { try txn.put(meta, key: Keys.nextAwardId, value: Keys.uint64(next)) }
            if let next = pending.nextHistorySequence {
                try txn.put(meta, key: Keys.nextHistorySequence, value: Keys.uint64(next))
            }
            for (badgeId, count) in pending.badgeCounts {
                try txn.put(badgeCounts, key: Keys.string(badgeId), value: Keys.uint64(count))
            }
        }
    }

    func takeNextAwardId(_ txn: borrowing WriteTransaction) throws(BadgeError) -> UInt64 {
        pendingCounters.requireActive()
        var next = pendingCounters.nextAwardId ?? 0
        if next == 0 { next = try stored(Keys.nextAwardId, txn) }
        pendingCounters.nextAwardId = next + 1
        return next
    }

    func takeNextHistorySequence(_ txn: borrowing WriteTransaction) throws(BadgeError) -> UInt64 {
        pendingCounters.requireActive()
        var next = pendingCounters.nextHistorySequence ?? 0
        if next == 0 { next = try stored(Keys.nextHistorySequence, txn) }
        pendingCounters.nextHistorySequence = next + 1
        return next
    }

    /// A `meta` counter's stored next value (1 when absent). (Set through plain properties above:
    /// a key path's setter allocated on every award and event.)
    private func stored(_ key: [UInt8], _ txn: borrowing WriteTransaction) throws(BadgeError) -> UInt64 {
        try value(txn, meta, key: key) { Keys.readUInt64($0) ?? 1 } ?? 1
    }

    func adjustCount(_ txn: borrowing WriteTransaction, badgeId: String, by delta: Int64) throws(BadgeError) {
        pendingCounters.requireActive()
        let current = try unrevokedCount(txn, badgeId: badgeId)
        pendingCounters.badgeCounts[badgeId] =
            delta < 0 ? current - min(current, UInt64(-delta)) : current + UInt64(delta)
    }
}
