import BadgeModel
import BadgeService
import BadgeStore
import BadgeTestSupport
import Testing

@Suite("BadgeService issue")
struct IssueServiceTests {
    @Test func issueHappyPath() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "gold", name: "Gold"))
            let result = try await h.issue(
                "c1", "gold", requestId: "r1", source: .direct, evidence: "tier upgrade", evidenceFields: ["tier": "3"])
            #expect(result.replayed == false)
            let award = result.award
            #expect(award.awardId == 1)
            #expect(award.customerId == "c1")
            #expect(award.badgeId == "gold")
            #expect(award.earnedAtMs == ServiceHarness.startMs)
            #expect(award.expiresAtMs == 0)
            #expect(award.source == .direct)
            #expect(award.evidence == "tier upgrade")
            #expect(award.evidenceFields == ["tier": "3"])
            #expect(award.requestId == "r1")
            #expect(!award.isRevoked)
            #expect(try h.storedAward(1) == award)
            #expect(try h.unrevokedCount("gold") == 1)
            let trophyCase = try h.service.trophyCase(customerId: "c1")
            #expect(trophyCase.entries.map(\.state) == [.earned])
            #expect(trophyCase.entries.first?.awards == [award])
        }
    }

    @Test func retryWithTheSameRequestIdReplays() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "gold", name: "Gold"))
            let first = try await h.issue("c1", "gold", requestId: "r1", evidence: "first")
            h.clock.advance(by: 60_000)
            let retry = try await h.issue("c1", "gold", requestId: "r1", evidence: "second")
            #expect(retry.replayed)
            #expect(retry.award == first.award)
            #expect(retry.award.evidence == "first")
            #expect(try h.allAwards().count == 1)
            #expect(try h.unrevokedCount("gold") == 1)
        }
    }

    @Test func replayReturnsTheOriginalEvenAfterTheBadgeIsDeactivated() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "gold", name: "Gold"))
            let first = try await h.issue("c1", "gold", requestId: "r1")
            _ = try await h.service.deactivateBadge(id: "gold")
            let retry = try await h.issue("c1", "gold", requestId: "r1")
            #expect(retry.replayed)
            #expect(retry.award == first.award)
        }
    }

    @Test func concurrentDuplicatesCreateOneAward() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "gold", name: "Gold"))
            let service = h.service
            let results = try await withThrowingTaskGroup(of: IssueResult.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        try await service.issue(IssueRequest(customerId: "c1", badgeId: "gold", requestId: "same"))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.count == 20)
            #expect(Set(results.map(\.award)).count == 1)
            #expect(results.filter { !$0.replayed }.count == 1)
            #expect(try h.allAwards().count == 1)
        }
    }

    @Test func reusedRequestIdWithAnotherBadgeOrCustomerIsRefused() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "gold", name: "Gold"))
            try await h.putBadge(BadgeDefinition(id: "silver", name: "Silver"))
            try await h.issue("c1", "gold", requestId: "r1")
            let otherBadge = await expectAsyncBadgeError(.failedPrecondition, reason: "request_id_reused") {
                try await h.issue("c1", "silver", requestId: "r1")
            }
            #expect(otherBadge?.message.contains("r1") == true)
            await expectAsyncBadgeError(.failedPrecondition, reason: "request_id_reused") {
                try await h.issue("c2", "gold", requestId: "r1")
            }
            #expect(try h.allAwards().count == 1)
        }
    }

    @Test func unknownBadgeIsNotFound() async throws {
        try await withHarness { h throws in
            let error = await expectAsyncBadgeError(.notFound, reason: "badge_not_found") {
                try await h.issue("c1", "ghost", requestId: "r1")
            }
            #expect(error?.message.contains("ghost") == true)
            #expect(try h.allAwards().isEmpty)
        }
    }

    @Test func invalidRequestsAreRefusedBeforeTheWriter() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "gold", name: "Gold"))
            let before = h.service.writerStatistics
            await expectAsyncBadgeError(.invalidArgument, reason: "missing_id") { try await h.issue("", "gold") }
            await expectAsyncBadgeError(.invalidArgument, reason: "invalid_id") {
                try await h.issue("c1", "no such/id")
            }
            await expectAsyncBadgeError(.invalidArgument, reason: "missing_id") {
                try await h.issue("c1", "gold", requestId: "")
            }
            await expectAsyncBadgeError(.invalidArgument, reason: "invalid_id") { try await h.issue("c\n1", "gold") }
            await expectAsyncBadgeError(.invalidArgument, reason: "too_long") {
                try await h.issue("c1", "gold", evidence: String(repeating: "x", count: Limits.maxTextBytes + 1))
            }
            await expectAsyncBadgeError(.invalidArgument, reason: "invalid_argument") {
                try await h.issue("c1", "gold", evidenceFields: ["": "empty key"])
            }
            #expect(h.service.writerStatistics == before)
            #expect(try h.allAwards().isEmpty)
        }
    }

    // MARK: IssuePolicy refusals through the service

    @Test func inactiveBadgeIsRefused() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "gold", name: "Gold"))
            _ = try await h.service.deactivateBadge(id: "gold")
            await expectAsyncBadgeError(.failedPrecondition, reason: "badge_inactive") {
                try await h.issue("c1", "gold")
            }
            #expect(try h.allAwards().isEmpty)
        }
    }

    @Test func validityWindowFollowsTheClock() async throws {
        try await withHarness { h throws in
            let from = ServiceHarness.startMs + 1_000
            try await h.putBadge(
                BadgeDefinition(id: "summer", name: "Summer", validFromMs: from, validUntilMs: from + 500))
            await expectAsyncBadgeError(.failedPrecondition, reason: "badge_not_yet_valid") {
                try await h.issue("c1", "summer")
            }
            h.clock.set(from)
            #expect(try await h.issue("c1", "summer").award.earnedAtMs == from)
            h.clock.set(from + 499)
            #expect(try await h.issue("c2", "summer").award.earnedAtMs == from + 499)
            h.clock.set(from + 500)
            await expectAsyncBadgeError(.failedPrecondition, reason: "badge_window_closed") {
                try await h.issue("c3", "summer")
            }
            #expect(try h.allAwards().map(\.customerId) == ["c1", "c2"])
        }
    }

    @Test func passedAbsoluteExpiryIsRefused() async throws {
        try await withHarness { h throws in
            let expiresAt = ServiceHarness.startMs + 10
            try await h.putBadge(BadgeDefinition(id: "promo", name: "Promo", expiresAtMs: expiresAt))
            let award = try await h.issue("c1", "promo").award
            #expect(award.expiresAtMs == expiresAt)
            h.clock.set(expiresAt)
            await expectAsyncBadgeError(.failedPrecondition, reason: "award_would_be_expired") {
                try await h.issue("c2", "promo")
            }
        }
    }

    @Test func relativeExpiryUsesTheClockAndAllowsEarningAgain() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "monthly", name: "Monthly", expiresAfterMs: 1_000))
            let first = try await h.issue("c1", "monthly").award
            #expect(first.expiresAtMs == ServiceHarness.startMs + 1_000)
            h.clock.advance(by: 999)
            await expectAsyncBadgeError(.alreadyExists, reason: "already_held") { try await h.issue("c1", "monthly") }
            #expect(try h.service.trophyCase(customerId: "c1").entries.map(\.state) == [.earned])
            h.clock.advance(by: 1)
            // Expired: no longer shown as earned, and may be earned again.
            #expect(try h.service.trophyCase(customerId: "c1").entries.map(\.state) == [.locked])
            let second = try await h.issue("c1", "monthly").award
            #expect(second.awardId == 2)
            #expect(second.earnedAtMs == ServiceHarness.startMs + 1_000)
            #expect(second.expiresAtMs == ServiceHarness.startMs + 2_000)
            let entry = try #require(try h.service.trophyCase(customerId: "c1").entries.first)
            #expect(entry.state == .earned)
            #expect(entry.awards.map(\.awardId) == [2])
        }
    }

    @Test func nonRepeatableHeldIsRefused() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "member", name: "Member"))
            try await h.issue("c1", "member")
            let error = await expectAsyncBadgeError(.alreadyExists, reason: "already_held") {
                try await h.issue("c1", "member")
            }
            #expect(error?.message.contains("c1") == true)
            // Another customer is unaffected.
            try await h.issue("c2", "member")
            #expect(try h.allAwards().count == 2)
        }
    }

    @Test func nonRepeatableMayBeEarnedAgainAfterRevocation() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "gold", name: "Gold"))
            let first = try await h.issue("c1", "gold").award
            _ = try await h.service.revoke(RevokeRequest(customerId: "c1", awardId: first.awardId, reason: "downgrade"))
            let second = try await h.issue("c1", "gold")
            #expect(second.replayed == false)
            #expect(second.award.awardId == 2)
        }
    }

    @Test func customerLimitCountsUnrevokedIncludingExpired() async throws {
        try await withHarness { h throws in
            try await h.putBadge(
                BadgeDefinition(id: "visit", name: "Visit", repeatable: true, maxPerCustomer: 2, expiresAfterMs: 10))
            let first = try await h.issue("c1", "visit").award
            try await h.issue("c1", "visit")
            h.clock.advance(by: 1_000)  // both expired now
            await expectAsyncBadgeError(.resourceExhausted, reason: "customer_limit_reached") {
                try await h.issue("c1", "visit")
            }
            _ = try await h.service.revoke(RevokeRequest(customerId: "c1", awardId: first.awardId, reason: "undo"))
            let third = try await h.issue("c1", "visit").award
            #expect(third.awardId == 3)
            await expectAsyncBadgeError(.resourceExhausted, reason: "customer_limit_reached") {
                try await h.issue("c1", "visit")
            }
            try await h.issue("c2", "visit")
        }
    }

    @Test func repeatableAwardsAreGroupedInTheTrophyCase() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "visit", name: "Visit", repeatable: true))
            for _ in 0..<3 {
                try await h.issue("c1", "visit")
                h.clock.advance(by: 10)
            }
            let entry = try #require(try h.service.trophyCase(customerId: "c1").entries.first)
            #expect(entry.state == .earned)
            #expect(entry.awards.map(\.awardId) == [1, 2, 3])
            #expect(entry.awards.map(\.earnedAtMs) == [0, 10, 20].map { ServiceHarness.startMs + $0 })
        }
    }

    @Test func globalCapIsEnforcedAndRevokeFreesASlot() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "first100", name: "Early bird", globalCap: 2))
            let a = try await h.issue("c1", "first100").award
            try await h.issue("c2", "first100")
            await expectAsyncBadgeError(.resourceExhausted, reason: "global_cap_reached") {
                try await h.issue("c3", "first100")
            }
            #expect(try h.unrevokedCount("first100") == 2)
            _ = try await h.service.revoke(RevokeRequest(customerId: "c1", awardId: a.awardId, reason: "test account"))
            #expect(try h.unrevokedCount("first100") == 1)
            try await h.issue("c3", "first100")
            await expectAsyncBadgeError(.resourceExhausted, reason: "global_cap_reached") {
                try await h.issue("c4", "first100")
            }
        }
    }

    /// Counters (next award id, global counts) live in memory for the length of a batch: a cap must
    /// hold among the awards of one batch, and what they count must reach the disk.
    @Test func countersHoldWithinABatchAndAcrossARestart() async throws {
        let h = try ServiceHarness()
        defer { h.close() }
        try await h.putBadge(BadgeDefinition(id: "capped", name: "Capped", globalCap: 5))
        try await h.putBadge(BadgeDefinition(id: "open", name: "Open", repeatable: true))
        // Submitted together, so the writer takes them in few batches.
        let service = h.service
        let results = await withTaskGroup(of: Result<Award, BadgeError>.self) { group in
            for index in 0..<40 {
                group.addTask {
                    do {
                        let badge = index % 2 == 0 ? "capped" : "open"
                        let request = IssueRequest(customerId: "c\(index)", badgeId: badge, requestId: "r\(index)")
                        return .success(try await service.issue(request).award)
                    } catch let error as BadgeError {
                        return .failure(error)
                    } catch {
                        return .failure(BadgeError(.internal, "\(error)"))
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let awards = results.compactMap { try? $0.get() }
        #expect(awards.count { $0.badgeId == "capped" } == 5)
        #expect(awards.count { $0.badgeId == "open" } == 20)
        #expect(results.count { (try? $0.get()) == nil } == 15)
        #expect(Set(awards.map(\.awardId)).count == 25, "award ids are unique")
        #expect(try h.unrevokedCount("capped") == 5)
        #expect(try h.unrevokedCount("open") == 20)

        try h.reopen()
        #expect(try h.unrevokedCount("capped") == 5)
        await expectAsyncBadgeError(.resourceExhausted, reason: "global_cap_reached") {
            try await h.issue("late", "capped")
        }
        let first = try #require(awards.first { $0.badgeId == "capped" })
        _ = try await h.service.revoke(RevokeRequest(customerId: first.customerId, awardId: first.awardId, reason: "t"))
        let again = try await h.issue("late", "capped").award
        #expect(again.awardId > awards.map(\.awardId).max()!, "ids keep growing after a restart")
        #expect(try h.unrevokedCount("capped") == 5)
    }

    @Test func trophyCaseOrdering() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "c", name: "C", rank: 3))
            try await h.putBadge(BadgeDefinition(id: "a", name: "A", rank: 1))
            try await h.putBadge(BadgeDefinition(id: "b", name: "B", rank: 2))
            try await h.putBadge(BadgeDefinition(id: "d", name: "D", rank: 2))
            try await h.putBadge(BadgeDefinition(id: "retired", name: "R", rank: 0))
            try await h.putBadge(
                BadgeDefinition(id: "gone", name: "G", rank: 0, validUntilMs: ServiceHarness.startMs + 1))
            try await h.issue("c1", "c")
            try await h.issue("c1", "d")
            try await h.issue("c1", "retired")
            try await h.issue("c2", "a")
            _ = try await h.service.deactivateBadge(id: "retired")
            h.clock.advance(by: 5)
            let trophyCase = try h.service.trophyCase(customerId: "c1")
            #expect(trophyCase.customerId == "c1")
            let expected = ["retired:earned", "d:earned", "c:earned", "a:locked", "b:locked"]
            #expect(trophyCase.entries.map { "\($0.badge.id):\($0.state.rawValue)" } == expected)
            let stranger = try h.service.trophyCase(customerId: "nobody")
            #expect(stranger.entries.map(\.badge.id) == ["a", "b", "d", "c"])
            #expect(stranger.entries.allSatisfy { $0.state == .locked })
            await expectAsyncBadgeError(.invalidArgument, reason: "missing_id") {
                try h.service.trophyCase(customerId: "")
            }
        }
    }
}
