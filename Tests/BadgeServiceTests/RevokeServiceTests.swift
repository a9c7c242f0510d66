import BadgeModel
import BadgeService
import BadgeStore
import BadgeTestSupport
import Testing

@Suite("BadgeService revoke")
struct RevokeServiceTests {
    @Test func revokeByAwardIdKeepsTheRecord() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "gold", name: "Gold"))
            try await h.putBadge(BadgeDefinition(id: "silver", name: "Silver"))
            let award = try await h.issue("c1", "gold", requestId: "r1").award
            try await h.issue("c1", "silver")
            h.clock.advance(by: 3_000)
            let revoked = try await h.service.revoke(
                RevokeRequest(customerId: "c1", awardId: award.awardId, reason: "fraud review", actor: "agent:ann"))
            #expect(revoked.count == 1)
            let expected = Award(
                awardId: award.awardId, customerId: "c1", badgeId: "gold", earnedAtMs: award.earnedAtMs,
                requestId: "r1", revokedAtMs: ServiceHarness.startMs + 3_000, revokeReason: "fraud review",
                revokedBy: "agent:ann")
            #expect(revoked.first == expected)
            #expect(try h.storedAward(award.awardId) == expected)
            #expect(try h.unrevokedCount("gold") == 0)
            // Gone from the trophy case (gold is locked again), silver still earned.
            let entries = try h.service.trophyCase(customerId: "c1").entries
            #expect(entries.map { "\($0.badge.id):\($0.state.rawValue)" } == ["silver:earned", "gold:locked"])
            // The replayed request id still returns the (now revoked) original.
            let replay = try await h.issue("c1", "gold", requestId: "r1")
            #expect(replay.replayed)
            #expect(replay.award == expected)
        }
    }

    @Test func revokeByBadgeRevokesEveryUnrevokedAward() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "visit", name: "Visit", repeatable: true))
            try await h.putBadge(BadgeDefinition(id: "other", name: "Other"))
            let first = try await h.issue("c1", "visit").award
            try await h.issue("c1", "visit")
            try await h.issue("c1", "visit")
            try await h.issue("c2", "visit")
            try await h.issue("c1", "other")
            _ = try await h.service.revoke(RevokeRequest(customerId: "c1", awardId: first.awardId, reason: "first"))
            h.clock.advance(by: 100)
            let revoked = try await h.service.revoke(
                RevokeRequest(customerId: "c1", badgeId: "visit", reason: "all of them", actor: "ops"))
            #expect(revoked.map(\.awardId) == [2, 3])
            #expect(revoked.allSatisfy { $0.revokeReason == "all of them" && $0.revokedBy == "ops" })
            #expect(revoked.allSatisfy { $0.revokedAtMs == ServiceHarness.startMs + 100 })
            // The first revocation is untouched.
            #expect(try h.storedAward(first.awardId)?.revokeReason == "first")
            #expect(try h.unrevokedCount("visit") == 1)
            #expect(try h.storedAward(4)?.isRevoked == false)
            #expect(try h.storedAward(5)?.isRevoked == false)
            let earned = try h.service.trophyCase(customerId: "c1").entries.filter { $0.state == .earned }
            #expect(earned.map(\.badge.id) == ["other"])
            // Nothing left to revoke.
            await expectAsyncBadgeError(.notFound, reason: "award_not_found") {
                try await h.service.revoke(RevokeRequest(customerId: "c1", badgeId: "visit", reason: "again"))
            }
        }
    }

    @Test func revokeByUnknownBadgeIsNotFound() async throws {
        try await withHarness { h throws in
            await expectAsyncBadgeError(.notFound, reason: "badge_not_found") {
                try await h.service.revoke(RevokeRequest(customerId: "c1", badgeId: "ghost", reason: "r"))
            }
        }
    }

    @Test func revokeUnknownAwardIsNotFound() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "gold", name: "Gold"))
            try await h.issue("c1", "gold")
            await expectAsyncBadgeError(.notFound, reason: "award_not_found") {
                try await h.service.revoke(RevokeRequest(customerId: "c1", awardId: 99, reason: "r"))
            }
        }
    }

    @Test func revokeSomeoneElsesAwardIsNotFound() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "gold", name: "Gold"))
            let award = try await h.issue("c1", "gold").award
            await expectAsyncBadgeError(.notFound, reason: "award_not_found") {
                try await h.service.revoke(RevokeRequest(customerId: "c10", awardId: award.awardId, reason: "r"))
            }
            #expect(try h.storedAward(award.awardId)?.isRevoked == false)
            #expect(try h.unrevokedCount("gold") == 1)
        }
    }

    @Test func revokeTwiceIsFailedPrecondition() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "gold", name: "Gold"))
            let award = try await h.issue("c1", "gold").award
            let request = RevokeRequest(customerId: "c1", awardId: award.awardId, reason: "r", actor: "agent:bo")
            _ = try await h.service.revoke(request)
            h.clock.advance(by: 10)
            let error = await expectAsyncBadgeError(.failedPrecondition, reason: "already_revoked") {
                try await h.service.revoke(request)
            }
            #expect(error?.message.contains("agent:bo") == true)
            // The first revocation time is kept.
            #expect(try h.storedAward(award.awardId)?.revokedAtMs == ServiceHarness.startMs)
            #expect(try h.unrevokedCount("gold") == 0)
        }
    }

    @Test func revokeWithMismatchedBadgeIsRefused() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "gold", name: "Gold"))
            try await h.putBadge(BadgeDefinition(id: "silver", name: "Silver"))
            let award = try await h.issue("c1", "gold").award
            await expectAsyncBadgeError(.invalidArgument, reason: "award_badge_mismatch") {
                try await h.service.revoke(
                    RevokeRequest(customerId: "c1", awardId: award.awardId, badgeId: "silver", reason: "r"))
            }
            #expect(try h.storedAward(award.awardId)?.isRevoked == false)
        }
    }

    @Test func malformedRevokeRequestsAreInvalid() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "gold", name: "Gold"))
            let award = try await h.issue("c1", "gold").award
            let before = h.service.writerStatistics
            let noReason = await expectAsyncBadgeError(.invalidArgument, reason: "missing_field") {
                try await h.service.revoke(RevokeRequest(customerId: "c1", awardId: award.awardId))
            }
            #expect(noReason?.message.contains("reason") == true)
            await expectAsyncBadgeError(.invalidArgument, reason: "missing_field") {
                try await h.service.revoke(RevokeRequest(customerId: "c1", reason: "nothing named"))
            }
            await expectAsyncBadgeError(.invalidArgument, reason: "missing_id") {
                try await h.service.revoke(RevokeRequest(customerId: "", awardId: award.awardId, reason: "r"))
            }
            await expectAsyncBadgeError(.invalidArgument, reason: "too_long") {
                let reason = String(repeating: "r", count: Limits.maxTextBytes + 1)
                return try await h.service.revoke(
                    RevokeRequest(customerId: "c1", awardId: award.awardId, reason: reason))
            }
            #expect(h.service.writerStatistics == before)
            #expect(try h.storedAward(award.awardId)?.isRevoked == false)
        }
    }
}
