import BadgeCodec
import BadgeModel
import BadgeStore
import Testing

@testable import BadgeService

/// Evaluate over a badge's life: a dry run before and after the real event, an award revoked and
/// earned again, an award expiring. The awards, the counts and List (its reply cache included) are
/// checked right after each call.
@Suite("Evaluate: dry runs, revoking and earning again, expiry")
struct EvaluateLifecycleTests {
    static let firstPurchase = IdempotencyTests.firstPurchase

    func purchase(_ id: String, dryRun: Bool = false) -> ActivityEvent {
        ActivityEvent(
            eventId: id, customerId: "c", type: "purchase", occurredAtMs: ServiceHarness.startMs, dryRun: dryRun)
    }

    /// The cached List reply, after checking it against a fresh build.
    func listed(_ service: BadgeService) throws -> TrophyCase {
        let cached = try TrophyCase(decoding: service.encodedTrophyCase(customerId: "c"))
        #expect(cached == (try service.trophyCase(customerId: "c")))
        return cached
    }

    @Test("a non-repeatable badge revoked is earned again by the next event, and List follows each step")
    func revokeThenEarnAgain() async throws {
        for writerPlanPercent in [0, 100] {
            let harness = try ServiceHarness(writerPlanPercent: writerPlanPercent)
            defer { harness.close() }
            let service = harness.service
            try await harness.putBadge(Self.firstPurchase)
            let first = try await service.evaluate(purchase("e1")).awarded
            #expect(first.count == 1)
            #expect(try listed(service).entries.map(\.state) == [.earned])
            #expect(try await service.evaluate(purchase("e2")).awarded.isEmpty, "held: not awarded twice")
            #expect(try listed(service).entries.first?.awards == first)

            let revoked = try await service.revoke(RevokeRequest(customerId: "c", badgeId: "first", reason: "test"))
            #expect(revoked.map(\.awardId) == first.map(\.awardId))
            #expect(try harness.unrevokedCount("first") == 0)
            #expect(try listed(service).entries.map(\.state) == [.locked])

            let again = try await service.evaluate(purchase("e3")).awarded
            #expect(again.count == 1)
            #expect(again.first?.awardId != first.first?.awardId)
            #expect(try listed(service).entries.first?.awards == again)
            #expect(try harness.unrevokedCount("first") == 1)
            #expect(try harness.allAwards().count == 2)
            // A retry of the event that earned the first award replays it, and awards nothing new.
            let retried = try await service.evaluate(purchase("e1"))
            #expect(retried.replayed)
            #expect(try harness.allAwards().count == 2)
        }
    }

    @Test("an award that expires is held until its expiry instant and earned again from it on")
    func expiryInstant() async throws {
        let harness = try ServiceHarness()
        defer { harness.close() }
        let service = harness.service
        var badge = Self.firstPurchase
        badge.expiresAfterMs = 1_000
        try await harness.putBadge(badge)
        let first = try await service.evaluate(purchase("e1")).awarded
        #expect(first.first?.expiresAtMs == ServiceHarness.startMs + 1_000)
        harness.clock.advance(by: 999)
        #expect(try listed(service).entries.first?.awards == first)
        #expect(try await service.evaluate(purchase("e2")).awarded.isEmpty)
        harness.clock.advance(by: 1)
        #expect(try listed(service).entries.map(\.state) == [.locked], "expired at its instant")
        let again = try await service.evaluate(purchase("e3")).awarded
        #expect(again.map(\.earnedAtMs) == [ServiceHarness.startMs + 1_000])
        #expect(try listed(service).entries.first?.awards == again)
    }

    @Test("a dry run evaluates against the catalogue as it is now: a badge added or deactivated counts at once")
    func dryRunFollowsTheCatalogue() async throws {
        try await withHarness { harness in
            let service = harness.service
            try await harness.putBadge(Self.firstPurchase)
            #expect(try await service.evaluate(purchase("e1", dryRun: true)).awarded.map(\.badgeId) == ["first"])
            var second = Self.firstPurchase
            second.id = "second"
            second.name = "Also a first purchase"
            try await harness.putBadge(second)
            let both = try await service.evaluate(purchase("e1", dryRun: true))
            #expect(Set(both.awarded.map(\.badgeId)) == ["first", "second"])
            _ = try await service.deactivateBadge(id: "first")
            #expect(try await service.evaluate(purchase("e1", dryRun: true)).awarded.map(\.badgeId) == ["second"])
            #expect(try harness.allAwards().isEmpty)
        }
    }

    @Test("a dry run records nothing; the real event then awards; a dry run after it replays the real outcome")
    func dryRunThenRealThenDryRun() async throws {
        try await withHarness { harness in
            let service = harness.service
            try await harness.putBadge(Self.firstPurchase)
            let dry = try await service.evaluate(purchase("e1", dryRun: true))
            #expect(!dry.replayed)
            #expect(dry.awarded.map(\.awardId) == [0])
            #expect(try harness.allAwards().isEmpty)
            let real = try await service.evaluate(purchase("e1"))
            #expect(!real.replayed, "the dry run did not record the event")
            #expect(real.awarded.count == 1)
            let stored = try harness.allAwards()
            #expect(real.awarded == stored)
            let dryAfter = try await service.evaluate(purchase("e1", dryRun: true))
            #expect(dryAfter.replayed)
            #expect(dryAfter.awarded == stored)
            #expect(try harness.allAwards() == stored)
        }
    }
}
