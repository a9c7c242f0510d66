import BadgeCodec
import BadgeModel
import BadgeStore
import BadgeTestSupport
import Foundation
import Synchronization
import Testing

@testable import BadgeService

/// The List reply cache (`TrophyCaseCache`) must never answer what a fresh read would not.
@Suite("List reply cache")
struct ListCacheTests {
    static let zones = ["", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Europe/London"]

    /// Badges whose List output moves with time in every way there is: award expiry, badge windows,
    /// and progress over windows and streaks read in the customer's local day.
    static func catalogue(now: Int64) -> [BadgeDefinition] {
        [
            BadgeDefinition(id: "plain", name: "Plain", rank: 1),
            BadgeDefinition(id: "short", name: "Short-lived", repeatable: true, expiresAfterMs: 3 * 3_600_000),
            BadgeDefinition(id: "window", name: "Window", validUntilMs: now + 20 * 3_600_000),
            BadgeDefinition(
                id: "buyer", name: "Buyer", repeatable: true,
                criteria: Criteria(criteria: [
                    Criterion(key: "buys", eventType: "purchase", target: 3, window: .rollingDays, windowDays: 2)
                ])),
            BadgeDefinition(
                id: "streak", name: "Streak",
                criteria: Criteria(criteria: [
                    Criterion(key: "days", eventType: "purchase", aggregate: .streak, target: 4)
                ])),
            BadgeDefinition(
                id: "monthly", name: "Monthly spender",
                criteria: Criteria(
                    criteria: [
                        Criterion(
                            key: "spend", eventType: "purchase", aggregate: .sum, target: 500, window: .calendarMonth)
                    ], timeZone: "Pacific/Auckland")),
        ]
    }

    @Test("a cached List equals a fresh build through writes, catalogue changes and time", arguments: 1...5)
    func cachedEqualsFresh(seed: UInt64) async throws {
        var random = SplitMix64(state: seed)
        let harness = try ServiceHarness()
        defer { harness.close() }
        let service = harness.service
        for badge in Self.catalogue(now: harness.clock.nowMs) { try await harness.putBadge(badge) }
        let customers = (0..<5).map { "cust-\($0)" }
        var awards: [(String, UInt64)] = []
        var eventNumber = 0

        func check(_ step: Int, _ what: String) throws {
            for customer in customers {
                let listed = try TrophyCase(decoding: service.encodedTrophyCase(customerId: customer))
                let fresh = try service.trophyCase(customerId: customer)
                #expect(listed == fresh, "seed \(seed), step \(step) after \(what), \(customer)")
            }
        }

        for step in 0..<160 {
            let customer = customers.randomElement(using: &random)!
            let what: String
            switch random.next() % 10 {
            case 0, 1:
                let badge = ["plain", "short", "window"].randomElement(using: &random)!
                if let result = try? await harness.issue(customer, badge) {
                    awards.append((customer, result.award.awardId))
                }
                what = "issue \(badge) to \(customer)"
            case 2:
                guard let (owner, awardId) = awards.randomElement(using: &random) else { continue }
                _ = try? await service.revoke(RevokeRequest(customerId: owner, awardId: awardId, reason: "test"))
                what = "revoke \(awardId) of \(owner)"
            case 3, 4, 5:
                eventNumber += 1
                // Sometimes late: out-of-order events change past days' buckets.
                let lateBy = random.next() % 3 == 0 ? Int64(random.next() % 40) * 3_600_000 : 0
                _ = try await service.evaluate(
                    ActivityEvent(
                        eventId: "ev-\(eventNumber)", customerId: customer, type: "purchase",
                        occurredAtMs: harness.clock.nowMs - lateBy,
                        timeZone: Self.zones.randomElement(using: &random)!, amount: Double(random.next() % 300)))
                what = "evaluate for \(customer)"
            case 7:
                // No badge listens to visits: only the customer's zone can change, and the zone
                // decides the local day their progress is read in.
                eventNumber += 1
                let zone = Self.zones.randomElement(using: &random)!
                _ = try await service.evaluate(
                    ActivityEvent(
                        eventId: "ev-\(eventNumber)", customerId: customer, type: "visit",
                        occurredAtMs: harness.clock.nowMs, timeZone: zone))
                what = "visit from \(zone) by \(customer)"
            case 6:
                let name = "Plain \(random.next() % 100)"
                try await harness.putBadge(BadgeDefinition(id: "plain", name: name, rank: 1), replace: true)
                what = "rename plain"
            default:
                // From minutes to more than a day: across expiries, midnights and the window's end.
                let advance = Int64(random.next() % 1_800) * 60_000
                harness.clock.advance(by: advance)
                what = "advance \(advance / 60_000) min"
            }
            try check(step, what)
            // A second look must come from the cache, and say the same.
            try check(step, what + " (again)")
        }
        let statistics = service.listCacheStatistics
        #expect(statistics.hits > 300, "the checks above should mostly be answered from the cache: \(statistics)")
        #expect(statistics.installs > 50)
    }

    @Test("a caller that heard its write acknowledged never lists the old trophy case")
    func readYourWrites() async throws {
        let harness = try ServiceHarness()
        defer { harness.close() }
        let service = harness.service
        try await harness.putBadge(BadgeDefinition(id: "stamp", name: "Stamp", repeatable: true))
        let stop = StopFlag()
        // Readers keep refilling the cache for the customer while awards land.
        let readers = (0..<2).map { _ in
            Thread.detachedLoop(until: stop) { _ = try? service.encodedTrophyCase(customerId: "busy") }
        }
        defer {
            stop.set()
            readers.forEach { $0.wait() }
        }
        for count in 1...300 {
            try await harness.issue("busy", "stamp")
            let listed = try TrophyCase(decoding: service.encodedTrophyCase(customerId: "busy"))
            #expect(listed.entries.first?.awardCount == count, "after award \(count)")
            #expect(listed.entries.first?.awards.count == min(count, Limits.defaultAwardsPerBadge))
            if listed.entries.first?.awardCount != count { break }
        }
        #expect(service.listCacheStatistics.hits > 0)
    }

    @Test("customer ids that are the same Unicode text in different bytes are different customers")
    func canonicallyEquivalentIds() async throws {
        let harness = try ServiceHarness()
        defer { harness.close() }
        let service = harness.service
        try await harness.putBadge(BadgeDefinition(id: "stamp", name: "Stamp", repeatable: true))
        let composed = "Jos\u{E9}"
        let decomposed = "Jose\u{301}"
        #expect(composed == decomposed, "Swift compares them as equal; the store keys them by bytes")
        func awards(_ customer: String) throws -> [UInt64] {
            let listed = try TrophyCase(decoding: service.encodedTrophyCase(customerId: customer))
            #expect(listed.customerId.utf8.elementsEqual(customer.utf8))
            return listed.entries.flatMap(\.awards).map(\.awardId)
        }
        let first = try await harness.issue(composed, "stamp").award.awardId
        #expect(try awards(composed) == [first])
        #expect(try awards(decomposed) == [], "not the other customer's cached reply")
        let second = try await harness.issue(decomposed, "stamp").award.awardId
        #expect(try awards(decomposed) == [second])
        #expect(try awards(composed) == [first])
        // Both changed at once (usually in one batch): each one's reply goes.
        async let third = service.issue(IssueRequest(customerId: composed, badgeId: "stamp", requestId: "r3"))
        async let fourth = service.issue(IssueRequest(customerId: decomposed, badgeId: "stamp", requestId: "r4"))
        let (a, b) = try await (third, fourth)
        #expect(try awards(composed) == [first, a.award.awardId])
        #expect(try awards(decomposed) == [second, b.award.awardId])
    }

    @Test("with the cache off, nothing is kept")
    func cacheOff() async throws {
        let harness = try ServiceHarness(listCacheBytes: 0)
        defer { harness.close() }
        let service = harness.service
        for _ in 0..<3 { _ = try service.encodedTrophyCase(customerId: "c") }
        #expect(service.listCacheStatistics.entries == 0)
        #expect(service.listCacheStatistics.hits == 0)
    }

    // MARK: The cache's own rules

    @Test("a fill that overlaps a commit changing its customer is not kept; other customers' are")
    func overlappingCommit() {
        let cache = TrophyCaseCache(capacityBytes: 1 << 20)
        let ticket = cache.ticket()
        cache.committed(TrophyCaseChanges(customers: ["a"]))
        cache.install("a", [1], builtAtMs: 0, validUntilMs: .max, ticket: ticket)
        cache.install("b", [2], builtAtMs: 0, validUntilMs: .max, ticket: ticket)
        #expect(cache.lookup("a", nowMs: 0) == nil)
        #expect(cache.lookup("b", nowMs: 0) == [2])
        // A commit changing "b" drops it.
        cache.committed(TrophyCaseChanges(customers: ["b"]))
        #expect(cache.lookup("b", nowMs: 0) == nil)
        #expect(cache.statistics.refusedInstalls == 1)
    }

    @Test("a catalogue commit drops every reply and refuses fills that began before it")
    func catalogueCommit() {
        let cache = TrophyCaseCache(capacityBytes: 1 << 20)
        cache.install("a", [1], builtAtMs: 0, validUntilMs: .max, ticket: cache.ticket())
        let ticket = cache.ticket()
        cache.committed(TrophyCaseChanges(catalogue: true))
        #expect(cache.lookup("a", nowMs: 0) == nil)
        cache.install("b", [2], builtAtMs: 0, validUntilMs: .max, ticket: ticket)
        #expect(cache.lookup("b", nowMs: 0) == nil)
        cache.install("b", [2], builtAtMs: 0, validUntilMs: .max, ticket: cache.ticket())
        #expect(cache.lookup("b", nowMs: 0) == [2])
    }

    @Test("a fill older than the commits remembered is not kept, even for an untouched customer")
    func tooOld() {
        let cache = TrophyCaseCache(capacityBytes: 1 << 20)
        let ticket = cache.ticket()
        for index in 0..<TrophyCaseCache.remembered {
            cache.committed(TrophyCaseChanges(customers: ["other-\(index)"]))
        }
        cache.install("a", [1], builtAtMs: 0, validUntilMs: .max, ticket: ticket)
        #expect(cache.lookup("a", nowMs: 0) == [1], "all commits since the ticket are still remembered")
        let older = cache.ticket()
        for index in 0...TrophyCaseCache.remembered {
            cache.committed(TrophyCaseChanges(customers: ["other-\(index)"]))
        }
        cache.install("b", [2], builtAtMs: 0, validUntilMs: .max, ticket: older)
        #expect(cache.lookup("b", nowMs: 0) == nil)
    }

    @Test("when full, the oldest installs go first; a reply installed again counts as new")
    func oldestFirst() {
        // Each entry costs 500 + 2 + 96 = 598 bytes: six fit in 4,096.
        let cache = TrophyCaseCache(capacityBytes: 4_096)
        func put(_ id: String) {
            cache.install(
                id, [UInt8](repeating: 1, count: 500), builtAtMs: 0, validUntilMs: .max, ticket: cache.ticket())
        }
        for index in 0..<6 { put("c\(index)") }
        #expect(cache.statistics.entries == 6)
        put("c0")  // replaced: now the newest
        put("c6")  // full: the oldest go (c1, then c2) until an eighth is free
        #expect(cache.lookup("c1", nowMs: 0) == nil)
        #expect(cache.lookup("c2", nowMs: 0) == nil)
        for id in ["c0", "c3", "c4", "c5", "c6"] { #expect(cache.lookup(id, nowMs: 0) != nil, "\(id)") }
        // Entries dropped by writes leave the order too: later evictions still take the oldest left.
        cache.committed(TrophyCaseChanges(customers: ["c3", "c4"]))
        for id in ["c7", "c8", "c9"] { put(id) }
        #expect(cache.statistics.entries == 6, "room was left by the write: nothing evicted")
        put("c10")  // full again: c5 (the oldest left), then c0 (installed again after c5)
        #expect(cache.lookup("c5", nowMs: 0) == nil)
        #expect(cache.lookup("c0", nowMs: 0) == nil)
        for id in ["c6", "c7", "c8", "c9", "c10"] { #expect(cache.lookup(id, nowMs: 0) != nil, "\(id)") }
        #expect(cache.statistics.bytes <= 4_096)
    }

    @Test("replies dropped by writes do not pile up in the eviction order")
    func orderStaysSmall() {
        let cache = TrophyCaseCache(capacityBytes: 1 << 20)
        for index in 0..<10_000 {
            cache.install("c\(index)", [1, 2, 3], builtAtMs: 0, validUntilMs: .max, ticket: cache.ticket())
            if index % 10 != 0 { cache.committed(TrophyCaseChanges(customers: ["c\(index)"])) }
        }
        #expect(cache.statistics.entries == 1_000)
        #expect(cache.queuedInstalls <= 2 * 1_000 + 64 + 1)
    }

    @Test("a reply is answered until its validity ends, and the memory bound holds")
    func validityAndBound() {
        let cache = TrophyCaseCache(capacityBytes: 4_096)
        cache.install("a", [1, 2, 3], builtAtMs: 500, validUntilMs: 1_000, ticket: cache.ticket())
        #expect(cache.lookup("a", nowMs: 999) == [1, 2, 3])
        #expect(cache.lookup("a", nowMs: 499) == nil, "a reader whose clock reads before the build")
        #expect(cache.lookup("a", nowMs: 1_000) == nil)
        for index in 0..<100 {
            cache.install(
                "c\(index)", [UInt8](repeating: 7, count: 500), builtAtMs: 0, validUntilMs: .max, ticket: cache.ticket()
            )
            #expect(cache.statistics.bytes <= 4_096)
        }
        // Full, it keeps most of what it holds rather than starting over.
        #expect(cache.statistics.entries >= 5)
        #expect(cache.statistics.bytes > 4_096 / 2)
        // Larger than the whole budget: not kept.
        cache.install(
            "huge", [UInt8](repeating: 1, count: 5_000), builtAtMs: 0, validUntilMs: .max, ticket: cache.ticket())
        #expect(cache.lookup("huge", nowMs: 0) == nil)
    }
}

/// Set once to end `Thread.detachedLoop`s.
final class StopFlag: Sendable {
    private let value = Atomic(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}

extension Thread {
    /// Runs `body` over and over on a new thread until `stop` is set; `wait()` joins it.
    static func detachedLoop(until stop: StopFlag, _ body: @escaping @Sendable () -> Void) -> LoopThread {
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            while !stop.isSet { body() }
            done.signal()
        }
        thread.start()
        return LoopThread(done: done)
    }
}

struct LoopThread {
    let done: DispatchSemaphore
    func wait() { done.wait() }
}
