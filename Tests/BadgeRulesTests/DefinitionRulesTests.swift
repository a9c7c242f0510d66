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
