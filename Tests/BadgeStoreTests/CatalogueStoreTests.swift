import BadgeModel
import BadgeStore
import BadgeTestSupport
import Testing

@Suite("BadgeStore catalogue")
struct CatalogueStoreTests {
    @Test func emptyStoreHasNothing() throws {
        try withStore { store, _ in
            #expect(try store.read { txn throws(BadgeError) in try store.allBadges(txn) }.isEmpty)
            #expect(try store.read { txn throws(BadgeError) in try store.badge(txn, id: "gold") } == nil)
            let counts = try store.read { txn throws(BadgeError) in try store.counts(txn) }
            #expect(counts.badges == 0)
            #expect(counts.awards == 0)
        }
    }

    @Test func putBadgeThenReadItBack() throws {
        try withStore { store, _ in
            let badge = BadgeDefinition(
                id: "gold", name: "Gold", description: "d", icon: "🥇", rank: 2, group: "tiers", repeatable: true,
                maxPerCustomer: 4, globalCap: 9, expiresAfterMs: 60_000, labels: ["tier": "gold"], createdAtMs: 5,
                updatedAtMs: 6)
            try store.put(badge)
            #expect(try store.read { txn throws(BadgeError) in try store.badge(txn, id: "gold") } == badge)
            #expect(try store.read { txn throws(BadgeError) in try store.badge(txn, id: "gol") } == nil)
            #expect(try store.read { txn throws(BadgeError) in try store.badge(txn, id: "gold2") } == nil)
        }
    }

    @Test func putBadgeReplaces() throws {
        try withStore { store, _ in
            try store.put(BadgeDefinition(id: "gold", name: "Gold"))
            try store.put(BadgeDefinition(id: "gold", name: "Gold v2", status: .inactive))
            let badge = try store.read { txn throws(BadgeError) in try store.badge(txn, id: "gold") }
            #expect(badge?.name == "Gold v2")
            #expect(badge?.status == .inactive)
            #expect(try store.read { txn throws(BadgeError) in try store.allBadges(txn) }.count == 1)
        }
    }

    @Test func allBadgesAreInIdOrder() throws {
        try withStore { store, _ in
            for id in ["silver", "bronze", "gold", "gold-elite", "a"] {
                try store.put(BadgeDefinition(id: id, name: id.uppercased(), rank: Int32(id.count)))
            }
            let all = try store.read { txn throws(BadgeError) in try store.allBadges(txn) }
            #expect(all.map(\.id) == ["a", "bronze", "gold", "gold-elite", "silver"])
            #expect(all.map(\.name) == ["A", "BRONZE", "GOLD", "GOLD-ELITE", "SILVER"])
            let counts = try store.read { txn throws(BadgeError) in try store.counts(txn) }
            #expect(counts.badges == 5)
        }
    }

    @Test func writesInOneTransactionAreAllOrNothing() throws {
        try withStore { store, _ throws in
            expectBadgeError(.internal, reason: "test_abort") {
                try store.write { txn throws(BadgeError) in
                    try store.putBadge(txn, BadgeDefinition(id: "ghost", name: "Ghost"))
                    _ = try store.insertAward(txn, newAward(customer: "c1", badge: "ghost", requestId: "r1"))
                    throw BadgeError(.internal, "abort", reason: "test_abort")
                }
            }
            #expect(try store.read { txn throws(BadgeError) in try store.badge(txn, id: "ghost") } == nil)
            #expect(try store.customerAwards("c1").isEmpty)
            #expect(try store.count(of: "ghost") == 0)
            #expect(try store.read { txn throws(BadgeError) in try store.awardId(txn, forRequest: "r1") } == nil)
            // The aborted transaction did not consume an award id.
            #expect(try store.insert(newAward(customer: "c1", badge: "ghost")).awardId == 1)
        }
    }
}
