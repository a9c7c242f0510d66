import BadgeCatalogue
import BadgeModel
import BadgeTestSupport
import Foundation
import Testing

@Suite("Catalogue YAML")
struct CatalogueFileTests {
    @Test("the demo catalogue parses into the five classic badges in rank order")
    func demoCatalogue() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../tools/demo/catalogue.yaml"
        ).standardizedFileURL.path
        let badges = try CatalogueFile.load(path: path)
        #expect(badges.map(\.id) == ["new-member", "referral-champion", "gold-elite", "night-owl", "milestone-maker"])
        #expect(badges.map(\.rank) == [10, 20, 30, 40, 50])
        #expect(badges.allSatisfy { !$0.name.isEmpty && !$0.description.isEmpty })
        let gold = try #require(badges.first { $0.id == "gold-elite" })
        #expect(gold.expiresAfterMs == 365 * 86_400_000)
        #expect(gold.labels == ["tier": "gold"])
        let milestone = try #require(badges.last)
        #expect(milestone.repeatable)
        #expect(milestone.maxPerCustomer == 5)
        // Every demo badge can be earned from activity.
        #expect(badges.allSatisfy { $0.criteria != nil })
        let owl = try #require(badges.first { $0.id == "night-owl" }?.criteria)
        #expect(owl.timeZone == "America/New_York")
        #expect(owl.criteria.first?.timeOfDay == TimeOfDayWindow(startMinute: 1320, endMinute: 300))
        #expect(owl.criteria.first?.target == 3)
        #expect(milestone.criteria?.criteria.first?.aggregate == .sum)
        #expect(gold.criteria?.criteria.first?.stateValue == "GOLD")
    }

    @Test("criteria blocks map every field, and a bad time window names its place")
    func criteriaBlock() throws {
        let badges = try CatalogueFile.parse(
            """
            badges:
              - id: weekend-regular
                name: Weekend Regular
                criteria:
                  combine: any
                  time_zone: Europe/Paris
                  prerequisites: [new-member]
                  rules:
                    - key: visits
                      event_type: visit
                      aggregate: streak
                      streak_unit: weeks
                      target: 4
                      days_of_week: [6, 7]
                    - key: spend
                      event_type: purchase
                      aggregate: sum
                      attribute: total
                      target: 250
                      window: rolling_days
                      window_days: 30
                      conditions:
                        - { attribute: channel, op: in, values: [store, app] }
                        - { attribute: total, op: gte, number: 10 }
            """)
        let criteria = try #require(badges.first?.criteria)
        #expect(criteria.combine == .any)
        #expect(criteria.prerequisites == ["new-member"])
        #expect(criteria.criteria.map(\.key) == ["visits", "spend"])
        #expect(criteria.criteria[0].streakUnit == .weeks)
        #expect(criteria.criteria[0].daysOfWeek == [6, 7])
        #expect(criteria.criteria[1].window == .rollingDays)
        #expect(criteria.criteria[1].windowDays == 30)
        #expect(
            criteria.criteria[1].conditions == [
                Condition(attribute: "channel", op: .in, values: ["store", "app"]),
                Condition(attribute: "total", op: .gte, number: 10),
            ])
        do {
            _ = try CatalogueFile.parse(
                "badges:\n  - id: a\n    name: A\n    criteria:\n      rules:\n        - { key: k, event_type: x, time_of_day: \"25:00-01:00\" }\n",
                source: "c.yaml")
            Issue.record("a bad time window was accepted")
        } catch {
            #expect(error.message.contains("criteria.rules[0].time_of_day"))
        }
    }

    @Test("every field maps, with times and durations in their written forms")
    func allFields() throws {
        let badges = try CatalogueFile.parse(
            """
            badges:
              - id: spring
                name: Spring Shopper
                description: Shopped in spring
                icon: flower.png
                rank: -3
                group: seasonal
                status: inactive
                valid_from: 2026-03-01T00:00:00Z
                valid_until: "1780000000000"
                repeatable: true
                max_per_customer: 3
                global_cap: 1000
                expires_at: 2026-12-31T23:59:59.500Z
                labels: { season: spring }
            """)
        let badge = try #require(badges.first)
        #expect(badge.rank == -3)
        #expect(badge.status == .inactive)
        #expect(badge.validFromMs == 1_772_323_200_000)
        #expect(badge.validUntilMs == 1_780_000_000_000)
        #expect(badge.expiresAtMs == 1_798_761_599_500)
        #expect(badge.globalCap == 1000)
        #expect(badge.icon == "flower.png")
    }

    @Test("errors name the file, the badge and the field")
    func errors() {
        #expect(throws: BadgeError.self) { try CatalogueFile.parse("badges: [", source: "x.yaml") }
        do {
            _ = try CatalogueFile.parse("badges:\n  - id: a\n    name: A\n    rank: high\n", source: "cat.yaml")
            Issue.record("a non-integer rank was accepted")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("cat.yaml"))
            #expect(error.message.contains("badges[0].rank"))
        }
        do {
            _ = try CatalogueFile.parse("badges:\n  - id: a\n", source: "cat.yaml")
            Issue.record("a badge without a name was accepted")
        } catch {
            #expect(error.message.contains("name"))
        }
        do {
            _ = try CatalogueFile.parse("badges:\n  - id: a\n    name: A\n    expires_after: soon\n", source: "c.yaml")
            Issue.record("a bad duration was accepted")
        } catch {
            #expect(error.reason == "invalid_duration")
            #expect(error.message.contains("badges[0] (a).expires_after"))
        }
        do {
            _ = try CatalogueFile.parse("badges:\n  - id: a\n    name: A\n  - id: a\n    name: B\n", source: "c.yaml")
            Issue.record("a duplicate id was accepted")
        } catch {
            #expect(error.message.contains("appears twice"))
        }
    }

    @Test(
        "a field nothing reads is refused with its line and place, not dropped",
        arguments: [
            (
                "badges:\n  - id: a\n    name: A\n    reapeatable: true\n",
                "line 4: badges[0] (a): unknown field \"reapeatable\""
            ),
            ("badge:\n  - id: a\n    name: A\n", "line 1: unknown field \"badge\""),
            (
                "badges:\n  - id: a\n    name: A\n    criteria:\n      timezone: Europe/Paris\n      rules: []\n",
                "line 5: badges[0] (a).criteria: unknown field \"timezone\""
            ),
            (
                "badges:\n  - id: a\n    name: A\n    criteria:\n      rules:\n        - { key: k, event_type: x, traget: 3 }\n",
                "line 6: badges[0] (a).criteria.rules[0]: unknown field \"traget\""
            ),
            (
                "badges:\n  - id: a\n    name: A\n    criteria:\n      rules:\n        - key: k\n          event_type: x\n"
                    + "          conditions:\n            - { attribute: channel, op: eq, value: [app] }\n",
                "line 9: badges[0] (a).criteria.rules[0].conditions[0]: unknown field \"value\""
            ),
        ])
    func unknownFields(text: String, expected: String) {
        do {
            _ = try CatalogueFile.parse(text, source: "c.yaml")
            Issue.record("an unknown field was accepted: \(expected)")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.message.hasPrefix("c.yaml: "), "\(error.message)")
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }

    @Test("a badge the server would refuse fails the whole file, naming its place")
    func definitionRules() {
        do {
            let badges = try CatalogueFile.parse(CatalogueFixtures.badTimeZoneInSecondBadge, source: "c.yaml")
            Issue.record("a bad time zone was accepted: \(badges.map(\.id))")
        } catch {
            #expect(error.reason == "invalid_time_zone")
            #expect(error.message.contains("c.yaml: badges[1] (owl)"), "\(error.message)")
            #expect(error.message.contains("America/New_Yrok"), "\(error.message)")
        }
        #expect(throws: BadgeError.self) {
            try CatalogueFile.parse("badges:\n  - id: a\n    name: A\n    max_per_customer: 3\n")
        }
    }

    @Test(
        "durations",
        arguments: [
            ("90d", Int64(90 * 86_400_000)), ("12h", 43_200_000), ("30m", 1_800_000), ("45s", 45_000), ("500ms", 500),
            ("2w", 1_209_600_000), ("1500", 1500), ("", 0),
        ])
    func durations(text: String, expected: Int64) throws {
        #expect(try TimeText.duration(text, field: "f") == expected)
    }

    @Test("bad durations and times are refused", arguments: ["-5d", "5y", "d", "9999999999999999999d"])
    func badDurations(text: String) {
        #expect(throws: BadgeError.self) { try TimeText.duration(text, field: "f") }
    }

    @Test("bad instants are refused")
    func badInstants() {
        #expect(throws: BadgeError.self) { try TimeText.instant("tomorrow", field: "f") }
        #expect(throws: BadgeError.self) { try TimeText.instant("2026-13-01T00:00:00Z", field: "f") }
    }
}
