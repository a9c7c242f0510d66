import BadgeModel
import LMDB

/// What a committed write transaction changed that a trophy case (List) shows: the customers whose
/// awards, progress or time zone were written, and whether the catalogue was.
///
/// Readers that keep encoded trophy cases use it to drop exactly the entries a commit made stale.
public struct TrophyCaseChanges: Sendable, Equatable {
    /// The customer ids' UTF-8 bytes, as the store keys them: a `Set<String>` would merge two ids
    /// that are canonically equivalent Unicode but different customers in the store.
    public var customers: Set<[UInt8]> = []
    /// A badge was written: every trophy case may show it differently.
    public var catalogue = false

    public init(customers: [String] = [], catalogue: Bool = false) {
        self.customers = Set(customers.map { Array($0.utf8) })
        self.catalogue = catalogue
    }

    public var isEmpty: Bool { customers.isEmpty && !catalogue }
}

/// The changes of the write transaction in progress. Only the writer thread touches this, inside
/// `BadgeStore.write`, which empties it when a transaction starts (an aborted one reports nothing).
final class PendingChanges: @unchecked Sendable {
    private(set) var changes = TrophyCaseChanges()
    /// The customer noted last: an Evaluate notes its customer three or four times (states,
    /// awards, time zone), and each note of the same one made an array only to find it in the set.
    private var lastCustomer: String?

    func reset() {
        changes = TrophyCaseChanges()
        lastCustomer = nil
    }

    func note(customer customerId: String) {
        if isLast(customerId) { return }
        changes.customers.insert(Array(customerId.utf8))
        lastCustomer = customerId
    }

    func noteCatalogue() {
        changes.catalogue = true
    }

    func includes(customer customerId: String) -> Bool {
        isLast(customerId) || changes.customers.contains(Array(customerId.utf8))
    }

    /// `customerId` is the customer noted last, by bytes as the store keys ids.
    private func isLast(_ customerId: String) -> Bool {
        lastCustomer.map { $0.utf8.elementsEqual(customerId.utf8) } ?? false
    }
}

extension BadgeStore {
    /// Notes that the transaction in progress changed what `customerId`'s trophy case shows.
    ///
    /// Every write to a customer's records (awards, progress, time zone) must call it: the List
    /// cache drops replies by it, and Evaluate's plans made outside the writer are checked by it.
    /// A customer-scoped write that skipped it would let both serve what it changed.
    func changedTrophyCase(of customerId: String) {
        // Outside `BadgeStore.write` the change would never be reported: readers would keep a stale reply.
        pendingCounters.requireActive()
        pendingChanges.note(customer: customerId)
    }

    /// Notes that the transaction in progress changed the catalogue (every trophy case).
    func changedCatalogue() {
        pendingCounters.requireActive()
        pendingChanges.noteCatalogue()
    }
}

extension BadgeStore {
    /// True when the write transaction in progress has already changed `customerId`'s records or the
    /// catalogue: work planned from an earlier read of them is out of date.
    public func changedInTransaction(_ txn: borrowing WriteTransaction, customerId: String) -> Bool {
        pendingCounters.requireActive()
        return pendingChanges.changes.catalogue || pendingChanges.includes(customer: customerId)
    }
}
