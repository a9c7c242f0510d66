import BadgeCodec
import BadgeModel
import BadgeStore
import BadgeTestSupport
import Testing

@testable import BadgeService

/// Retries with the same idempotency key (Issue `request_id`, Evaluate `event_id`): the first
/// outcome is returned to its own customer only, and nothing is stored twice.
@Suite("Idempotency keys")
struct IdempotencyTests {
    static let firstPurchase = BadgeDefinition(
        id: "first", name: "First purchase",
        criteria: Criteria(criteria: [Criterion(key: "n", eventType: "purchase", target: 1)]))

    /// The same Unicode text in two byte sequences: Swift's `==` says equal, the store keys them
    /// as two customers (see the List cache test of the same name).
    static let composed = "Jos\u{E9}"
    static let decomposed = "Jose\u{301}"

    func purchase(_ id: String, _ customer: String, dryRun: Bool = false) -> ActivityEvent {
        ActivityEvent(
            eventId: id, customerId: customer, type: "purchase", occurredAtMs: ServiceHarness.startMs,
            dryRun: dryRun)
    }

    @Test("an Issue request id used by a canonically equivalent customer id is another customer's")
    func issueRequestIdOfEquivalentCustomer() async throws {
        try await withHarness { harness in
            try await harness.putBadge(BadgeDefinition(id: "gold", name: "Gold"))
            #expect(Self.composed == Self.decomposed)
            try await harness.issue(Self.composed, "gold", requestId: "r1")
            let refused = await expectAsyncBadgeError(.failedPrecondition, reason: "request_id_reused") {
                try await harness.issue(Self.decomposed, "gold", requestId: "r1")
            }
            #expect(refused?.message.contains("other Unicode bytes") == true)
            #expect(try harness.allAwards().map { Array($0.customerId.utf8) } == [Array(Self.composed.utf8)])
        }
    }

    @Test("an Evaluate event id used by a canonically equivalent customer id is another customer's")
    func evaluateEventIdOfEquivalentCustomer() async throws {
        for writerPlanPercent in [0, 100] {
            let harness = try ServiceHarness(writerPlanPercent: writerPlanPercent)
            defer { harness.close() }
            let service = harness.service
            try await harness.putBadge(Self.firstPurchase)
            let first = try await service.evaluate(purchase("e1", Self.composed))
            #expect(first.awarded.count == 1)
            // Not answered with the other customer's award as if it were this one's.
            await expectAsyncBadgeError(.failedPrecondition, reason: "event_id_reused") {
                try await service.evaluate(purchase("e1", Self.decomposed))
            }
            await expectAsyncBadgeError(.failedPrecondition, reason: "event_id_reused") {
                try await service.evaluate(purchase("e1", Self.decomposed, dryRun: true))
            }
            #expect(try harness.allAwards().count == 1)
        }
    }

    @Test("a Revoke naming a canonically equivalent customer id does not reach another customer's award")
    func revokeOfEquivalentCustomer() async throws {
        try await withHarness { harness in
            try await harness.putBadge(BadgeDefinition(id: "gold", name: "Gold"))
            let award = try await harness.issue(Self.composed, "gold").award
            await expectAsyncBadgeError(.notFound, reason: "award_not_found") {
                try await harness.service.revoke(
                    RevokeRequest(customerId: Self.decomposed, awardId: award.awardId, reason: "fraud"))
            }
            #expect(try harness.storedAward(award.awardId)?.isRevoked == false)
            #expect(try harness.unrevokedCount("gold") == 1)
        }
    }
}
