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
    /// The event that earns it.
    static let purchase = ActivityEvent(
        eventId: "e1", customerId: "c", type: "purchase", occurredAtMs: ServiceHarness.startMs)

    @Test("badges in different zones each read an event in their own zone, unless the event or customer has one")
    func eachBadgeInItsZone() async throws {
        try await withHarness { harness in
            // Three badges counting purchases between 22:00 and 05:00, in two zones (one twice).
            for (id, zone) in [("tokyo", "Asia/Tokyo"), ("new-york", "America/New_York"), ("tokyo-2", "Asia/Tokyo")] {
                try await harness.putBadge(
                    BadgeDefinition(
                        id: id, name: id,
                        criteria: Criteria(
                            criteria: [
                                Criterion(
                                    key: "night", eventType: "purchase", target: 5,
                                    timeOfDay: TimeOfDayWindow(startMinute: 22 * 60, endMinute: 5 * 60))
                            ], timeZone: zone)))
            }
            func counted(_ id: String, _ customer: String, zone: String = "") async throws -> [String] {
                // 14:00Z: 23:00 in Tokyo, 09:00 in New York (EST).
                let event = ActivityEvent(
                    eventId: id, customerId: customer, type: "purchase", occurredAtMs: 1_793_628_000_000,
                    timeZone: zone)
                let result = try await callback { harness.service.evaluate(event, completion: $0) }.get()
                return result.progress.map(\.badgeId).sorted()
            }
            #expect(try await counted("e1", "c1") == ["tokyo", "tokyo-2"])
            // The event's zone is every badge's: night nowhere at 09:00 in New York.
            #expect(try await counted("e2", "c2", zone: "America/New_York") == [])
            // And, kept as the customer's zone, for that customer's later events too.
            #expect(try await counted("e3", "c2") == [])
            #expect(try await counted("e4", "c3", zone: "Asia/Tokyo") == ["new-york", "tokyo", "tokyo-2"])
        }
    }

    @Test("the encoded reply carries the stored award; its request id is kept but not indexed")
    func replyAndRequestIndex() async throws {
        try await withHarness { harness in
            try await harness.putBadge(Self.firstPurchase)
            let event = Self.purchase
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

    @Test("an event record keeps its awards by id only, and a replay after a revocation is the original")
    func awardsStoredOnce() async throws {
        try await withHarness { harness in
            try await harness.putBadge(Self.firstPurchase)
            let event = Self.purchase
            let first = try await callback { harness.service.evaluate(event, completion: $0) }.get()
            let award = try #require(first.awarded.first)
            let record = try #require(
                try harness.store.read { txn throws(BadgeError) in try harness.store.eventRecord(txn, eventId: "e1") })
            #expect(record.awardsById)
            #expect(record.awardedIds == [award.awardId])
            #expect(record.response.isEmpty, "the award is not stored twice, nor the reply")
            #expect(try EvaluateResult.unpackProgress(record.progressPacked) == first.progress)

            _ = try await harness.service.revoke(RevokeRequest(customerId: "c", awardId: award.awardId, reason: "test"))
            #expect(try harness.storedAward(award.awardId)?.isRevoked == true)
            let retried = try await callback { harness.service.evaluate(event, completion: $0) }.get()
            #expect(retried.replayed)
            #expect(retried.awarded == first.awarded, "as returned then: the revocation since is not shown")
            #expect(retried.progress == first.progress)
        }
    }

    @Test("a record written before awards were kept by id still replays its stored reply")
    func olderRecordsReplay() async throws {
        try await withHarness { harness in
            try await harness.putBadge(Self.firstPurchase)
            let award = Award(
                awardId: 77, customerId: "c", badgeId: "first", earnedAtMs: 5, source: .rule, evidence: "then")
            let old = EvaluateResult(awarded: [award], progress: [])
            try harness.store.write { txn throws(BadgeError) in
                try harness.store.putEventRecord(
                    txn, eventId: "old",
                    EventRecord(
                        customerId: "c", type: "purchase", occurredAtMs: 5, recordedAtMs: 5, awardedIds: [77],
                        response: old.encoded()))
            }
            let event = ActivityEvent(eventId: "old", customerId: "c", type: "purchase", occurredAtMs: 5)
            let replayed = try await callback { harness.service.evaluate(event, completion: $0) }.get()
            #expect(replayed.replayed)
            #expect(replayed.awarded == [award])
        }
    }

    @Test(
        "a record written before progress was packed (schema 4: awards by id, the reply's progress kept as is) replays")
    func unpackedRecordsReplay() async throws {
        try await withHarness { harness in
            try await harness.putBadge(Self.firstPurchase)
            let award = try harness.store.write { txn throws(BadgeError) in
                try harness.store.insertAward(
                    txn,
                    Award(awardId: 0, customerId: "c", badgeId: "first", earnedAtMs: 5, source: .rule, evidence: "then")
                )
            }
            let progress = [
                ProgressChange(
                    badgeId: "first", progress: Progress(key: "k", current: 1, target: 1, complete: true, text: "1 / 1")
                )
            ]
            try harness.store.write { txn throws(BadgeError) in
                try harness.store.putEventRecord(
                    txn, eventId: "v4",
                    EventRecord(
                        customerId: "c", type: "purchase", occurredAtMs: 5, recordedAtMs: 5,
                        awardedIds: [award.awardId],
                        response: EvaluateResult.encodedProgress(progress), awardsById: true))
            }
            let event = ActivityEvent(eventId: "v4", customerId: "c", type: "purchase", occurredAtMs: 5)
            let replayed = try await callback { harness.service.evaluate(event, completion: $0) }.get()
            #expect(replayed.replayed)
            #expect(replayed.awarded == [award])
            #expect(replayed.progress == progress)
        }
    }
}
