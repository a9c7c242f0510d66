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
/// Memory is bounded by `capacityBytes`: when an install would pass it, about an eighth of the
/// entries go (in hash order, close to random eviction).
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
        var cost: Int { bytes.count + keyBytes + 96 }
    }

    private struct State {
        var generation: UInt64 = 0
        var entries: [CustomerKey: Entry] = [:]
        var bytes = 0
        /// Newest last: the generation each commit made and the customers it changed (nil: all).
        var recent: [(generation: UInt64, customers: Set<CustomerKey>?)] = []
        var statistics = ListCacheStatistics()
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
    func ticket() -> UInt64 { state.withLock { $0.generation } }

    /// Keeps `bytes`, built at `builtAtMs`, as the reply for `customerId` until `validUntilMs`,
    /// unless a commit since `ticket` changed that customer (or the catalogue), or is too old to tell.
    func install(_ customerId: String, _ bytes: [UInt8], builtAtMs: Int64, validUntilMs: Int64, ticket: UInt64) {
        guard isEnabled else { return }
        let key = CustomerKey(customerId)
        let entry = Entry(bytes: bytes, builtAtMs: builtAtMs, validUntilMs: validUntilMs, keyBytes: key.bytes.count)
        guard entry.cost <= capacityBytes else { return }
        state.withLock { state in
            if state.generation != ticket {
                // Every commit after the ticket must still be remembered, and none may touch this customer.
                guard let oldest = state.recent.first, oldest.generation <= ticket + 1,
                    state.recent.allSatisfy({ $0.generation <= ticket || $0.customers?.contains(key) == false })
                else {
                    state.statistics.refusedInstalls += 1
                    return
                }
            }
            if state.bytes + entry.cost > capacityBytes {
                // Full: drop about an eighth, in the dictionary's hash order (as good as random
                // here), rather than everything: a working set larger than the budget keeps a full
                // cache's worth of hits.
                var toFree = state.bytes + entry.cost - capacityBytes / 8 * 7
                var victims: [CustomerKey] = []
                for (key, value) in state.entries where toFree > 0 {
                    victims.append(key)
                    toFree -= value.cost
                }
                for key in victims { state.bytes -= state.entries.removeValue(forKey: key)?.cost ?? 0 }
            }
            if let old = state.entries.updateValue(entry, forKey: key) { state.bytes -= old.cost }
            state.bytes += entry.cost
            state.statistics.installs += 1
        }
    }

    /// Drops what a commit made stale. Called on the writer thread after the commit and before the
    /// batch's callers are answered.
    func committed(_ changes: TrophyCaseChanges) {
        guard isEnabled, !changes.isEmpty else { return }
        state.withLock { state in
            state.generation += 1
            if changes.catalogue {
                state.entries.removeAll()
                state.bytes = 0
                state.recent.append((state.generation, nil))
            } else {
                let keys = Set(changes.customers.map(CustomerKey.init(bytes:)))
                for key in keys {
                    if let old = state.entries.removeValue(forKey: key) { state.bytes -= old.cost }
                }
                state.recent.append((state.generation, keys))
            }
            if state.recent.count > Self.remembered { state.recent.removeFirst(state.recent.count - Self.remembered) }
        }
    }

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
