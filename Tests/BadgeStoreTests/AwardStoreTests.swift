import BadgeModel
import BadgeStore
import BadgeTestSupport
import Testing

@Suite("BadgeStore awards")
struct AwardStoreTests {
    @Test func insertAssignsIncreasingIdsFromOne() throws {
        try withStore { store, _ in
            let first = try store.insert(newAward(customer: "c1", badge: "gold", requestId: "r1"))
            let second = try store.insert(newAward(customer: "c2", badge: "gold", requestId: "r2"))
            let third = try store.insert(newAward(customer: "c1", badge: "silver", requestId: "r3"))
            #expect([first.awardId, second.awardId, third.awardId] == [1, 2, 3])
            // The id passed in is ignored.
            var preset = newAward(customer: "c3", badge: "gold")
            preset.awardId = 500
            #expect(try store.insert(preset).awardId == 4)
        }
    }

    @Test func severalInsertsInOneTransactionGetDistinctIds() throws {
        try withStore { store, _ in
            let ids = try store.write { txn throws(BadgeError) in
                var ids: [UInt64] = []
                for index in 0..<10 {
                    ids.append(try store.insertAward(txn, newAward(customer: "c\(index)", badge: "b")).awardId)
                }
                return ids
            }
            #expect(ids == Array(1...10))
            #expect(try store.count(of: "b") == 10)
        }
    }

    @Test func insertedAwardIsStoredAsGiven() throws {
        try withStore { store, _ in
            var award = newAward(customer: "c1", badge: "gold", requestId: "req-9", earnedAtMs: 123, evidence: "why")
            award.expiresAtMs = 456
            award.source = .import
            let stored = try store.insert(award)
            var expected = award
            expected.awardId = 1
            #expect(stored == expected)
            #expect(try store.read { txn throws(BadgeError) in try store.award(txn, id: 1) } == expected)
            #expect(try store.customerAwards("c1") == [expected])
        }
    }

    @Test func requestIdsAreIndexed() throws {
        try withStore { store, _ in
            _ = try store.insert(newAward(customer: "c1", badge: "gold", requestId: "r-a"))
            _ = try store.insert(newAward(customer: "c1", badge: "silver"))
            _ = try store.insert(newAward(customer: "c2", badge: "gold", requestId: "r-b"))
            func lookup(_ requestId: String) throws -> UInt64? {
                try store.read { txn throws(BadgeError) in try store.awardId(txn, forRequest: requestId) }
            }
            #expect(try lookup("r-a") == 1)
            #expect(try lookup("r-b") == 3)
            #expect(try lookup("r-c") == nil)
            #expect(try lookup("r-") == nil)
        }
    }

    @Test func unrevokedCountsArePerBadge() throws {
        try withStore { store, _ in
            #expect(try store.count(of: "gold") == 0)
            for customer in ["c1", "c2", "c3"] { _ = try store.insert(newAward(customer: customer, badge: "gold")) }
            _ = try store.insert(newAward(customer: "c1", badge: "gold-elite"))
            #expect(try store.count(of: "gold") == 3)
            #expect(try store.count(of: "gold-elite") == 1)
            #expect(try store.count(of: "silver") == 0)
        }
    }

    @Test func customerScanDoesNotLeakIntoPrefixedCustomerIds() throws {
        try withStore { store, _ in
            _ = try store.insert(newAward(customer: "c1", badge: "gold"))
            _ = try store.insert(newAward(customer: "c10", badge: "gold"))
            _ = try store.insert(newAward(customer: "c1", badge: "silver"))
            _ = try store.insert(newAward(customer: "c100", badge: "a"))
            _ = try store.insert(newAward(customer: "c", badge: "gold"))
            #expect(try store.customerAwards("c1").map(\.awardId).sorted() == [1, 3])
            #expect(try store.customerAwards("c1").allSatisfy { $0.customerId == "c1" })
            #expect(try store.customerAwards("c10").map(\.awardId) == [2])
            #expect(try store.customerAwards("c100").map(\.awardId) == [4])
            #expect(try store.customerAwards("c").map(\.awardId) == [5])
            #expect(try store.customerAwards("c2").isEmpty)
        }
    }

    @Test func badgeScanDoesNotLeakIntoPrefixedBadgeIds() throws {
        try withStore { store, _ in
            _ = try store.insert(newAward(customer: "c1", badge: "gold"))
            _ = try store.insert(newAward(customer: "c1", badge: "gold-elite"))
            _ = try store.insert(newAward(customer: "c1", badge: "gold"))
            _ = try store.insert(newAward(customer: "c10", badge: "gold"))
            _ = try store.insert(newAward(customer: "c1", badge: "gol"))
            #expect(try store.customerAwards("c1", badge: "gold").map(\.awardId) == [1, 3])
            #expect(try store.customerAwards("c1", badge: "gold-elite").map(\.awardId) == [2])
            #expect(try store.customerAwards("c1", badge: "gol").map(\.awardId) == [5])
            #expect(try store.customerAwards("c1", badge: "silver").isEmpty)
            #expect(try store.customerAwards("c10", badge: "gold").map(\.awardId) == [4])
            #expect(try store.customerAwards("c1").count == 4)
        }
    }

    @Test func customerAwardsAreGroupedByBadgeOldestFirst() throws {
        try withStore { store, _ in
            for badge in ["b", "a", "b", "a", "c", "b"] { _ = try store.insert(newAward(customer: "c1", badge: badge)) }
            let awards = try store.customerAwards("c1")
            #expect(awards.count == 6)
            // Grouped: each badge's awards are contiguous and in increasing id order.
            var seen: [String] = []
            for award in awards where seen.last != award.badgeId {
                #expect(!seen.contains(award.badgeId), "badge \(award.badgeId) is not contiguous")
                seen.append(award.badgeId)
            }
            #expect(Set(seen) == ["a", "b", "c"])
            for badge in seen {
                let ids = awards.filter { $0.badgeId == badge }.map(\.awardId)
                #expect(ids == ids.sorted())
            }
            #expect(try store.customerAwards("c1", badge: "b").map(\.awardId) == [1, 3, 6])
        }
    }

    @Test func unicodeAndMaxLengthIdsAreScannedCorrectly() throws {
        try withStore { store, _ in
            let longCustomer = String(repeating: "x", count: 128)
            let longBadge = String(repeating: "y", count: 128)
            _ = try store.insert(newAward(customer: longCustomer, badge: longBadge))
            _ = try store.insert(newAward(customer: "客户", badge: "gold"))
            #expect(try store.customerAwards(longCustomer, badge: longBadge).map(\.awardId) == [1])
            #expect(try store.customerAwards("客户").map(\.awardId) == [2])
        }
    }

    @Test func saveRevocationKeepsTheRecordAndFreesTheCount() throws {
        try withStore { store, _ in
            let first = try store.insert(newAward(customer: "c1", badge: "gold", requestId: "r1"))
            _ = try store.insert(newAward(customer: "c2", badge: "gold"))
            #expect(try store.count(of: "gold") == 2)
            try store.revoke(first, atMs: 9_999, reason: "fraud", by: "agent:ann")
            #expect(try store.count(of: "gold") == 1)
            let stored = try store.read { txn throws(BadgeError) in try store.award(txn, id: first.awardId) }
            let kept = try #require(stored)
            #expect(kept.isRevoked)
            #expect(kept.revokedAtMs == 9_999)
            #expect(kept.revokeReason == "fraud")
            #expect(kept.revokedBy == "agent:ann")
            #expect(kept.evidenceFields == first.evidenceFields)
            #expect(try store.customerAwards("c1") == [kept])
            // The request id still points at the (revoked) award.
            #expect(try store.read { txn throws(BadgeError) in try store.awardId(txn, forRequest: "r1") } == 1)
            // Awards ever issued are unchanged.
            #expect(try store.read { txn throws(BadgeError) in try store.counts(txn) }.awards == 2)
        }
    }

    @Test(
        "a tally that stops at the first award held answers holds as the full one does, and for no longer",
        arguments: 0..<30)
    func tallyUntilHeld(seed: UInt64) throws {
        try withStore { store, _ in
            var random = SplitMix64(state: seed)
            let now: Int64 = 1_000_000
            for index in 0..<Int(random.next() % 8) {
                var award = newAward(customer: "c", badge: "b", earnedAtMs: 1_000)
                // No expiry, expired already, or expiring later.
                award.expiresAtMs = [0, now - 10, now + Int64(random.next() % 1_000 + 1)][Int(random.next() % 3)]
                let stored = try store.insert(award)
                if random.next() % 4 == 0 { try store.revoke(stored, atMs: 2_000 + Int64(index)) }
            }
            _ = try store.insert(newAward(customer: "c", badge: "other"))
            let (full, partial) = try store.read { txn throws(BadgeError) in
                (
                    try store.awardTally(txn, customerId: "c", badgeId: "b", nowMs: now),
                    try store.awardTally(txn, customerId: "c", badgeId: "b", nowMs: now, untilHeld: true)
                )
            }
            #expect(partial.holds == full.holds)
            #expect(partial.currentAwardId == full.currentAwardId)
            // Awards after the one held were not looked at.
            let live = try store.customerAwards("c", badge: "b").filter {
                !$0.isRevoked && ($0.expiresAtMs == 0 || $0.expiresAtMs > now)
            }
            if live.count > 1 { #expect(partial.unrevoked < full.unrevoked) }
            if full.holds {
                // It stopped at the award it holds by, which stays held until partial.changesAtMs.
                #expect(partial.unrevoked <= full.unrevoked)
                let awards = try store.customerAwards("c", badge: "b")
                let holding = try #require(awards.first { $0.awardId == partial.currentAwardId })
                #expect(partial.changesAtMs == (holding.expiresAtMs == 0 ? .max : holding.expiresAtMs))
            } else {
                #expect(partial == full)
            }
        }
    }

    @Test func countNeverGoesBelowZero() throws {
        try withStore { store, _ in
            let award = try store.insert(newAward(customer: "c1", badge: "gold"))
            try store.revoke(award, atMs: 1)
            try store.revoke(award, atMs: 2)
            #expect(try store.count(of: "gold") == 0)
        }
    }

    @Test func awardById() throws {
        try withStore { store, _ in
            let a = try store.insert(newAward(customer: "c1", badge: "gold"))
            let b = try store.insert(newAward(customer: "c2", badge: "silver"))
            func lookup(_ id: UInt64) throws -> Award? {
                try store.read { txn throws(BadgeError) in try store.award(txn, id: id) }
            }
            #expect(try lookup(a.awardId) == a)
            #expect(try lookup(b.awardId) == b)
            #expect(try lookup(0) == nil)
            #expect(try lookup(3) == nil)
            #expect(try lookup(UInt64.max) == nil)
        }
    }

    @Test func awardsAfterPaginatesInIdOrder() throws {
        try withStore { store, _ in
            // Customers inserted out of key order, so id order differs from `awards` key order.
            for customer in ["z", "a", "m", "b", "y", "c", "x"] {
                _ = try store.insert(newAward(customer: customer, badge: "gold"))
            }
            func page(after: UInt64, limit: Int) throws -> [UInt64] {
                try store.read { txn throws(BadgeError) in try store.awards(txn, after: after, limit: limit) }
                    .map(\.awardId)
            }
            #expect(try page(after: 0, limit: 3) == [1, 2, 3])
            #expect(try page(after: 3, limit: 3) == [4, 5, 6])
            #expect(try page(after: 6, limit: 3) == [7])
            #expect(try page(after: 7, limit: 3) == [])
            #expect(try page(after: 0, limit: 100) == Array(1...7))
            #expect(try page(after: 2, limit: 1) == [3])
            #expect(try page(after: 0, limit: 0) == [])
            #expect(try page(after: UInt64.max, limit: 10) == [])
            #expect(try page(after: UInt64.max - 1, limit: 10) == [])
            let full = try store.read { txn throws(BadgeError) in try store.awards(txn, after: 0, limit: 10) }
            #expect(full.map(\.customerId) == ["z", "a", "m", "b", "y", "c", "x"])
        }
    }

    @Test func awardsAfterPaginationCoversEverythingOnce() throws {
        try withStore { store, _ in
            try store.write { txn throws(BadgeError) in
                for index in 0..<250 {
                    _ = try store.insertAward(txn, newAward(customer: "c\(index % 17)", badge: "b"))
                }
            }
            var collected: [UInt64] = []
            var after: UInt64 = 0
            while true {
                let chunk = try store.read { txn throws(BadgeError) in try store.awards(txn, after: after, limit: 64) }
                if chunk.isEmpty { break }
                collected += chunk.map(\.awardId)
                after = chunk.last!.awardId
            }
            #expect(collected == Array(1...250))
        }
    }

    @Test func countsTrackBadgesAndAwards() throws {
        try withStore { store, _ in
            try store.put(BadgeDefinition(id: "gold", name: "Gold"))
            try store.put(BadgeDefinition(id: "silver", name: "Silver"))
            let award = try store.insert(newAward(customer: "c1", badge: "gold"))
            _ = try store.insert(newAward(customer: "c2", badge: "gold"))
            _ = try store.insert(newAward(customer: "c2", badge: "silver"))
            try store.revoke(award, atMs: 5)
            let counts = try store.read { txn throws(BadgeError) in try store.counts(txn) }
            #expect(counts.badges == 2)
            #expect(counts.awards == 3)
        }
    }
}
