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
/// Memory is bounded by `capacityBytes`: when an install would pass it, the cache starts over
/// (simple, and no worse than random eviction for the uniform access it would then be seeing).
final class TrophyCaseCache: Sendable {
    /// How many recent commits' changed customers are kept for fills that overlap them.
    static let remembered = 64

    let capacityBytes: Int

    private struct Entry {
        var bytes: [UInt8]
        var validUntilMs: Int64
        var cost: Int { bytes.count + 96 }
    }

    private struct State {
        var generation: UInt64 = 0
        var entries: [String: Entry] = [:]
        var bytes = 0
        /// Newest last: the generation each commit made and the customers it changed (nil: all).
        var recent: [(generation: UInt64, customers: Set<String>?)] = []
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
        state.withLock { state in
            guard let entry = state.entries[customerId] else {
                state.statistics.misses += 1
                return nil
            }
            guard nowMs < entry.validUntilMs else {
                state.entries[customerId] = nil
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

    /// Keeps `bytes` as the reply for `customerId` until `validUntilMs`, unless a commit since
    /// `ticket` changed that customer (or the catalogue), or is too old to tell.
    func install(_ customerId: String, _ bytes: [UInt8], validUntilMs: Int64, ticket: UInt64) {
        guard isEnabled else { return }
        let entry = Entry(bytes: bytes, validUntilMs: validUntilMs)
        guard entry.cost <= capacityBytes else { return }
        state.withLock { state in
            if state.generation != ticket {
                // Every commit after the ticket must still be remembered, and none may touch this customer.
                guard let oldest = state.recent.first, oldest.generation <= ticket + 1,
                    state.recent.allSatisfy({ $0.generation <= ticket || $0.customers?.contains(customerId) == false })
                else {
                    state.statistics.refusedInstalls += 1
                    return
                }
            }
            if state.bytes + entry.cost > capacityBytes {
                state.entries.removeAll(keepingCapacity: true)
                state.bytes = 0
            }
            if let old = state.entries.updateValue(entry, forKey: customerId) { state.bytes -= old.cost }
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
                for customer in changes.customers {
                    if let old = state.entries.removeValue(forKey: customer) { state.bytes -= old.cost }
                }
                state.recent.append((state.generation, changes.customers))
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
