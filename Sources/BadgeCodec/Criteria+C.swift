import BadgeModel
internal import BadgeWireC

// Criteria, progress and the engine's stored state.

extension Condition: CBacked {
    public static let protoName = "badges.v1.Condition"
    static let ops: [(Op, Badges__V1__Condition__Op)] = [
        (.eq, BADGES__V1__CONDITION__OP__EQ), (.ne, BADGES__V1__CONDITION__OP__NE),
        (.in, BADGES__V1__CONDITION__OP__IN), (.notIn, BADGES__V1__CONDITION__OP__NOT_IN),
        (.gt, BADGES__V1__CONDITION__OP__GT), (.gte, BADGES__V1__CONDITION__OP__GTE),
        (.lt, BADGES__V1__CONDITION__OP__LT), (.lte, BADGES__V1__CONDITION__OP__LTE),
    ]

    init(c: UnsafePointer<Badges__V1__Condition>) throws(BadgeError) {
        let m = c.pointee
        guard let op = Self.ops.first(where: { $0.1 == m.op })?.0 else {
            throw BadgeError.invalidArgument(
                "condition on \(swiftString(m.attribute)) has an unknown op \(m.op.rawValue)")
        }
        self.init(
            attribute: swiftString(m.attribute), op: op, values: swiftStrings(m.n_values, m.values), number: m.number)
    }

    func fill(_ c: UnsafeMutablePointer<Badges__V1__Condition>, _ arena: EncodeArena) {
        c.pointee.attribute = arena.string(attribute)
        c.pointee.op = Self.ops.first { $0.0 == op }!.1
        (c.pointee.n_values, c.pointee.values) = arena.strings(values)
        c.pointee.number = number
    }
}

extension Criterion: CBacked {
    public static let protoName = "badges.v1.Criterion"
    static let aggregates: [(Aggregate, Badges__V1__Criterion__Aggregate)] = [
        (.count, BADGES__V1__CRITERION__AGGREGATE__COUNT), (.sum, BADGES__V1__CRITERION__AGGREGATE__SUM),
        (.distinct, BADGES__V1__CRITERION__AGGREGATE__DISTINCT), (.streak, BADGES__V1__CRITERION__AGGREGATE__STREAK),
        (.state, BADGES__V1__CRITERION__AGGREGATE__STATE),
    ]
    static let windows: [(Window, Badges__V1__Criterion__Window)] = [
        (.lifetime, BADGES__V1__CRITERION__WINDOW__LIFETIME),
        (.rollingDays, BADGES__V1__CRITERION__WINDOW__ROLLING_DAYS),
        (.calendarDay, BADGES__V1__CRITERION__WINDOW__CALENDAR_DAY),
        (.calendarWeek, BADGES__V1__CRITERION__WINDOW__CALENDAR_WEEK),
        (.calendarMonth, BADGES__V1__CRITERION__WINDOW__CALENDAR_MONTH),
        (.calendarYear, BADGES__V1__CRITERION__WINDOW__CALENDAR_YEAR),
    ]

    init(c: UnsafePointer<Badges__V1__Criterion>) throws(BadgeError) {
        let m = c.pointee
        let key = swiftString(m.key)
        guard let aggregate = Self.aggregates.first(where: { $0.1 == m.aggregate })?.0 else {
            throw BadgeError.invalidArgument("criterion \(key) has an unknown aggregate \(m.aggregate.rawValue)")
        }
        guard let window = Self.windows.first(where: { $0.1 == m.window })?.0 else {
            throw BadgeError.invalidArgument("criterion \(key) has an unknown window \(m.window.rawValue)")
        }
        self.init(
            key: key, eventType: swiftString(m.event_type),
            conditions: try swiftArray(m.n_conditions, m.conditions) { (c) throws(BadgeError) in try Condition(c: c) },
            aggregate: aggregate, attribute: swiftString(m.attribute), target: m.target,
            stateValue: swiftString(m.state_value), window: window, windowDays: m.window_days,
            streakUnit: m.streak_unit == BADGES__V1__CRITERION__STREAK_UNIT__WEEKS ? .weeks : .days,
            timeOfDay: m.time_of_day.map {
                TimeOfDayWindow(startMinute: $0.pointee.start_minute, endMinute: $0.pointee.end_minute)
            },
            daysOfWeek: swiftScalars(m.n_days_of_week, m.days_of_week), unit: swiftString(m.unit))
    }

    func fill(_ c: UnsafeMutablePointer<Badges__V1__Criterion>, _ arena: EncodeArena) {
        c.pointee.key = arena.string(key)
        c.pointee.event_type = arena.string(eventType)
        (c.pointee.n_conditions, c.pointee.conditions) = repeated(conditions, arena)
        c.pointee.aggregate = Self.aggregates.first { $0.0 == aggregate }!.1
        c.pointee.attribute = arena.string(attribute)
        c.pointee.target = target
        c.pointee.state_value = arena.string(stateValue)
        c.pointee.window = Self.windows.first { $0.0 == window }!.1
        c.pointee.window_days = windowDays
        c.pointee.streak_unit =
            streakUnit == .weeks ? BADGES__V1__CRITERION__STREAK_UNIT__WEEKS : BADGES__V1__CRITERION__STREAK_UNIT__DAYS
        if let timeOfDay {
            let window = arena.message(Badges__V1__TimeOfDayWindow.self)
            window.pointee.start_minute = timeOfDay.startMinute
            window.pointee.end_minute = timeOfDay.endMinute
            c.pointee.time_of_day = window
        }
        (c.pointee.n_days_of_week, c.pointee.days_of_week) = arena.scalars(daysOfWeek)
        c.pointee.unit = arena.string(unit)
    }
}

extension Criteria: CBacked {
    public static let protoName = "badges.v1.Criteria"

    init(c: UnsafePointer<Badges__V1__Criteria>) throws(BadgeError) {
        let m = c.pointee
        self.init(
            combine: m.combine == BADGES__V1__CRITERIA__COMBINE__ANY ? .any : .all,
            criteria: try swiftArray(m.n_criteria, m.criteria) { (c) throws(BadgeError) in try Criterion(c: c) },
            prerequisites: swiftStrings(m.n_prerequisites, m.prerequisites), timeZone: swiftString(m.time_zone))
    }

    func fill(_ c: UnsafeMutablePointer<Badges__V1__Criteria>, _ arena: EncodeArena) {
        c.pointee.combine = combine == .any ? BADGES__V1__CRITERIA__COMBINE__ANY : BADGES__V1__CRITERIA__COMBINE__ALL
        (c.pointee.n_criteria, c.pointee.criteria) = repeated(criteria, arena)
        (c.pointee.n_prerequisites, c.pointee.prerequisites) = arena.strings(prerequisites)
        c.pointee.time_zone = arena.string(timeZone)
    }
}

extension Progress: CBacked {
    public static let protoName = "badges.v1.Progress"

    init(c: UnsafePointer<Badges__V1__Progress>) {
        let m = c.pointee
        self.init(
            key: swiftString(m.key), current: m.current, target: m.target, complete: m.complete != 0,
            text: swiftString(m.text))
    }

    func fill(_ c: UnsafeMutablePointer<Badges__V1__Progress>, _ arena: EncodeArena) {
        c.pointee.key = arena.string(key)
        c.pointee.current = current
        c.pointee.target = target
        c.pointee.complete = complete ? 1 : 0
        c.pointee.text = arena.string(text)
    }
}

extension ProgressChange: CBacked {
    public static let protoName = "badges.v1.ProgressChange"

    init(c: UnsafePointer<Badges__V1__ProgressChange>) throws(BadgeError) {
        self.init(
            badgeId: swiftString(c.pointee.badge_id),
            progress: try required(c.pointee.progress, Progress.self, field: "progress.progress"))
    }

    func fill(_ c: UnsafeMutablePointer<Badges__V1__ProgressChange>, _ arena: EncodeArena) {
        c.pointee.badge_id = arena.string(badgeId)
        c.pointee.progress = nested(progress, arena)
    }
}

extension EvaluateResult: CBacked {
    public static let protoName = "badges.v1.EvaluateResponse"

    init(c: UnsafePointer<Badges__V1__EvaluateResponse>) throws(BadgeError) {
        let m = c.pointee
        self.init(
            awarded: try swiftArray(m.n_awarded, m.awarded) { (c) throws(BadgeError) in try Award(c: c) },
            progress: try swiftArray(m.n_progress, m.progress) { (c) throws(BadgeError) in try ProgressChange(c: c) },
            replayed: m.replayed != 0)
    }

    func fill(_ c: UnsafeMutablePointer<Badges__V1__EvaluateResponse>, _ arena: EncodeArena) {
        (c.pointee.n_awarded, c.pointee.awarded) = repeated(awarded, arena)
        (c.pointee.n_progress, c.pointee.progress) = repeated(progress, arena)
        c.pointee.replayed = replayed ? 1 : 0
    }
}

extension CriterionState: CBacked {
    public static let protoName = "badges.v1.CriterionState"

    init(c: UnsafePointer<Badges__V1__CriterionState>) throws(BadgeError) {
        let m = c.pointee
        self.init(fingerprint: m.fingerprint)
        count = m.count
        sum = m.sum
        let values = swiftStrings(m.n_distinct_values, m.distinct_values)
        let days: [Int64] = swiftScalars(m.n_distinct_days, m.distinct_days)
        for (index, value) in values.enumerated() {
            distinct[ExactText(value)] = index < days.count ? days[index] : 0
        }
        let periods: [Int64] = swiftScalars(m.n_bucket_periods, m.bucket_periods)
        let counts: [Double] = swiftScalars(m.n_bucket_counts, m.bucket_counts)
        let sums: [Double] = swiftScalars(m.n_bucket_sums, m.bucket_sums)
        buckets = periods.indices.map { index in
            Bucket(
                period: periods[index], count: index < counts.count ? counts[index] : 0,
                sum: index < sums.count ? sums[index] : 0)
        }
        let starts: [Int64] = swiftScalars(m.n_run_starts, m.run_starts)
        let ends: [Int64] = swiftScalars(m.n_run_ends, m.run_ends)
        runs = zip(starts, ends).map { Run(start: $0, end: $1) }
        stateValue = swiftString(m.state_value)
        stateTimeMs = m.state_time_ms
        recent = RecentIds(swiftStrings(m.n_recent, m.recent))
        let frontCoded = UnsafeRawBufferPointer(start: m.recent_front_coded.data, count: m.recent_front_coded.len)
        guard recent.appendFrontCoded(frontCoded) else {
            throw Envelope.malformed(Self.protoName, m.recent_front_coded.len)
        }
        rounds = m.rounds
        heldUntilMs = m.held_until_ms
    }

    func fill(_ c: UnsafeMutablePointer<Badges__V1__CriterionState>, _ arena: EncodeArena) {
        c.pointee.fingerprint = fingerprint
        c.pointee.count = count
        c.pointee.sum = sum
        let sortedDistinct = distinct.sorted { $0.key < $1.key }
        (c.pointee.n_distinct_values, c.pointee.distinct_values) = arena.strings(sortedDistinct.map(\.key.text))
        (c.pointee.n_distinct_days, c.pointee.distinct_days) = arena.scalars(sortedDistinct.map(\.value))
        (c.pointee.n_bucket_periods, c.pointee.bucket_periods) = arena.scalars(buckets.map(\.period))
        (c.pointee.n_bucket_counts, c.pointee.bucket_counts) = arena.scalars(buckets.map(\.count))
        (c.pointee.n_bucket_sums, c.pointee.bucket_sums) = arena.scalars(buckets.map(\.sum))
        (c.pointee.n_run_starts, c.pointee.run_starts) = arena.scalars(runs.map(\.start))
        (c.pointee.n_run_ends, c.pointee.run_ends) = arena.scalars(runs.map(\.end))
        c.pointee.state_value = arena.string(stateValue)
        c.pointee.state_time_ms = stateTimeMs
        let copy = arena.scalars(recent.frontCoded)
        c.pointee.recent_front_coded = ProtobufCBinaryData(len: copy.count, data: copy.pointer)
        c.pointee.rounds = rounds
        c.pointee.held_until_ms = heldUntilMs
    }
}

/// What an evaluated event did, kept under its event id for replays.
public struct EventRecord: Sendable, Hashable {
    public var customerId: String
    public var type: String
    public var occurredAtMs: Int64
    public var recordedAtMs: Int64
    public var awardedIds: [UInt64]
    /// The original EvaluateResponse, returned again on a retry; without its awards when
    /// `awardsById` (they are `awardedIds`, stored once, in the award records).
    public var response: [UInt8]
    /// `response` leaves the awards out (every record written since session 11).
    public var awardsById: Bool
    /// The response's progress changes in `EvaluateResult.packedProgress` form, in place of
    /// `response` (records written since store schema 5; their awards are always by id).
    public var progressPacked: [UInt8]

    public init(
        customerId: String, type: String, occurredAtMs: Int64, recordedAtMs: Int64, awardedIds: [UInt64],
        response: [UInt8], awardsById: Bool = false, progressPacked: [UInt8] = []
    ) {
        self.customerId = customerId
        self.type = type
        self.occurredAtMs = occurredAtMs
        self.recordedAtMs = recordedAtMs
        self.awardedIds = awardedIds
        self.response = response
        self.awardsById = awardsById
        self.progressPacked = progressPacked
    }
}

extension EventRecord: CBacked {
    public static let protoName = "badges.v1.EventRecord"

    init(c: UnsafePointer<Badges__V1__EventRecord>) {
        let m = c.pointee
        self.init(
            customerId: swiftString(m.customer_id), type: swiftString(m.type), occurredAtMs: m.occurred_at_ms,
            recordedAtMs: m.recorded_at_ms, awardedIds: swiftScalars(m.n_awarded_ids, m.awarded_ids),
            response: Array(UnsafeRawBufferPointer(start: m.response.data, count: m.response.len)),
            awardsById: m.awards_by_id != 0,
            progressPacked: Array(UnsafeRawBufferPointer(start: m.progress_packed.data, count: m.progress_packed.len)))
    }

    func fill(_ c: UnsafeMutablePointer<Badges__V1__EventRecord>, _ arena: EncodeArena) {
        c.pointee.customer_id = arena.string(customerId)
        c.pointee.type = arena.string(type)
        c.pointee.occurred_at_ms = occurredAtMs
        c.pointee.recorded_at_ms = recordedAtMs
        (c.pointee.n_awarded_ids, c.pointee.awarded_ids) = arena.scalars(awardedIds)
        let copy = arena.scalars(response)
        c.pointee.response = ProtobufCBinaryData(len: copy.count, data: copy.pointer)
        c.pointee.awards_by_id = awardsById ? 1 : 0
        let packed = arena.scalars(progressPacked)
        c.pointee.progress_packed = ProtobufCBinaryData(len: packed.count, data: packed.pointer)
    }
}
