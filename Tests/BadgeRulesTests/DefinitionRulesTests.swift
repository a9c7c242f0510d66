import BadgeModel
import BadgeRules
import BadgeTestSupport
import Testing

private func valid() -> BadgeDefinition {
    BadgeDefinition(
        id: "gold-elite", name: "Gold Elite", description: "Top tier", icon: "🥇", rank: 1, group: "tiers",
        validFromMs: 1_000, validUntilMs: 2_000, repeatable: true, maxPerCustomer: 3, globalCap: 100,
        expiresAfterMs: 500, labels: ["tier": "gold"])
}

/// Validates `badge`, which must be refused naming `field` in the message.
@discardableResult
private func expectRefusal(
    _ badge: BadgeDefinition, reason: String, naming field: String, sourceLocation: SourceLocation = #_sourceLocation
) -> BadgeError? {
    let error = expectBadgeError(.invalidArgument, reason: reason, sourceLocation: sourceLocation) {
        try DefinitionRules.validate(badge)
    }
    #expect(
        error?.message.contains(field) == true, "message \"\(error?.message ?? "")\" should name \(field)",
        sourceLocation: sourceLocation)
    return error
}

@Suite("DefinitionRules.validate")
struct DefinitionRulesTests {
    @Test func validDefinitionsPass() throws {
        try DefinitionRules.validate(valid())
        try DefinitionRules.validate(BadgeDefinition(id: "a", name: "A"))
        try DefinitionRules.validate(BadgeDefinition(id: "A.b_c:d-9", name: "x", expiresAtMs: 5))
        // Non-repeatable with a limit of one is consistent.
        try DefinitionRules.validate(BadgeDefinition(id: "a", name: "A", maxPerCustomer: 1))
        // Only one end of the window set.
        try DefinitionRules.validate(BadgeDefinition(id: "a", name: "A", validFromMs: 10))
        try DefinitionRules.validate(BadgeDefinition(id: "a", name: "A", validUntilMs: 10))
        try DefinitionRules.validate(BadgeDefinition(id: String(repeating: "x", count: 128), name: "A"))
    }

    @Test(arguments: ["gold elite", "gold/elite", "gold#1", "médaille", "a\u{0}b", "🏆"])
    func badIdCharactersAreRefused(id: String) {
        var badge = valid()
        badge.id = id
        expectRefusal(badge, reason: "invalid_id", naming: "badge.id")
    }

    @Test func emptyIdIsRefused() {
        var badge = valid()
        badge.id = ""
        expectRefusal(badge, reason: "missing_id", naming: "badge.id")
    }

    @Test func idOf129BytesIsRefused() {
        var badge = valid()
        badge.id = String(repeating: "x", count: 129)
        let error = expectRefusal(badge, reason: "id_too_long", naming: "badge.id")
        #expect(error?.message.contains("129") == true)
    }

    @Test func emptyNameIsRefused() {
        var badge = valid()
        badge.name = ""
        expectRefusal(badge, reason: "missing_field", naming: "badge.name")
    }

    @Test func overlongTextFieldsAreRefused() {
        let long = String(repeating: "a", count: Limits.maxTextBytes + 1)
        var badge = valid()
        badge.name = long
        expectRefusal(badge, reason: "too_long", naming: "badge.name")
        badge = valid()
        badge.description = long
        expectRefusal(badge, reason: "too_long", naming: "badge.description")
        badge = valid()
        badge.icon = long
        expectRefusal(badge, reason: "too_long", naming: "badge.icon")
        badge = valid()
        badge.group = long
        expectRefusal(badge, reason: "too_long", naming: "badge.group")
    }

    @Test func badLabelsAreRefused() {
        var badge = valid()
        badge.labels = Dictionary(uniqueKeysWithValues: (0...Limits.maxLabels).map { ("k\($0)", "v") })
        expectRefusal(badge, reason: "too_long", naming: "badge.labels")
        badge.labels = ["": "v"]
        expectRefusal(badge, reason: "invalid_argument", naming: "badge.labels")
        badge.labels = ["k": String(repeating: "v", count: Limits.maxTextBytes + 1)]
        expectRefusal(badge, reason: "too_long", naming: "badge.labels[k]")
    }

    @Test func reversedWindowIsRefused() {
        var badge = valid()
        badge.validFromMs = 2_000
        badge.validUntilMs = 1_000
        let error = expectRefusal(badge, reason: "invalid_window", naming: "valid_until_ms")
        #expect(error?.message.contains("valid_from_ms") == true)
    }

    @Test func emptyWindowIsRefused() {
        var badge = valid()
        badge.validFromMs = 1_500
        badge.validUntilMs = 1_500
        expectRefusal(badge, reason: "invalid_window", naming: "valid_until_ms")
    }

    @Test func bothExpiriesAreRefused() {
        var badge = valid()
        badge.expiresAfterMs = 1_000
        badge.expiresAtMs = 5_000
        let error = expectRefusal(badge, reason: "conflicting_expiry", naming: "expires_after_ms")
        #expect(error?.message.contains("expires_at_ms") == true)
    }

    @Test func nonRepeatableWithMaxPerCustomerTwoIsRefused() {
        var badge = valid()
        badge.repeatable = false
        badge.maxPerCustomer = 2
        let error = expectRefusal(badge, reason: "conflicting_limits", naming: "max_per_customer")
        #expect(error?.message.contains("gold-elite") == true)
    }

    @Test(arguments: ["valid_from_ms", "valid_until_ms", "expires_at_ms", "expires_after_ms"])
    func negativeTimesAreRefused(field: String) {
        var badge = BadgeDefinition(id: "neg", name: "Negative")
        switch field {
        case "valid_from_ms": badge.validFromMs = -1
        case "valid_until_ms": badge.validUntilMs = -1
        case "expires_at_ms": badge.expiresAtMs = -1
        default: badge.expiresAfterMs = -1
        }
        // The contract: "Throws INVALID_ARGUMENT naming the first offending field."
        expectRefusal(badge, reason: "out_of_range", naming: field)
    }

    @Test(arguments: ["valid_from_ms", "valid_until_ms", "expires_at_ms", "expires_after_ms"])
    func timesPastTheYear9999AreRefused(field: String) throws {
        var badge = BadgeDefinition(id: "far", name: "Far")
        func set(_ value: Int64) {
            switch field {
            case "valid_from_ms": badge.validFromMs = value
            case "valid_until_ms": badge.validUntilMs = value
            case "expires_at_ms": badge.expiresAtMs = value
            default: badge.expiresAfterMs = value
            }
        }
        set(Timestamps.latestMs)
        try DefinitionRules.validate(badge)
        for value in [Timestamps.latestMs + 1, .max] {
            set(value)
            let error = expectRefusal(badge, reason: "out_of_range", naming: field)
            #expect(error?.message.contains("9999-12-31T23:59:59.999Z") == true)
        }
    }
}

/// Every rule of PROTOCOL.md §7.5, one broken at a time on an otherwise valid badge.
@Suite("DefinitionRules.validate: criteria")
struct CriteriaRulesTests {
    static func badge(_ criteria: Criteria) -> BadgeDefinition {
        BadgeDefinition(id: "b", name: "B", criteria: criteria)
    }

    /// A badge breaking one rule, the refusal expected, and where the case is written (so that a
    /// failure points at its line, not the loop's).
    struct Broken {
        let badge: BadgeDefinition
        let reason: String
        let naming: String
        let location: SourceLocation
    }

    static func broken(
        _ badge: BadgeDefinition, _ reason: String, _ naming: String, at location: SourceLocation = #_sourceLocation
    ) -> Broken {
        Broken(badge: badge, reason: reason, naming: naming, location: location)
    }

    static func one(_ criterion: Criterion, prerequisites: [String] = [], timeZone: String = "") -> BadgeDefinition {
        badge(Criteria(criteria: [criterion], prerequisites: prerequisites, timeZone: timeZone))
    }

    @Test func validCriteriaPass() throws {
        try DefinitionRules.validate(
            Self.badge(
                Criteria(
                    combine: .any,
                    criteria: [
                        Criterion(key: "count", eventType: "purchase"),
                        Criterion(
                            key: "spend", eventType: "purchase",
                            conditions: [Condition(attribute: "store", op: .in, values: ["a"])],
                            aggregate: .sum, target: 1_000, window: .rollingDays, windowDays: 3_660),
                        Criterion(
                            key: "stores", eventType: "purchase", aggregate: .distinct, attribute: "store",
                            target: 1_024),
                        Criterion(key: "streak", eventType: "visit", aggregate: .streak, target: 7, streakUnit: .weeks),
                        Criterion(
                            key: "tier", eventType: "tier_changed", aggregate: .state, attribute: "tier",
                            stateValue: "GOLD"),
                        Criterion(
                            key: "night", eventType: "purchase",
                            timeOfDay: TimeOfDayWindow(startMinute: 1_320, endMinute: 300), daysOfWeek: [1, 7]),
                    ],
                    prerequisites: ["other"], timeZone: "America/New_York")))
    }

    @Test func eachBrokenRuleIsRefusedNamingWhere() {
        let at = "badge b criteria.criteria[0]"
        let cases: [Broken] = [
            Self.broken(Self.badge(Criteria(criteria: [])), "invalid_criteria", "at least one criterion"),
            Self.broken(
                Self.one(Criterion(key: "k", eventType: "e"), timeZone: "Mars/Olympus"), "invalid_time_zone",
                "Mars/Olympus"
            ),
            Self.broken(
                Self.one(Criterion(key: "k", eventType: "e"), prerequisites: ["b"]), "invalid_criteria",
                "own prerequisite"
            ),
            Self.broken(
                Self.one(Criterion(key: "k", eventType: "e"), prerequisites: ["not an id"]), "invalid_id",
                "prerequisites"
            ),
            Self.broken(Self.one(Criterion(key: "", eventType: "e")), "invalid_criteria", "\(at).key is empty"),
            Self.broken(
                Self.badge(
                    Criteria(criteria: [Criterion(key: "k", eventType: "e"), Criterion(key: "k", eventType: "f")])),
                "invalid_criteria", "criteria[1].key \"k\" is used twice"
            ),
            Self.broken(
                Self.one(Criterion(key: String(repeating: "k", count: 65), eventType: "e")), "invalid_criteria",
                "64 bytes"
            ),
            Self.broken(Self.one(Criterion(key: "k\u{0}", eventType: "e")), "invalid_text", "\(at).key"),
            Self.broken(Self.one(Criterion(key: "k", eventType: "")), "invalid_criteria", "\(at).event_type"),
            Self.broken(
                Self.one(Criterion(key: "k", eventType: "e", aggregate: .state, attribute: "tier")), "invalid_criteria",
                "state_value"
            ),
            Self.broken(
                Self.one(Criterion(key: "k", eventType: "e", aggregate: .distinct)), "invalid_criteria",
                "needs attribute"
            ),
            Self.broken(Self.one(Criterion(key: "k", eventType: "e", target: 0)), "invalid_criteria", "\(at).target"),
            Self.broken(
                Self.one(Criterion(key: "k", eventType: "e", aggregate: .sum, target: -5)), "invalid_criteria",
                "\(at).target"
            ),
            Self.broken(
                Self.one(Criterion(key: "k", eventType: "e", target: .infinity)), "invalid_criteria", "\(at).target"),
            Self.broken(
                Self.one(Criterion(key: "k", eventType: "e", aggregate: .streak, target: .nan)), "invalid_criteria",
                "\(at).target"
            ),
            Self.broken(
                Self.one(Criterion(key: "k", eventType: "e", aggregate: .distinct, attribute: "store", target: 1_025)),
                "invalid_criteria", "at most 1024"
            ),
            Self.broken(
                Self.one(Criterion(key: "k", eventType: "e", aggregate: .streak, target: 3, window: .calendarWeek)),
                "invalid_criteria", "streak has no window"
            ),
            Self.broken(
                Self.one(Criterion(key: "k", eventType: "e", window: .rollingDays)), "invalid_criteria", "window_days"),
            Self.broken(
                Self.one(Criterion(key: "k", eventType: "e", window: .rollingDays, windowDays: 3_661)),
                "invalid_criteria", "window_days"
            ),
            Self.broken(
                Self.one(
                    Criterion(key: "k", eventType: "e", timeOfDay: TimeOfDayWindow(startMinute: 0, endMinute: 1_440))),
                "invalid_criteria", "time_of_day"
            ),
            Self.broken(
                Self.one(Criterion(key: "k", eventType: "e", daysOfWeek: [0])), "invalid_criteria", "days_of_week"),
            Self.broken(
                Self.one(Criterion(key: "k", eventType: "e", daysOfWeek: [8])), "invalid_criteria", "days_of_week"),
            Self.broken(
                Self.one(
                    Criterion(key: "k", eventType: "e", conditions: [Condition(attribute: "", op: .eq, values: ["x"])])),
                "invalid_criteria", "empty attribute"
            ),
            Self.broken(
                Self.one(Criterion(key: "k", eventType: "e", conditions: [Condition(attribute: "store", op: .notIn)])),
                "invalid_criteria", "condition on store needs values"
            ),
        ]
        for rule in cases {
            expectRefusal(rule.badge, reason: rule.reason, naming: rule.naming, sourceLocation: rule.location)
        }
    }
}
