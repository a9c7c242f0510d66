import BadgeCodec
import BadgeModel
import BadgeStore
import Testing

@testable import BadgeService

/// Progress is stored per criterion key, byte for byte.
@Suite("Criteria keys")
struct CriteriaKeyTests {
    @Test("renaming a criterion key to the same text in other bytes does not bring back old progress")
    func equivalentKeyRename() async throws {
        try await withHarness { harness in
            let service = harness.service
            func badge(_ key: String) -> BadgeDefinition {
                BadgeDefinition(
                    id: "ten", name: "Ten",
                    criteria: Criteria(criteria: [Criterion(key: key, eventType: "purchase", target: 10)]))
            }
            func purchase(_ id: String) -> ActivityEvent {
                ActivityEvent(eventId: id, customerId: "c", type: "purchase", occurredAtMs: ServiceHarness.startMs)
            }
            /// List's progress, checked against the encoded (cached) reply.
            func current() throws -> [Double] {
                let built = try service.trophyCase(customerId: "c")
                #expect(try TrophyCase(decoding: service.encodedTrophyCase(customerId: "c")) == built)
                return built.entries.flatMap(\.progress).map(\.current)
            }
            try await harness.putBadge(badge("caf\u{E9}"))
            for index in 0..<2 { _ = try await service.evaluate(purchase("a\(index)")) }
            #expect(try current() == [2])
            // A new key: it starts from zero (PROTOCOL §7.4), though Swift's == finds it equal to the old.
            try await harness.putBadge(badge("cafe\u{301}"), replace: true)
            #expect(try current() == [0])
            var seen: [Double] = []
            for index in 0..<3 {
                let result = try await service.evaluate(purchase("b\(index)"))
                seen.append(result.progress.first?.progress.current ?? -1)
            }
            // Each event counts once more (it was read back from the old key's state each time: 3, 3, 3).
            #expect(seen == [1, 2, 3])
            #expect(try current() == [3])
        }
    }

    @Test("reordering a criterion's conditions and days keeps progress; changing them restarts it")
    func reorderedDefinitionKeepsProgress() async throws {
        try await withHarness { harness in
            let service = harness.service
            func badge(_ conditions: [Condition], days: [UInt32]) -> BadgeDefinition {
                BadgeDefinition(
                    id: "weekend", name: "Weekend shopper",
                    criteria: Criteria(criteria: [
                        Criterion(key: "k", eventType: "purchase", conditions: conditions, target: 10, daysOfWeek: days)
                    ]))
            }
            let channel = Condition(attribute: "channel", op: .in, values: ["store", "app"])
            let minimum = Condition(attribute: "amount", op: .gte, number: 10)
            // 2026-06-06 is a Saturday.
            let saturday: Int64 = 1_780_747_200_000
            func purchase(_ id: String) -> ActivityEvent {
                ActivityEvent(
                    eventId: id, customerId: "c", type: "purchase", occurredAtMs: saturday, amount: 20,
                    attributes: ["channel": "app"])
            }
            func current() throws -> [Double] {
                try service.trophyCase(customerId: "c").entries.flatMap(\.progress).map(\.current)
            }
            try await harness.putBadge(badge([channel, minimum], days: [6, 7]))
            for index in 0..<2 { _ = try await service.evaluate(purchase("a\(index)")) }
            #expect(try current() == [2])
            let reorderedChannel = Condition(attribute: "channel", op: .in, values: ["app", "store"])
            try await harness.putBadge(badge([minimum, reorderedChannel], days: [7, 6]), replace: true)
            #expect(try current() == [2])
            #expect(try await service.evaluate(purchase("b0")).progress.first?.progress.current == 3)
            try await harness.putBadge(badge([minimum], days: [7, 6]), replace: true)
            #expect(try current() == [0])
        }
    }
}
