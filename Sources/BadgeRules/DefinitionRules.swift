import BadgeModel

/// Checks a badge definition before it enters the catalogue.
public enum DefinitionRules {
    /// Throws `INVALID_ARGUMENT` naming the first offending field.
    public static func validate(_ badge: BadgeDefinition) throws(BadgeError) {
        try Validate.badgeId(badge.id, field: "badge.id")
        if badge.name.isEmpty {
            throw .invalidArgument("badge.name is empty (badge \(badge.id))", reason: "missing_field")
        }
        try Validate.text(badge.name, field: "badge.name")
        try Validate.text(badge.description, field: "badge.description")
        try Validate.text(badge.icon, field: "badge.icon")
        try Validate.text(badge.group, field: "badge.group")
        try Validate.fields(badge.labels, field: "badge.labels")
        for (field, value) in [
            ("valid_from_ms", badge.validFromMs), ("valid_until_ms", badge.validUntilMs),
            ("expires_after_ms", badge.expiresAfterMs), ("expires_at_ms", badge.expiresAtMs),
        ] where value < 0 {
            throw .invalidArgument(
                "badge \(badge.id): \(field) is \(value); it must not be negative", reason: "out_of_range")
        }
        if badge.validFromMs != 0, badge.validUntilMs != 0, badge.validUntilMs <= badge.validFromMs {
            throw .invalidArgument(
                "badge \(badge.id): valid_until_ms (\(badge.validUntilMs)) must be after valid_from_ms (\(badge.validFromMs))",
                reason: "invalid_window")
        }
        if badge.expiresAfterMs != 0, badge.expiresAtMs != 0 {
            throw .invalidArgument(
                "badge \(badge.id): set at most one of expires_after_ms and expires_at_ms", reason: "conflicting_expiry"
            )
        }
        if !badge.repeatable, badge.maxPerCustomer > 1 {
            throw .invalidArgument(
                "badge \(badge.id): max_per_customer is \(badge.maxPerCustomer) but the badge is not repeatable",
                reason: "conflicting_limits")
        }
    }
}
