import BadgeModel
import BadgeStore
import BadgeTestSupport
import Testing

@Suite("BadgeStore criterion states")
struct ProgressStoreTests {
    func state(_ count: Double) -> CriterionState {
        var state = CriterionState(fingerprint: 1)
        state.count = count
        return state
    }

    @Test("a transaction reports every customer it wrote, each once, whatever the order of its writes")
    func changesNoteEveryCustomer() throws {
        try withStore { store, _ in
            let (seen, changes) = try store.writeNotingChanges { txn throws(BadgeError) in
                var seen: [Bool] = []
                seen.append(store.changedInTransaction(txn, customerId: "a"))
                try store.setCustomerTimeZone(txn, customerId: "a", "Europe/Paris")
                try store.setCustomerTimeZone(txn, customerId: "a", "Europe/Paris")
                try store.setCustomerTimeZone(txn, customerId: "b", "UTC")
                // "a" again, after "b": still reported once, and still known as changed.
                try store.setCustomerTimeZone(txn, customerId: "a", "UTC")
                seen.append(store.changedInTransaction(txn, customerId: "a"))
                seen.append(store.changedInTransaction(txn, customerId: "b"))
                try store.setCustomerTimeZone(txn, customerId: "c", "UTC")
                seen.append(store.changedInTransaction(txn, customerId: "b"))
                // Canonically equivalent to "é" but other bytes: another customer.
                seen.append(store.changedInTransaction(txn, customerId: "e\u{301}"))
                try store.setCustomerTimeZone(txn, customerId: "\u{E9}", "UTC")
                seen.append(store.changedInTransaction(txn, customerId: "e\u{301}"))
                return seen
            }
            #expect(seen == [false, true, true, true, false, false])
            #expect(changes == TrophyCaseChanges(customers: ["a", "b", "c", "\u{E9}"]))
            // The next transaction starts with nothing noted.
            let later = try store.writeNotingChanges { txn throws(BadgeError) in
                store.changedInTransaction(txn, customerId: "c")
            }
            #expect(later.result == false && later.changes.isEmpty)
        }
    }

    @Test("states of the badges asked for, in the order asked, among many others and other customers", arguments: 0..<8)
    func statesOfSomeBadges(seed: UInt64) throws {
        var random = SplitMix64(state: seed)
        try withStore { store, _ in
            // Customers whose ids sort around "c" (and one that "c" is a prefix of), each with
            // states for a random set of 40 badges, one to three criteria each.
            var model: [String: [String: [String: CriterionState]]] = [:]
            try store.write { txn throws(BadgeError) in
                for customer in ["b", "c", "cc", "d"] {
                    for badge in 0..<40 where Bool.random(using: &random) {
                        for key in ["n", "s", "streak"].prefix(Int.random(in: 1...3, using: &random)) {
                            let value = state(Double(Int.random(in: 1...100, using: &random)))
                            try store.putCriterionState(
                                txn, customerId: customer, badgeId: "badge-\(badge)", key: key, value)
                            model[customer, default: [:]]["badge-\(badge)", default: [:]][key] = value
                        }
                    }
                }
            }
            // Asked in any order, with repeats and badges the customer has no state for.
            let asked = (0..<15).map { _ in "badge-\(Int.random(in: 0..<45, using: &random))" }
            let found = try store.read { txn throws(BadgeError) in
                try store.criterionStates(txn, customerId: "c", badgeIds: asked)
            }
            #expect(found == asked.map { model["c"]?[$0] ?? [:] })
            let none = try store.read { txn throws(BadgeError) in
                try store.criterionStates(txn, customerId: "c", badgeIds: [])
            }
            #expect(none.isEmpty)

            // Flat, by criterion keys in the order given (one the states never have among them):
            // each badge's keys in place, nil where nothing is stored.
            var keysByBadge: [String: [String]] = [:]
            for badge in asked where keysByBadge[badge] == nil {
                keysByBadge[badge] = Array(
                    ["streak", "n", "x", "s"].shuffled(using: &random).prefix(Int.random(in: 1...4, using: &random)))
            }
            let reads = ProgressReads(asked.map { (badgeId: $0, criterionKeys: keysByBadge[$0]) })
            let list = try store.read { txn throws(BadgeError) in
                try store.criterionStateList(txn, customerId: "c", reads)
            }
            #expect(list == asked.flatMap { badge in keysByBadge[badge]!.map { model["c"]?[badge]?[$0] } })
            let emptyList = try store.read { txn throws(BadgeError) in
                try store.criterionStateList(txn, customerId: "c", ProgressReads([]))
            }
            #expect(emptyList.isEmpty)
        }
    }
}
