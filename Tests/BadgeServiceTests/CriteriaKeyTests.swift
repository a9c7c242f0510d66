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
}
