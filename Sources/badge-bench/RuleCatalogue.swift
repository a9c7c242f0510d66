import BadgeModel

/// Fifty active badges with a mix of criteria, and a reproducible stream of events that feeds them:
/// the shape the Evaluate benchmarks measure.
enum RuleCatalogue {
    static let eventTypes = ["purchase", "visit", "referral", "tier_changed", "review"]

    static func badges() -> [BadgeDefinition] {
        (0..<50).map { index in
            let kind = index % 10
            let type = eventTypes[index % eventTypes.count]
            let target = Double(3 + index % 7)
            var criterion: Criterion
            switch kind {
            case 0: criterion = Criterion(key: "count", eventType: type, target: target)
            case 1: criterion = Criterion(key: "sum", eventType: type, aggregate: .sum, target: target * 200)
            case 2:
                criterion = Criterion(
                    key: "stores", eventType: type, aggregate: .distinct, attribute: "store", target: target)
            case 3: criterion = Criterion(key: "streak", eventType: type, aggregate: .streak, target: target)
            case 4:
                criterion = Criterion(
                    key: "tier", eventType: type, aggregate: .state, attribute: "tier", stateValue: "GOLD")
            case 5:
                criterion = Criterion(
                    key: "night", eventType: type, target: target,
                    timeOfDay: TimeOfDayWindow(startMinute: 22 * 60, endMinute: 5 * 60))
            case 6:
                criterion = Criterion(
                    key: "weekly", eventType: type, aggregate: .sum, target: target * 100, window: .calendarWeek)
            case 7:
                criterion = Criterion(
                    key: "rolling", eventType: type, target: target, window: .rollingDays, windowDays: 30)
            case 8:
                criterion = Criterion(
                    key: "big", eventType: type, conditions: [Condition(attribute: "amount", op: .gte, number: 150)],
                    target: target)
            default:
                criterion = Criterion(
                    key: "weekend", eventType: type, target: target, daysOfWeek: [6, 7])
            }
            return BadgeDefinition(
                id: "rule-\(index)", name: "Rule \(index)", rank: Int32(index), repeatable: index % 3 == 0,
                criteria: Criteria(
                    criteria: [criterion], timeZone: index % 2 == 0 ? "America/New_York" : "Europe/Paris"))
        }
    }

    /// Event `index` of a reproducible stream over `customers` customers and about 60 days.
    static func event(_ index: Int, customers: Int, prefix: String) -> ActivityEvent {
        var seed = UInt64(truncatingIfNeeded: index) &* 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            seed ^= seed >> 33
            seed &*= 0xFF51_AFD7_ED55_8CCD
            seed ^= seed >> 33
            return seed
        }
        let type = eventTypes[Int(next() % UInt64(eventTypes.count))]
        return ActivityEvent(
            eventId: "\(prefix)-\(index)", customerId: "cust-\(next() % UInt64(customers))", type: type,
            occurredAtMs: 1_780_000_000_000 + Int64(next() % (60 * 86_400_000)), amount: Double(next() % 300),
            attributes: ["store": "s\(next() % 12)", "tier": next() % 4 == 0 ? "GOLD" : "SILVER"])
    }
}
