import BadgeCodec
import BadgeModel
import BadgeStore
import Testing

@testable import BadgeService

/// What the writer stores and answers when an Evaluate earns a badge.
@Suite("Awards made by Evaluate")
struct EvaluateAwardTests {
    static let firstPurchase = BadgeDefinition(
        id: "first", name: "First purchase",
        criteria: Criteria(criteria: [Criterion(key: "n", eventType: "purchase", target: 1)]))

    @Test("the encoded reply carries the stored award; its request id is kept but not indexed")
    func replyAndRequestIndex() async throws {
        try await withHarness { harness in
            try await harness.putBadge(Self.firstPurchase)
            let event = ActivityEvent(
                eventId: "e1", customerId: "c", type: "purchase", occurredAtMs: ServiceHarness.startMs)
            let encoded = try await callback { harness.service.evaluateEncoded(event, completion: $0) }.get()
            let reply = try EvaluateResult(decoding: encoded)
            let stored = try harness.allAwards()
            #expect(stored.count == 1)
            #expect(reply.awarded == stored)
            #expect(reply.awarded.first?.requestId == "event:e1:first")
            #expect(reply.progress.map(\.badgeId) == ["first"])
            // The event record answers a retry; nothing looks rule awards up by request id.
            let indexed = try harness.store.read { txn throws(BadgeError) in
                try harness.store.awardId(txn, forRequest: "event:e1:first")
            }
            #expect(indexed == nil)
            let retried = try await callback { harness.service.evaluate(event, completion: $0) }.get()
            #expect(retried.replayed)
            #expect(retried.awarded == stored)
            #expect(try harness.allAwards().count == 1)
        }
    }
}
