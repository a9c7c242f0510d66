import BadgeModel
import BadgeStore
import LMDB
import Synchronization

/// The decoded catalogue, shared by readers so a List does not decode every badge again.
///
/// Badge writes call `invalidate()` after their commit and before answering. A reader takes the
/// generation *before* opening its transaction and installs what it loaded only if no badge write
/// has committed since: a snapshot older than a commit can then never outlive that commit.
final class CatalogueCache: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var badges: [BadgeDefinition]?
    }
    private let state = Mutex(State())

    /// Read before opening the transaction that will load the catalogue.
    var generation: UInt64 { state.withLock { $0.generation } }

    func badges<M>(
        _ store: BadgeStore, _ txn: borrowing Transaction<M>, generation: UInt64
    ) throws(BadgeError)
        -> [BadgeDefinition]
    {
        if let cached = state.withLock({ $0.generation == generation ? $0.badges : nil }) { return cached }
        let loaded = try store.allBadges(txn)
        state.withLock { if $0.generation == generation { $0.badges = loaded } }
        return loaded
    }

    func invalidate() {
        state.withLock { state in
            state.generation += 1
            state.badges = nil
        }
    }
}
