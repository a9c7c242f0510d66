import BadgeModel
import BadgeService
import BadgeTestSupport
@_spi(Testing) import LMDB
import Testing

@testable import BadgeStore

@Suite("Evaluated events: retention")
struct EventRetentionTests {
    static let day: Int64 = 86_400_000

    static func threeBuys() -> BadgeDefinition {
        BadgeDefinition(
            id: "three-buys", name: "Three buys",
            criteria: Criteria(criteria: [Criterion(key: "buys", eventType: "purchase", target: 3)]))
    }

    static func purchase(_ id: String, at ms: Int64) -> ActivityEvent {
        ActivityEvent(eventId: id, customerId: "c", type: "purchase", occurredAtMs: ms)
    }

    static func eventKept(_ harness: ServiceHarness, _ id: String) throws -> Bool {
        try harness.store.read { txn throws(BadgeError) in try harness.store.eventRecord(txn, eventId: id) } != nil
    }

    @Test("a retry inside the retention returns the first outcome; after the event is pruned it counts again")
    func retryAcrossTheRetention() async throws {
        let harness = try ServiceHarness(eventRetentionMs: Self.day)
        defer { harness.close() }
        let service = harness.service
        try await harness.putBadge(Self.threeBuys())
        let start = harness.clock.nowMs
        _ = try await service.evaluate(Self.purchase("e1", at: start))
        _ = try await service.evaluate(Self.purchase("e2", at: start))
        harness.clock.advance(by: 3_600_000)
        let retried = try await service.evaluate(Self.purchase("e1", at: start))
        #expect(retried.replayed)
        #expect(try await service.pruneExpiredEvents() == 0, "an hour old is inside a day's retention")

        harness.clock.advance(by: 2 * Self.day)
        _ = try await service.evaluate(Self.purchase("e3", at: harness.clock.nowMs))
        #expect(try await service.pruneExpiredEvents(chunk: 1) == 2, "e1 and e2, one per transaction")
        #expect(try !Self.eventKept(harness, "e1"))
        #expect(try Self.eventKept(harness, "e3"))
        // e3 was the third buy: pruning e1 and e2 took neither that award nor the progress behind it.
        let trophies = try service.trophyCase(customerId: "c")
        #expect(trophies.entries.first { $0.badge.id == "three-buys" }?.state == .earned)
        // e1 again is a new event now: recorded afresh, not replayed.
        let late = try await service.evaluate(Self.purchase("e1", at: harness.clock.nowMs))
        #expect(!late.replayed)
        #expect(try Self.eventKept(harness, "e1"))
    }

    /// Five purchases (old-0 ... old-4), then `meanwhile`, then two days later one more ("new");
    /// returns once the writer, pruning every 20 ms by itself, has taken old-4 (or after 5 s).
    static func writerPrunesOldPurchases(
        _ harness: ServiceHarness, meanwhile: () throws -> Void = {}
    ) async throws {
        let service = harness.service
        try await harness.putBadge(Self.threeBuys())
        for index in 0..<5 {
            _ = try await service.evaluate(Self.purchase("old-\(index)", at: harness.clock.nowMs))
        }
        try meanwhile()
        harness.clock.advance(by: 2 * Self.day)
        _ = try await service.evaluate(Self.purchase("new", at: harness.clock.nowMs))
        var waited = 0
        while try Self.eventKept(harness, "old-4"), waited < 5_000 {
            try await Task.sleep(for: .milliseconds(10))
            waited += 10
        }
    }

    @Test("the writer prunes by itself, between callers' writes")
    func writerPrunesByItself() async throws {
        let harness = try ServiceHarness(eventRetentionMs: Self.day, pruneInterval: .milliseconds(20))
        defer { harness.close() }
        try await Self.writerPrunesOldPurchases(harness)
        #expect(try (0..<5).allSatisfy { !(try Self.eventKept(harness, "old-\($0)")) })
        #expect(try Self.eventKept(harness, "new"))
    }

    @Test("a damaged event record does not stop the writer's pruning: the events after it still go")
    func writerPrunesPastADamagedRecord() async throws {
        let harness = try ServiceHarness(eventRetentionMs: Self.day, pruneInterval: .milliseconds(20))
        defer { harness.close() }
        try await Self.writerPrunesOldPurchases(harness) {
            let store = harness.store
            try store.environment.write { txn in
                let logKey = try #require(try txn.get(store.eventIds, key: Array("old-1".utf8)))
                try txn.put(store.eventLog, key: logKey, value: [0x0A, 0xFF])
            }
        }
        #expect(try [0, 2, 3, 4].allSatisfy { !(try Self.eventKept(harness, "old-\($0)")) })
        #expect(try Self.eventKept(harness, "new"))
        // The damaged one went too; its id, still indexed, says its record is missing.
        expectBadgeError(.dataLoss, reason: "index_corrupt") { _ = try Self.eventKept(harness, "old-1") }
    }

    @Test("without a retention every event is kept")
    func keptForever() async throws {
        let harness = try ServiceHarness()
        defer { harness.close() }
        try await harness.putBadge(Self.threeBuys())
        _ = try await harness.service.evaluate(Self.purchase("e1", at: harness.clock.nowMs))
        harness.clock.advance(by: 3_650 * Self.day)
        #expect(try await harness.service.pruneExpiredEvents() == 0)
        #expect(try await harness.service.evaluate(Self.purchase("e1", at: 0)).replayed)
    }
}
