/// A test on one event field. The attribute name "amount" means the event's amount unless the event
/// has an attribute of that name.
public struct Condition: Sendable, Hashable, Codable {
    public enum Op: String, Sendable, Hashable, Codable, CaseIterable {
        case eq, ne, `in`, notIn = "not_in", gt, gte, lt, lte
    }
    public var attribute: String
    public var op: Op
    public var values: [String]
    public var number: Double

    public init(attribute: String, op: Op, values: [String] = [], number: Double = 0) {
        self.attribute = attribute
        self.op = op
        self.values = values
        self.number = number
    }

    /// `values` and `number` may be left out (each op uses one of them).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        attribute = try container.decode(String.self, forKey: .attribute)
        op = try container.decode(Op.self, forKey: .op)
        values = try container.decodeIfPresent([String].self, forKey: .values) ?? []
        number = try container.decodeIfPresent(Double.self, forKey: .number) ?? 0
    }
}

/// Local minutes since midnight, [start, end); end < start wraps midnight.
public struct TimeOfDayWindow: Sendable, Hashable, Codable {
    public var startMinute: UInt32
    public var endMinute: UInt32

    public init(startMinute: UInt32, endMinute: UInt32) {
        self.startMinute = startMinute
        self.endMinute = endMinute
    }
}

/// One measured goal of a badge: an aggregate over matching events compared with a target.
public struct Criterion: Sendable, Hashable, Codable {
    public enum Aggregate: String, Sendable, Hashable, Codable, CaseIterable {
        case count, sum, distinct, streak, state
    }
    public enum Window: String, Sendable, Hashable, Codable, CaseIterable {
        case lifetime
        case rollingDays = "rolling_days"
        case calendarDay = "calendar_day"
        case calendarWeek = "calendar_week"
        case calendarMonth = "calendar_month"
        case calendarYear = "calendar_year"
    }
    public enum StreakUnit: String, Sendable, Hashable, Codable, CaseIterable {
        case days, weeks
    }

    /// Stable name within the badge; progress is kept per key.
    public var key: String
    public var eventType: String
    public var conditions: [Condition]
    public var aggregate: Aggregate
    public var attribute: String
    public var target: Double
    public var stateValue: String
    public var window: Window
    public var windowDays: UInt32
    public var streakUnit: StreakUnit
    public var timeOfDay: TimeOfDayWindow?
    /// ISO days, 1 = Monday ... 7 = Sunday; empty = any day.
    public var daysOfWeek: [UInt32]
    /// Shown in progress text ("referrals"); defaults to the event type.
    public var unit: String

    public init(
        key: String, eventType: String, conditions: [Condition] = [], aggregate: Aggregate = .count,
        attribute: String = "", target: Double = 1, stateValue: String = "", window: Window = .lifetime,
        windowDays: UInt32 = 0, streakUnit: StreakUnit = .days, timeOfDay: TimeOfDayWindow? = nil,
        daysOfWeek: [UInt32] = [], unit: String = ""
    ) {
        self.key = key
        self.eventType = eventType
        self.conditions = conditions
        self.aggregate = aggregate
        self.attribute = attribute
        self.target = target
        self.stateValue = stateValue
        self.window = window
        self.windowDays = windowDays
        self.streakUnit = streakUnit
        self.timeOfDay = timeOfDay
        self.daysOfWeek = daysOfWeek
        self.unit = unit
    }
}

/// What activity earns a badge.
public struct Criteria: Sendable, Hashable, Codable {
    public enum Combine: String, Sendable, Hashable, Codable {
        case all, any
    }
    public var combine: Combine
    public var criteria: [Criterion]
    /// Badge ids the customer must currently hold.
    public var prerequisites: [String]
    /// IANA zone for local times; an event's own zone overrides it; empty = UTC.
    public var timeZone: String

    public init(combine: Combine = .all, criteria: [Criterion], prerequisites: [String] = [], timeZone: String = "") {
        self.combine = combine
        self.criteria = criteria
        self.prerequisites = prerequisites
        self.timeZone = timeZone
    }
}

/// One criterion's progress for one customer.
public struct Progress: Sendable, Hashable, Codable {
    public var key: String
    public var current: Double
    public var target: Double
    public var complete: Bool
    /// "2 / 3 referrals"
    public var text: String

    public init(key: String, current: Double, target: Double, complete: Bool, text: String) {
        self.key = key
        self.current = current
        self.target = target
        self.complete = complete
        self.text = text
    }
}

/// Progress of one badge's criterion after an event.
public struct ProgressChange: Sendable, Hashable, Codable {
    public var badgeId: String
    public var progress: Progress

    public init(badgeId: String, progress: Progress) {
        self.badgeId = badgeId
        self.progress = progress
    }
}

/// What an Evaluate did (or, in a dry run, would do).
public struct EvaluateResult: Sendable, Hashable, Codable {
    public var awarded: [Award]
    public var progress: [ProgressChange]
    public var replayed: Bool

    public init(awarded: [Award], progress: [ProgressChange], replayed: Bool = false) {
        self.awarded = awarded
        self.progress = progress
        self.replayed = replayed
    }
}

/// One criterion's accumulated state for one customer. Compact: aggregates, per-period buckets and
/// streak runs, never the event history itself.
public struct CriterionState: Sendable, Hashable {
    /// Fingerprint of the criterion this state was measured against.
    public var fingerprint: UInt64 = 0
    public var count: Double = 0
    public var sum: Double = 0
    /// DISTINCT: value -> last period index seen. Values are told apart byte for byte, as
    /// attribute values are matched.
    public var distinct: [ExactText: Int64] = [:]
    /// Windowed aggregates: period index -> (count, sum), kept sorted by period.
    public var buckets: [Bucket] = []
    /// STREAK: disjoint runs of consecutive periods, ascending.
    public var runs: [Run] = []
    public var stateValue: String = ""
    public var stateTimeMs: Int64 = 0
    /// The last few contributing event ids, for evidence.
    public var recent = RecentIds()
    /// How many times rules awarded this badge; repeatable badges start a new round after each.
    public var rounds: UInt32 = 0
    /// Non-repeatable badges: the customer holds the badge, by an award its rules made, until this
    /// instant (`Int64.max`: no expiry), so a completion need not read their awards to find it
    /// held. Revoke clears it. 0: not known.
    public var heldUntilMs: Int64 = 0

    public struct Bucket: Sendable, Hashable {
        public var period: Int64
        public var count: Double
        public var sum: Double
        public init(period: Int64, count: Double = 0, sum: Double = 0) {
            self.period = period
            self.count = count
            self.sum = sum
        }
    }

    public struct Run: Sendable, Hashable {
        public var start: Int64
        public var end: Int64
        public init(start: Int64, end: Int64) {
            self.start = start
            self.end = end
        }
    }

    public init(fingerprint: UInt64 = 0) {
        self.fingerprint = fingerprint
    }
}
