import BadgeModel

/// What a committed write transaction changed that a trophy case (List) shows: the customers whose
/// awards, progress or time zone were written, and whether the catalogue was.
///
/// Readers that keep encoded trophy cases use it to drop exactly the entries a commit made stale.
public struct TrophyCaseChanges: Sendable, Equatable {
    public var customers: Set<String> = []
    /// A badge was written: every trophy case may show it differently.
    public var catalogue = false

    public init(customers: Set<String> = [], catalogue: Bool = false) {
        self.customers = customers
        self.catalogue = catalogue
    }

    public var isEmpty: Bool { customers.isEmpty && !catalogue }
}

/// The changes of the write transaction in progress. Only the writer thread touches this, inside
/// `BadgeStore.write`, which empties it when a transaction starts (an aborted one reports nothing).
final class PendingChanges: @unchecked Sendable {
    var changes = TrophyCaseChanges()

    func customer(_ customerId: String) { changes.customers.insert(customerId) }
}
