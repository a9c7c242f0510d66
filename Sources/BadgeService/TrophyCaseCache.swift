import BadgeStore
import Synchronization

/// Encoded trophy cases (List replies) by customer, so that listing a customer nothing has changed
/// for is one dictionary look-up and a copy instead of a B-tree seek, a scan and an encoding.
///
/// Staleness is ruled out three ways:
/// - **Writes.** The writer calls `committed(_:)` after each commit and before any caller of that
///   batch hears back, with the customers the batch changed (or "the catalogue": everything).
/// - **Fills racing writes.** A reader takes a `ticket()` before opening its read transaction and
///   installs what it built only if no commit since then changed that customer. Each commit's
///   changes are remembered for the last `remembered` commits; an older ticket installs nothing.
/// - **Time.** A trophy case built at `now` says until when it stays true (the next award expiry,
///   badge window end, or local midnight for progress); after that it is rebuilt.
///
/// Memory is bounded by `capacityBytes`: when an install would pass it, the oldest installs go
/// first until an eighth of the budget is free (first in, first out).
final class TrophyCaseCache: Sendable {
    /// How many recent commits' changed customers are kept for fills that overlap them.
    static let remembered = 64

    let capacityBytes: Int

    /// A customer id by its bytes, as the store keys it. (`String` equality is Unicode canonical
    /// equivalence: "é" and "e\u{301}" are two customers in the store but one `String` key.)
    struct CustomerKey: Hashable {
        let bytes: [UInt8]

        init(_ customerId: String) { bytes = Array(customerId.utf8) }
        init(bytes: [UInt8]) { self.bytes = bytes }

        func hash(into hasher: inout Hasher) {
            bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }

    private struct Entry {
        var bytes: [UInt8]
        /// The reply is what a read at any instant in `builtAtMs..<validUntilMs` would give.
        var builtAtMs: Int64
        var validUntilMs: Int64
        var keyBytes: Int
        /// Install order, for eviction.
        var sequence: UInt64 = 0
        var cost: Int { bytes.count + keyBytes + 96 }
    }

    private struct State {
        var entries: [CustomerKey: Entry] = [:]
        var bytes = 0
        /// The customers recent commits changed; its generation is what tickets hold.
        var recent = RecentCommits(capacity: TrophyCaseCache.remembered)
        var statistics = ListCacheStatistics()
        /// Installs, oldest first from `orderHead`. An element whose entry was replaced or dropped
        /// since (its sequence no longer matches) is skipped.
        var order: [(key: CustomerKey, sequence: UInt64)] = []
        var orderHead = 0
        var nextSequence: UInt64 = 0

        /// Drops the oldest installs until `needed` bytes are free.
        mutating func evictOldest(freeing needed: Int) {
            var freed = 0
            while freed < needed, orderHead < order.count {
                let (key, sequence) = order[orderHead]
                orderHead += 1
                guard let entry = entries[key], entry.sequence == sequence else { continue }
                entries[key] = nil
                bytes -= entry.cost
                freed += entry.cost
            }
        }

        /// Keeps `order` in proportion to the entries: the consumed head goes, and when writes and
        /// expiries have left mostly stale elements it is rebuilt from the entries.
        mutating func compactOrder() {
            if orderHead > 0, orderHead * 2 >= order.count {
                order.removeFirst(orderHead)
                orderHead = 0
            }
            if order.count > 2 * entries.count + 64 {
                order = entries.map { (key: $0.key, sequence: $0.value.sequence) }.sorted { $0.sequence < $1.sequence }
                orderHead = 0
            }
        }
    }

    private let state = Mutex(State())

    /// - Parameter capacityBytes: the most the cached replies may hold; 0 turns the cache off.
    init(capacityBytes: Int) {
        self.capacityBytes = max(capacityBytes, 0)
    }

    var isEnabled: Bool { capacityBytes > 0 }

    /// The reply for `customerId` if one is cached and still true at `nowMs`.
    func lookup(_ customerId: String, nowMs: Int64) -> [UInt8]? {
        guard isEnabled else { return nil }  // no lock taken, no key built, per List
        let key = CustomerKey(customerId)
        return state.withLock { state in
            guard let entry = state.entries[key] else {
                state.statistics.misses += 1
                return nil
            }
            // Built later than `now` (a reader preempted since it read the clock): not this one's.
            guard entry.builtAtMs <= nowMs else {
                state.statistics.misses += 1
                return nil
            }
            guard nowMs < entry.validUntilMs else {
                state.entries[key] = nil
                state.bytes -= entry.cost
                state.statistics.misses += 1
                return nil
            }
            state.statistics.hits += 1
            return entry.bytes
        }
    }

    /// Taken before the read transaction a reply will be built from.
    func ticket() -> UInt64 {
        guard isEnabled else { return 0 }
        return state.withLock { $0.recent.generation }
    }

    /// Keeps `bytes`, built at `builtAtMs`, as the reply for `customerId` until `validUntilMs`,
    /// unless a commit since `ticket` changed that customer (or the catalogue), or is too old to tell.
    func install(_ customerId: String, _ bytes: [UInt8], builtAtMs: Int64, validUntilMs: Int64, ticket: UInt64) {
        guard isEnabled else { return }
        let key = CustomerKey(customerId)
        var entry = Entry(bytes: bytes, builtAtMs: builtAtMs, validUntilMs: validUntilMs, keyBytes: key.bytes.count)
        guard entry.cost <= capacityBytes else { return }
        state.withLock { state in
            guard state.recent.unchanged(key.bytes, since: ticket) else {
                state.statistics.refusedInstalls += 1
                return
            }
            // A reply replacing this customer's previous one only needs the difference.
            let growth = entry.cost - (state.entries[key]?.cost ?? 0)
            if state.bytes + growth > capacityBytes {
                // Full: the oldest installs go until an eighth is free, rather than everything, so a
                // working set larger than the budget still keeps a full cache's worth of hits.
                state.evictOldest(freeing: state.bytes + growth - capacityBytes / 8 * 7)
            }
            entry.sequence = state.nextSequence
            state.nextSequence += 1
            if let old = state.entries.updateValue(entry, forKey: key) { state.bytes -= old.cost }
            state.bytes += entry.cost
            state.order.append((key, entry.sequence))
            state.compactOrder()
            state.statistics.installs += 1
        }
    }

    /// Drops what a commit made stale. Called on the writer thread after the commit and before the
    /// batch's callers are answered.
    func committed(_ changes: TrophyCaseChanges) {
        guard isEnabled, !changes.isEmpty else { return }
        state.withLock { state in
            state.recent.record(changes)
            if changes.catalogue {
                state.entries.removeAll()
                state.bytes = 0
            } else {
                for customer in changes.customers {
                    if let old = state.entries.removeValue(forKey: CustomerKey(bytes: customer)) {
                        state.bytes -= old.cost
                    }
                }
            }
        }
    }

    /// Installs still queued for eviction, stale ones included (for tests: it must stay in
    /// proportion to the entries).
    var queuedInstalls: Int { state.withLock { $0.order.count - $0.orderHead } }

    var statistics: ListCacheStatistics {
        state.withLock { state in
            var statistics = state.statistics
            statistics.entries = state.entries.count
            statistics.bytes = state.bytes
            return statistics
        }
    }
}

/// What the List reply cache holds and how it has been used (for tests and benchmarks).
public struct ListCacheStatistics: Sendable, Hashable {
    public var hits = 0
    public var misses = 0
    public var installs = 0
    /// Fills not kept because a commit since they began may have changed what they read.
    public var refusedInstalls = 0
    public var entries = 0
    public var bytes = 0
}
