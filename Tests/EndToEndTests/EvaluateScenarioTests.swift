import BadgeClient
import BadgeModel
import BadgeTestSupport
import Foundation
import Testing

/// The product's badges earned from activity, end to end over a real socket.
@Suite("End to end: Evaluate scenarios")
struct EvaluateScenarioTests {
    static let day: Int64 = 86_400_000
    /// 2026-06-01T12:00:00Z
    static let base: Int64 = 1_780_315_200_000

    static func ms(_ iso: String) -> Int64 {
        let formatter = ISO8601DateFormatter()
        return Int64(formatter.date(from: iso)!.timeIntervalSince1970 * 1000)
    }

    func event(
        _ id: String, _ customer: String, _ type: String, at: Int64 = base, amount: Double = 0,
        attributes: [String: String] = [:], zone: String = "", dryRun: Bool = false
    ) -> ActivityEvent {
        ActivityEvent(
            eventId: id, customerId: customer, type: type, occurredAtMs: at, timeZone: zone, amount: amount,
            attributes: attributes, dryRun: dryRun)
    }

    func earned(_ result: EvaluateResult) -> [String] { result.awarded.map(\.badgeId) }

    @Test("New Member on registration; Gold Elite on tier_changed to GOLD only", arguments: Transport.allCases)
    func registrationAndTier(transport: Transport) async throws {
        try await TestServer.with { server in
            let client = try await server.client(transport)
            _ = try await client.putBadge(
                BadgeDefinition(
                    id: "new-member", name: "New Member", rank: 10,
                    criteria: Criteria(criteria: [Criterion(key: "registered", eventType: "registration")])))
            _ = try await client.putBadge(
                BadgeDefinition(
                    id: "gold-elite", name: "Gold Elite", rank: 30,
                    criteria: Criteria(criteria: [
                        Criterion(
                            key: "tier", eventType: "tier_changed", aggregate: .state, attribute: "tier",
                            stateValue: "GOLD")
                    ])))

            var result = try await client.evaluate(event("e1", "c1", "registration"))
            #expect(earned(result) == ["new-member"])
            #expect(result.awarded[0].source == .rule)
            #expect(result.awarded[0].evidence.contains("registration"))

            result = try await client.evaluate(event("e2", "c1", "tier_changed", attributes: ["tier": "SILVER"]))
            #expect(earned(result).isEmpty)
            #expect(result.progress.first?.progress.text == "tier is SILVER (needs GOLD)")
            result = try await client.evaluate(event("e3", "c1", "tier_changed", attributes: ["tier": "GOLD"]))
            #expect(earned(result) == ["gold-elite"])
            #expect(result.awarded[0].evidence == "tier = GOLD")

            let trophyCase = try await client.list(customerId: "c1")
            #expect(trophyCase.entries.filter { $0.state == .earned }.map(\.badge.id) == ["new-member", "gold-elite"])
            await client.close()
        }
    }

    @Test("Referral Champion on the third referral, not the second, and not twice when the third is retried")
    func referralChampion() async throws {
        try await TestServer.with { server in
            let client = try await server.client(.unix)
            _ = try await client.putBadge(
                BadgeDefinition(
                    id: "referral-champion", name: "Referral Champion",
                    criteria: Criteria(criteria: [
                        Criterion(key: "referrals", eventType: "referral", target: 3, unit: "referrals")
                    ])))
            #expect(earned(try await client.evaluate(event("r-11", "c1", "referral"))).isEmpty)
            let second = try await client.evaluate(event("r-12", "c1", "referral"))
            #expect(earned(second).isEmpty)
            #expect(second.progress.first?.progress.text == "2 / 3 referrals")
            var trophyCase = try await client.list(customerId: "c1")
            #expect(trophyCase.entries.first?.state == .locked)
            #expect(trophyCase.entries.first?.progress.first?.text == "2 / 3 referrals")
            #expect(trophyCase.entries.first?.criteriaText == "3 referrals events")

            let third = try await client.evaluate(event("r-19", "c1", "referral"))
            #expect(earned(third) == ["referral-champion"])
            #expect(third.awarded[0].evidence == "3 referrals: r-11, r-12, r-19")
            let retried = try await client.evaluate(event("r-19", "c1", "referral"))
            #expect(retried.replayed)
            #expect(retried.awarded == third.awarded)
            #expect(try await client.health().awards == 1)
            trophyCase = try await client.list(customerId: "c1")
            #expect(trophyCase.entries.first?.awards.count == 1)

            // The same event id for another customer is a mistake, not a replay.
            let error = await refusal { () async throws(BadgeError) in
                try await client.evaluate(event("r-19", "c2", "referral"))
            }
            #expect(error?.code == .failedPrecondition)
            #expect(error?.reason == "event_id_reused")
            await client.close()
        }
    }

    @Test("Milestone Maker on the first purchase that crosses the spend total")
    func milestone() async throws {
        try await TestServer.with { server in
            let client = try await server.client(.unix)
            _ = try await client.putBadge(
                BadgeDefinition(
                    id: "milestone-maker", name: "Milestone Maker",
                    criteria: Criteria(criteria: [
                        Criterion(key: "spend", eventType: "purchase", aggregate: .sum, target: 1000)
                    ])))
            #expect(earned(try await client.evaluate(event("p1", "c1", "purchase", amount: 400))).isEmpty)
            #expect(earned(try await client.evaluate(event("p2", "c1", "purchase", amount: 599.99))).isEmpty)
            // A refund-like event of another type does not count.
            #expect(earned(try await client.evaluate(event("x1", "c1", "refund", amount: 5000))).isEmpty)
            let crossing = try await client.evaluate(event("p3", "c1", "purchase", amount: 240.01))
            #expect(earned(crossing) == ["milestone-maker"])
            #expect(crossing.awarded[0].evidence == "amount 1,240.00 >= 1,000.00")
            #expect(earned(try await client.evaluate(event("p4", "c1", "purchase", amount: 5000))).isEmpty)
            await client.close()
        }
    }

    @Test("any finite amount is counted and worded, however large, and the server stays up")
    func hugeAmount() async throws {
        try await TestServer.with { server in
            let client = try await server.client(.unix)
            _ = try await client.putBadge(
                BadgeDefinition(
                    id: "whale", name: "Whale",
                    criteria: Criteria(criteria: [
                        Criterion(key: "spend", eventType: "purchase", aggregate: .sum, target: 1000)
                    ])))
            // Formatting the sum converted it to Int64 cents, which trapped beyond ~9.2e16 cents.
            let result = try await client.evaluate(event("w1", "c1", "purchase", amount: 1e300))
            #expect(earned(result) == ["whale"])
            #expect(result.awarded.first?.evidence == "amount 1e+300 >= 1,000.00")
            #expect(result.progress.first?.progress.text == "amount 1e+300 / 1,000.00")
            let trophyCase = try await client.list(customerId: "c1")
            #expect(trophyCase.entries.first(where: { $0.badge.id == "whale" })?.state == .earned)
            await client.close()
        }
    }

    @Test("Night Owl counts purchases 22:00-05:00 in the customer's zone, across midnight and DST")
    func nightOwl() async throws {
        try await TestServer.with { server in
            let client = try await server.client(.unix)
            _ = try await client.putBadge(
                BadgeDefinition(
                    id: "night-owl", name: "Night Owl",
                    criteria: Criteria(
                        criteria: [
                            Criterion(
                                key: "night", eventType: "purchase", target: 4,
                                timeOfDay: TimeOfDayWindow(startMinute: 22 * 60, endMinute: 5 * 60))
                        ], timeZone: "America/New_York")))
            // 21:59 EDT (01:59Z) does not count; 23:30 EDT does.
            // An event that does not count reports no progress change.
            var result = try await client.evaluate(event("n0", "c1", "purchase", at: Self.ms("2026-06-02T01:59:00Z")))
            #expect(result.progress.isEmpty)
            result = try await client.evaluate(event("n1", "c1", "purchase", at: Self.ms("2026-06-02T03:30:00Z")))
            #expect(result.progress.first?.progress.current == 1)
            // 00:30 local, past midnight, counts; 05:00 local does not.
            result = try await client.evaluate(event("n2", "c1", "purchase", at: Self.ms("2026-06-02T04:30:00Z")))
            #expect(result.progress.first?.progress.current == 2)
            result = try await client.evaluate(event("n3", "c1", "purchase", at: Self.ms("2026-06-02T09:00:00Z")))
            #expect(result.progress.isEmpty)
            // The DST change (2026-11-01, 02:00 EDT -> 01:00 EST): 22:30 EST is 03:30Z, which in
            // summer would have been 23:30; 21:59 EST is 02:59Z, which in summer was 22:59 (counted).
            result = try await client.evaluate(event("n4", "c1", "purchase", at: Self.ms("2026-11-02T02:59:00Z")))
            #expect(result.progress.isEmpty)
            #expect(try await client.list(customerId: "c1").entries.first?.progress.first?.current == 2)
            result = try await client.evaluate(event("n5", "c1", "purchase", at: Self.ms("2026-11-02T03:30:00Z")))
            #expect(result.progress.first?.progress.current == 3)
            #expect(earned(result).isEmpty)
            // The customer's own zone (carried by the event) overrides the badge's: 23:00 in Tokyo.
            result = try await client.evaluate(
                event("n6", "c1", "purchase", at: Self.ms("2026-11-02T14:00:00Z"), zone: "Asia/Tokyo"))
            #expect(earned(result) == ["night-owl"])
            await client.close()
        }
    }

    @Test("a 7-day streak is broken by a missing day and completed by seven in a row")
    func streak() async throws {
        try await TestServer.with { server in
            let client = try await server.client(.unix)
            _ = try await client.putBadge(
                BadgeDefinition(
                    id: "week-warrior", name: "Week Warrior",
                    criteria: Criteria(criteria: [
                        Criterion(key: "daily", eventType: "visit", aggregate: .streak, target: 7)
                    ])))
            var id = 0
            func visit(_ day: Int64) async throws -> EvaluateResult {
                id += 1
                return try await client.evaluate(event("v\(id)", "c1", "visit", at: Self.base + day * Self.day))
            }
            for day: Int64 in 0..<3 { #expect(earned(try await visit(day)).isEmpty) }
            // Day 3 is missed: days 4-9 make a run of six.
            for day: Int64 in 4..<10 { #expect(earned(try await visit(day)).isEmpty) }
            var trophyCase = try await client.list(customerId: "c1")
            #expect(trophyCase.entries.first?.state == .locked)
            let seventh = try await visit(10)
            #expect(earned(seventh) == ["week-warrior"])
            #expect(seventh.awarded[0].evidence.hasPrefix("7 days in a row"))
            trophyCase = try await client.list(customerId: "c1")
            #expect(trophyCase.entries.first?.state == .earned)
            await client.close()
        }
    }

    @Test("a repeatable badge stops at its per-customer maximum; a global cap admits the first two customers")
    func limits() async throws {
        try await TestServer.with { server in
            let client = try await server.client(.unix)
            _ = try await client.putBadge(
                BadgeDefinition(
                    id: "big-spender", name: "Big Spender", repeatable: true, maxPerCustomer: 2,
                    criteria: Criteria(criteria: [
                        Criterion(
                            key: "big", eventType: "purchase",
                            conditions: [Condition(attribute: "amount", op: .gte, number: 100)])
                    ])))
            _ = try await client.putBadge(
                BadgeDefinition(
                    id: "pioneer", name: "Pioneer", globalCap: 2,
                    criteria: Criteria(criteria: [Criterion(key: "joined", eventType: "registration")])))

            #expect(earned(try await client.evaluate(event("b1", "c1", "purchase", amount: 150))) == ["big-spender"])
            #expect(earned(try await client.evaluate(event("b2", "c1", "purchase", amount: 20))).isEmpty)
            #expect(earned(try await client.evaluate(event("b3", "c1", "purchase", amount: 300))) == ["big-spender"])
            #expect(earned(try await client.evaluate(event("b4", "c1", "purchase", amount: 300))).isEmpty)
            let trophyCase = try await client.list(customerId: "c1")
            #expect(trophyCase.entries.first { $0.badge.id == "big-spender" }?.awards.count == 2)

            for (index, customer) in ["p1", "p2", "p3", "p4"].enumerated() {
                let result = try await client.evaluate(event("reg-\(customer)", customer, "registration"))
                #expect(earned(result) == (index < 2 ? ["pioneer"] : []))
            }
            await client.close()
        }
    }

    @Test("prerequisites: a badge needs another held first; a dry run changes nothing")
    func prerequisitesAndDryRun() async throws {
        try await TestServer.with { server in
            let client = try await server.client(.unix)
            _ = try await client.putBadge(
                BadgeDefinition(
                    id: "new-member", name: "New Member", rank: 1,
                    criteria: Criteria(criteria: [Criterion(key: "r", eventType: "registration")])))
            _ = try await client.putBadge(
                BadgeDefinition(
                    id: "first-purchase", name: "First Purchase", rank: 2,
                    criteria: Criteria(
                        criteria: [Criterion(key: "p", eventType: "purchase")], prerequisites: ["new-member"])))
            let dry = try await client.evaluate(event("d1", "c1", "registration", dryRun: true))
            #expect(earned(dry) == ["new-member"])
            #expect(dry.awarded[0].awardId == 0)
            #expect(try await client.health().awards == 0)
            #expect(try await client.list(customerId: "c1").entries.allSatisfy { $0.state == .locked })

            #expect(earned(try await client.evaluate(event("p1", "c1", "purchase"))).isEmpty)
            #expect(earned(try await client.evaluate(event("r1", "c1", "registration"))) == ["new-member"])
            let second = try await client.evaluate(event("p2", "c1", "purchase"))
            #expect(earned(second) == ["first-purchase"])
            #expect(second.awarded[0].evidence.contains("holding new-member"))
            await client.close()
        }
    }

    @Test("changing a criterion restarts only that criterion's progress; unchanged ones keep theirs")
    func criteriaChange() async throws {
        try await TestServer.with { server in
            let client = try await server.client(.unix)
            let visits = Criterion(key: "visits", eventType: "visit", target: 5)
            let spend = Criterion(key: "spend", eventType: "purchase", aggregate: .sum, target: 500)
            var badge = BadgeDefinition(id: "regular", name: "Regular", criteria: Criteria(criteria: [visits, spend]))
            _ = try await client.putBadge(badge)
            for index in 0..<3 { _ = try await client.evaluate(event("v\(index)", "c1", "visit")) }
            _ = try await client.evaluate(event("s1", "c1", "purchase", amount: 200))

            var changedSpend = spend
            changedSpend.conditions = [Condition(attribute: "channel", op: .eq, values: ["store"])]
            badge.criteria = Criteria(criteria: [visits, changedSpend])
            _ = try await client.putBadge(badge, replace: true)
            let progress = try await client.list(customerId: "c1").entries.first?.progress ?? []
            #expect(progress.map(\.current) == [3, 0])
            await client.close()
        }
    }

    @Test("bad events and bad criteria are refused with the field named")
    func refusals() async throws {
        try await TestServer.with { server in
            let client = try await server.client(.unix)
            var error = await refusal { () async throws(BadgeError) in
                try await client.evaluate(event("", "c1", "visit"))
            }
            #expect(error?.message.contains("event_id") == true)
            error = await refusal { () async throws(BadgeError) in
                try await client.evaluate(event("e", "c1", "visit", zone: "Mars/Olympus"))
            }
            #expect(error?.reason == "invalid_time_zone")
            // A time near Int64.max (which trapped adding the zone's offset) is refused by name,
            // and the last accepted millisecond still evaluates.
            _ = try await client.putBadge(
                BadgeDefinition(
                    id: "paris-visits", name: "Paris visits",
                    criteria: Criteria(
                        criteria: [Criterion(key: "visits", eventType: "visit", target: 2)], timeZone: "Europe/Paris")))
            error = await refusal { () async throws(BadgeError) in
                try await client.evaluate(event("late", "c1", "visit", at: .max))
            }
            #expect(error?.reason == "out_of_range")
            #expect(error?.message.contains("occurred_at_ms") == true)
            #expect(error?.message.contains("9999-12-31T23:59:59.999Z") == true)
            let last = try await client.evaluate(event("last", "c1", "visit", at: Timestamps.latestMs))
            #expect(last.progress.first?.progress.current == 1)
            error = await refusal { () async throws(BadgeError) in
                try await client.putBadge(
                    BadgeDefinition(
                        id: "bad", name: "Bad",
                        criteria: Criteria(criteria: [Criterion(key: "k", eventType: "visit", target: 0)])))
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.contains("criteria[0].target") == true)
            await client.close()
        }
    }

    @Test("event types, attribute names and values match byte for byte, not as Unicode text")
    func exactText() async throws {
        // A precomposed "\u{E9}" and "e" + U+0301 are one Swift `String`, and were one event type,
        // one condition value and one DISTINCT value.
        let (nfc, nfd) = ("caf\u{E9}", "cafe\u{301}")
        #expect(nfc == nfd && !nfc.isSameId(nfd))
        try await TestServer.with { server in
            let client = try await server.client(.unix)
            _ = try await client.putBadge(
                BadgeDefinition(
                    id: "exact", name: "Exact",
                    criteria: Criteria(
                        combine: .any,
                        criteria: [
                            Criterion(key: "type", eventType: nfc, target: 9),
                            Criterion(
                                key: "eq", eventType: "visit",
                                conditions: [Condition(attribute: "place", op: .eq, values: [nfc])], target: 9),
                            Criterion(
                                key: "in", eventType: "visit",
                                conditions: [Condition(attribute: "place", op: .in, values: [nfc])], target: 9),
                            Criterion(
                                key: "ne", eventType: "visit",
                                conditions: [Condition(attribute: "place", op: .ne, values: [nfc])], target: 9),
                            Criterion(
                                key: "places", eventType: "visit", aggregate: .distinct, attribute: "place", target: 9),
                            Criterion(
                                key: "named", eventType: "visit", aggregate: .distinct, attribute: nfc, target: 9),
                        ])))
            func progress(_ result: EvaluateResult) -> [String: Double] {
                Dictionary(uniqueKeysWithValues: result.progress.map { ($0.progress.key, $0.progress.current) })
            }
            // The same text in other bytes is another event type: nothing listens to it.
            #expect(try await client.evaluate(event("t1", "c1", nfd)).progress.isEmpty)
            #expect(progress(try await client.evaluate(event("t2", "c1", nfc))) == ["type": 1])
            // Conditions compare values byte for byte.
            var result = try await client.evaluate(event("v1", "c1", "visit", attributes: ["place": nfd]))
            // (Every visit counts toward "named", which reads an attribute these events lack: 0.)
            #expect(progress(result) == ["ne": 1, "places": 1, "named": 0])
            result = try await client.evaluate(event("v2", "c1", "visit", attributes: ["place": nfc]))
            #expect(progress(result) == ["eq": 1, "in": 1, "places": 2, "named": 0])
            // An attribute is found by its exact name only.
            result = try await client.evaluate(event("v3", "c1", "visit", attributes: [nfd: "x"]))
            #expect(progress(result)["named"] == 0)
            result = try await client.evaluate(event("v4", "c1", "visit", attributes: [nfc: "x"]))
            #expect(progress(result)["named"] == 1)
            await client.close()
        }
    }

    @Test("events sent concurrently (committed in batches) earn the same badges as the same events one by one")
    func concurrentEqualsSequential() async throws {
        let catalogue = [
            BadgeDefinition(
                id: "regular", name: "Regular",
                criteria: Criteria(criteria: [Criterion(key: "n", eventType: "purchase", target: 5)])),
            BadgeDefinition(
                id: "spender", name: "Spender",
                criteria: Criteria(criteria: [Criterion(key: "s", eventType: "purchase", aggregate: .sum, target: 900)])
            ),
            BadgeDefinition(
                id: "streaker", name: "Streaker",
                criteria: Criteria(criteria: [Criterion(key: "v", eventType: "visit", aggregate: .streak, target: 3)])),
        ]
        var generator = SplitMix64(state: 42)
        var events: [ActivityEvent] = []
        for customer in 0..<20 {
            for index in 0..<12 {
                events.append(
                    event(
                        "c\(customer)-\(index)", "c\(customer)", Bool.random(using: &generator) ? "purchase" : "visit",
                        at: Self.base + Int64.random(in: 0..<6, using: &generator) * Self.day,
                        amount: Double(Int.random(in: 10...200, using: &generator))))
            }
        }
        func earnedSet(_ client: BadgeClient) async throws -> Set<String> {
            var result: Set<String> = []
            for customer in 0..<20 {
                for entry in try await client.list(customerId: "c\(customer)").entries where entry.state == .earned {
                    result.insert("c\(customer)/\(entry.badge.id)")
                }
            }
            return result
        }
        let sequential = try await TestServer.with { server in
            let client = try await server.client(.unix)
            for badge in catalogue { _ = try await client.putBadge(badge) }
            for event in events { _ = try await client.evaluate(event) }
            let earned = try await earnedSet(client)
            await client.close()
            return earned
        }
        let concurrent = try await TestServer.with { server in
            let client = try await server.client(.unix)
            for badge in catalogue { _ = try await client.putBadge(badge) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for event in events { group.addTask { _ = try await client.evaluate(event) } }
                try await group.waitForAll()
            }
            #expect(server.service.writerStatistics.commits < server.service.writerStatistics.writes)
            let earned = try await earnedSet(client)
            await client.close()
            return earned
        }
        #expect(!sequential.isEmpty)
        #expect(concurrent == sequential)
    }
}

@Suite("End to end: Evaluate edge cases")
struct EvaluateEdgeTests {
    @Test("a repeatable state badge is awarded once per change, not on every later event")
    func repeatableStateBadge() async throws {
        try await TestServer.with { server in
            let client = try await server.client(.unix)
            _ = try await client.putBadge(
                BadgeDefinition(
                    id: "gold-again", name: "Gold Again", repeatable: true,
                    criteria: Criteria(criteria: [
                        Criterion(
                            key: "tier", eventType: "tier_changed", aggregate: .state, attribute: "tier",
                            stateValue: "GOLD")
                    ])))
            func tier(_ id: String, _ value: String, _ at: Int64) async throws -> [String] {
                try await client.evaluate(
                    ActivityEvent(
                        eventId: id, customerId: "c1", type: "tier_changed", occurredAtMs: at,
                        attributes: ["tier": value])
                ).awarded.map(\.badgeId)
            }
            #expect(try await tier("t1", "GOLD", 1000) == ["gold-again"])
            #expect(try await tier("t2", "SILVER", 2000) == [])
            #expect(try await tier("t3", "GOLD", 3000) == ["gold-again"])
            #expect(try await tier("t4", "SILVER", 2500) == [])  // late and older: ignored
            #expect(try await client.list(customerId: "c1").entries.first?.awards.count == 2)
            await client.close()
        }
    }

    @Test("Issue refuses request ids reserved for rule awards; numeric attributes must be finite")
    func reservedAndNonFinite() async throws {
        try await TestServer.with { server in
            let client = try await server.client(.unix)
            _ = try await client.putBadge(
                BadgeDefinition(
                    id: "spender", name: "Spender",
                    criteria: Criteria(criteria: [
                        Criterion(key: "total", eventType: "purchase", aggregate: .sum, attribute: "total", target: 100)
                    ])))
            let error = await refusal { () async throws(BadgeError) in
                try await client.issue(IssueRequest(customerId: "c1", badgeId: "spender", requestId: "event:x:spender"))
            }
            #expect(error?.reason == "reserved_request_id")
            let result = try await client.evaluate(
                ActivityEvent(eventId: "e1", customerId: "c1", type: "purchase", attributes: ["total": "inf"]))
            #expect(result.awarded.isEmpty)
            await client.close()
        }
    }
}
