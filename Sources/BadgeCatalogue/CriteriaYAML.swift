import BadgeModel
import Foundation

/// The `criteria:` block of a catalogue entry:
///
/// ```yaml
/// criteria:
///   combine: all                  # or any
///   time_zone: America/New_York
///   prerequisites: [new-member]
///   rules:
///     - key: night-purchases
///       event_type: purchase
///       aggregate: count          # count | sum | distinct | streak | state
///       target: 3
///       time_of_day: "22:00-05:00"
///       days_of_week: [6, 7]
///       window: rolling_days      # lifetime | rolling_days | calendar_day|week|month|year
///       window_days: 30
///       conditions:
///         - { attribute: channel, op: in, values: [store, app] }
/// ```
struct CriteriaYAML: Decodable {
    var combine: Criteria.Combine?
    var timeZone: String?
    var prerequisites: [String]?
    var rules: [Rule]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case combine, prerequisites, rules
        case timeZone = "time_zone"
    }

    struct Rule: Decodable {
        var key: String
        var eventType: String
        var aggregate: Criterion.Aggregate?
        var attribute: String?
        var target: Double?
        var stateValue: String?
        var window: Criterion.Window?
        var windowDays: UInt32?
        var streakUnit: Criterion.StreakUnit?
        var timeOfDay: String?
        var daysOfWeek: [UInt32]?
        var unit: String?
        var conditions: [Condition]?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case key, aggregate, attribute, target, window, unit, conditions
            case eventType = "event_type"
            case stateValue = "state_value"
            case windowDays = "window_days"
            case streakUnit = "streak_unit"
            case timeOfDay = "time_of_day"
            case daysOfWeek = "days_of_week"
        }
    }

    func criteria(place: String) throws(BadgeError) -> Criteria {
        var criteria: [Criterion] = []
        for (index, rule) in rules.enumerated() {
            var timeOfDay: TimeOfDayWindow?
            if let text = rule.timeOfDay {
                timeOfDay = try Self.timeWindow(text, field: "\(place).criteria.rules[\(index)].time_of_day")
            }
            criteria.append(
                Criterion(
                    key: rule.key, eventType: rule.eventType, conditions: rule.conditions ?? [],
                    aggregate: rule.aggregate ?? .count, attribute: rule.attribute ?? "", target: rule.target ?? 1,
                    stateValue: rule.stateValue ?? "", window: rule.window ?? .lifetime,
                    windowDays: rule.windowDays ?? 0,
                    streakUnit: rule.streakUnit ?? .days, timeOfDay: timeOfDay, daysOfWeek: rule.daysOfWeek ?? [],
                    unit: rule.unit ?? ""))
        }
        return Criteria(
            combine: combine ?? .all, criteria: criteria, prerequisites: prerequisites ?? [], timeZone: timeZone ?? "")
    }

    /// "22:00-05:00" -> minutes [1320, 300).
    static func timeWindow(_ text: String, field: String) throws(BadgeError) -> TimeOfDayWindow {
        let parts = text.split(separator: "-").map { $0.trimmingCharacters(in: .whitespaces) }
        func minutes(_ clock: String) -> UInt32? {
            let pieces = clock.split(separator: ":")
            guard pieces.count == 2, let hours = UInt32(pieces[0]), let minutes = UInt32(pieces[1]), hours < 24,
                minutes < 60
            else { return nil }
            return hours * 60 + minutes
        }
        guard parts.count == 2, let start = minutes(parts[0]), let end = minutes(parts[1]) else {
            throw BadgeError.invalidArgument("\(field): \"\(text)\" is not HH:MM-HH:MM", reason: "invalid_catalogue")
        }
        return TimeOfDayWindow(startMinute: start, endMinute: end)
    }
}
