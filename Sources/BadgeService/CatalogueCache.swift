import BadgeCodec
import BadgeModel
import BadgeStore
import LMDB
import Synchronization

/// The decoded catalogue, shared by readers so a List does not decode every badge again.
///
/// The writer calls `invalidate()` after a commit that wrote a badge, before answering. A reader takes the
/// generation *before* opening its transaction and installs what it loaded only if no badge write
/// has committed since: a snapshot older than a commit can then never outlive that commit.
final class CatalogueCache: Sendable {
    /// The catalogue as List needs it: decoded, in display order, with what is the same for every
    /// customer's trophy case already encoded.
    struct Snapshot: Sendable {
        var badges: [BadgeDefinition]
        var listing: CatalogueListing
        /// Some badge has criteria: only then does a trophy case need the customer's progress.
        var hasCriteria: Bool
        /// Each badge's criterion keys, for reading only their states (see `ProgressReads`).
        var criterionKeys: [String: [String]]
        /// The active badges with criteria listening to each event type, in display order (for
        /// Evaluate's plans made outside the writer).
        var rulesByType: [ExactText: EventRules]
    }

    private struct State {
        var generation: UInt64 = 0
        var snapshot: Snapshot?
    }
    private let state = Mutex(State())

    /// Read before opening the transaction that will load the catalogue.
    var generation: UInt64 { state.withLock { $0.generation } }

    func snapshot<M>(
        _ store: BadgeStore, _ txn: borrowing Transaction<M>, generation: UInt64
    ) throws(BadgeError)
        -> Snapshot
    {
        if let cached = state.withLock({ $0.generation == generation ? $0.snapshot : nil }) { return cached }
        let badges = try store.allBadges(txn)
        let loaded = Snapshot(
            badges: badges, listing: CatalogueListing(badges), hasCriteria: badges.contains { $0.criteria != nil },
            criterionKeys: Dictionary(
                uniqueKeysWithValues: badges.compactMap { badge in
                    badge.criteria.map { (badge.id, $0.criteria.map(\.key)) }
                }),
            rulesByType: WriterCatalogue.build(badges))
        state.withLock { if $0.generation == generation { $0.snapshot = loaded } }
        return loaded
    }

    func invalidate() {
        state.withLock { state in
            state.generation += 1
            state.snapshot = nil
        }
    }
}
