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
        ] {
            if value < 0 {
                throw .invalidArgument(
                    "badge \(badge.id): \(field) is \(value); it must not be negative", reason: "out_of_range")
            }
            // An award's expiry is its earning time plus expires_after_ms: past this bound the sum
            // wrapped and the badge's awards were expired the moment they were made.
            if value > Timestamps.latestMs {
                throw .invalidArgument(
                    "badge \(badge.id): \(field) is \(value); the most is \(Timestamps.latestMs) (\(Timestamps.iso(Timestamps.latestMs)))",
                    reason: "out_of_range")
            }
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
        if let criteria = badge.criteria { try validate(criteria, badgeId: badge.id) }
        if !badge.repeatable, badge.maxPerCustomer > 1 {
            throw .invalidArgument(
                "badge \(badge.id): max_per_customer is \(badge.maxPerCustomer) but the badge is not repeatable",
                reason: "conflicting_limits")
        }
    }

    static func validate(_ criteria: Criteria, badgeId: String) throws(BadgeError) {
        let place = "badge \(badgeId) criteria"
        if criteria.criteria.isEmpty {
            throw .invalidArgument(
                "\(place): add at least one criterion, or leave criteria unset", reason: "invalid_criteria")
        }
        if !criteria.timeZone.isEmpty, !ZoneCache.isValid(criteria.timeZone) {
            throw .invalidArgument(
                "\(place).time_zone \"\(criteria.timeZone)\" is not an IANA zone name", reason: "invalid_time_zone")
        }
        for prerequisite in criteria.prerequisites {
            try Validate.badgeId(prerequisite, field: "\(place).prerequisites")
            if prerequisite.isSameId(badgeId) {
                throw .invalidArgument("\(place): a badge cannot be its own prerequisite", reason: "invalid_criteria")
            }
        }
        var keys: Set<String> = []
        for (index, criterion) in criteria.criteria.enumerated() {
            let at = "\(place).criteria[\(index)]"
            if criterion.key.isEmpty { throw .invalidArgument("\(at).key is empty", reason: "invalid_criteria") }
            if !keys.insert(criterion.key).inserted {
                throw .invalidArgument("\(at).key \"\(criterion.key)\" is used twice", reason: "invalid_criteria")
            }
            // The key is part of a store key (with customer and badge ids): keep it short.
            if criterion.key.utf8.count > 64 {
                throw .invalidArgument("\(at).key is longer than 64 bytes", reason: "invalid_criteria")
            }
            try Validate.text(criterion.key, field: "\(at).key")
            if criterion.eventType.isEmpty {
                throw .invalidArgument("\(at).event_type is empty", reason: "invalid_criteria")
            }
            try Validate.opaqueId(criterion.eventType, field: "\(at).event_type")
            try Validate.text(criterion.attribute, field: "\(at).attribute")
            try Validate.text(criterion.stateValue, field: "\(at).state_value")
            try Validate.text(criterion.unit, field: "\(at).unit")
            switch criterion.aggregate {
            case .state:
                if criterion.attribute.isEmpty || criterion.stateValue.isEmpty {
                    throw .invalidArgument(
                        "\(at): a state criterion needs attribute and state_value", reason: "invalid_criteria")
                }
            case .distinct:
                if criterion.attribute.isEmpty {
                    throw .invalidArgument("\(at): a distinct criterion needs attribute", reason: "invalid_criteria")
                }
                fallthrough
            default:
                if !(criterion.target > 0) || !criterion.target.isFinite {
                    throw .invalidArgument("\(at).target must be a positive number", reason: "invalid_criteria")
                }
                // A target past what is remembered could never be met: the badge would silently never award.
                if criterion.aggregate == .distinct, criterion.target > Double(CriterionEngine.maxDistinct) {
                    throw .invalidArgument(
                        "\(at).target must be at most \(CriterionEngine.maxDistinct) for a distinct criterion "
                            + "(the most distinct values remembered)", reason: "invalid_criteria")
                }
            }
            if criterion.aggregate == .streak, criterion.window != .lifetime {
                throw .invalidArgument(
                    "\(at): a streak has no window (it is its own window)", reason: "invalid_criteria")
            }
            if criterion.window == .rollingDays, criterion.windowDays == 0 || criterion.windowDays > 3660 {
                throw .invalidArgument(
                    "\(at).window_days must be 1-3660 for a rolling window", reason: "invalid_criteria")
            }
            if let window = criterion.timeOfDay, window.startMinute >= 1440 || window.endMinute >= 1440 {
                throw .invalidArgument("\(at).time_of_day minutes must be below 1440", reason: "invalid_criteria")
            }
            if criterion.daysOfWeek.contains(where: { !(1...7).contains($0) }) {
                throw .invalidArgument(
                    "\(at).days_of_week must be 1 (Monday) to 7 (Sunday)", reason: "invalid_criteria")
            }
            for condition in criterion.conditions {
                if condition.attribute.isEmpty {
                    throw .invalidArgument("\(at): a condition has an empty attribute", reason: "invalid_criteria")
                }
                try Validate.text(condition.attribute, field: "\(at) condition attribute")
                for value in condition.values { try Validate.text(value, field: "\(at) condition value") }
                if [.eq, .ne, .in, .notIn].contains(condition.op), condition.values.isEmpty {
                    throw .invalidArgument(
                        "\(at): condition on \(condition.attribute) needs values", reason: "invalid_criteria")
                }
            }
        }
    }
}
