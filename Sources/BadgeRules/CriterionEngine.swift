import BadgeModel

/// Pure evaluation of one criterion: does an event match it, how does it change the customer's
/// state, and how far along is the customer. No I/O and no clock: times come in as arguments.
///
/// Out-of-order events: every aggregate is kept per period (day, week, month, year) or as a set
/// of streak runs, so a late event lands in the period it happened in. A rolling window is complete
/// when any window position containing the event reaches the target; a calendar window when the
/// event's own period does; a streak when the run containing the event does. A STATE criterion
/// keeps the value of the latest event by event time, whatever the arrival order. Periods older
/// than the retention (twice the rolling window, or three calendar periods, behind the newest seen)
/// are dropped, and late events for them no longer count.
public enum CriterionEngine {
    /// Most streak runs and distinct values kept per criterion; the oldest go first.
    static let maxRuns = 64
    static let maxDistinct = 1024
    static let maxRecent = 10

    // MARK: - Matching

    /// True when `event` is of the criterion's type, passes every condition, and happened inside
    /// its local time-of-day and day-of-week filters.
    public static func matches(_ criterion: Criterion, _ event: ActivityEvent, at local: LocalTime) -> Bool {
        // Byte for byte, as every id and event type: a `String` comparison would match the same
        // text in other Unicode bytes (the same goes for attribute names and values below).
        guard event.type.isSameId(criterion.eventType) else { return false }
        if let window = criterion.timeOfDay, !contains(window, minute: local.minuteOfDay) { return false }
        if !criterion.daysOfWeek.isEmpty, !criterion.daysOfWeek.contains(UInt32(local.weekday)) { return false }
        return criterion.conditions.allSatisfy { holds($0, event) }
    }

    /// [start, end) in minutes; end < start wraps midnight; start == end means the whole day.
    static func contains(_ window: TimeOfDayWindow, minute: Int) -> Bool {
        let start = Int(window.startMinute)
        let end = Int(window.endMinute)
        if start == end { return true }
        return start < end ? (minute >= start && minute < end) : (minute >= start || minute < end)
    }

    static func holds(_ condition: Condition, _ event: ActivityEvent) -> Bool {
        let text = attribute(condition.attribute, of: event)
        func isListed(_ text: String) -> Bool { condition.values.contains { $0.isSameId(text) } }
        // As `text == condition.values.first` (two nils are equal), byte for byte.
        let isFirst =
            switch (text, condition.values.first) {
            case (nil, nil): true
            case (let text?, let first?): text.isSameId(first)
            default: false
            }
        switch condition.op {
        case .eq: return text != nil && isFirst
        case .ne: return !isFirst
        case .in: return text.map(isListed) ?? false
        case .notIn: return !(text.map(isListed) ?? false)
        case .gt, .gte, .lt, .lte:
            guard let value = number(condition.attribute, event) else { return false }
            switch condition.op {
            case .gt: return value > condition.number
            case .gte: return value >= condition.number
            case .lt: return value < condition.number
            default: return value <= condition.number
            }
        }
    }

    /// The event's attribute of exactly this name (byte for byte). The attributes are a `String`
    /// dictionary, which looks keys up as Unicode text; decoding refuses two keys that are the same
    /// text (`ambiguous_key`), so the one found is the only candidate.
    static func attribute(_ name: String, of event: ActivityEvent) -> String? {
        guard let index = event.attributes.index(forKey: name) else { return nil }
        let (key, value) = event.attributes[index]
        return key.isSameId(name) ? value : nil
    }

    /// A numeric attribute, or the event amount for "amount"/"" when no attribute has that name.
    static func number(_ attribute: String, _ event: ActivityEvent) -> Double? {
        // "inf" and "nan" parse as Doubles but are no amount anyone spent.
        if let text = Self.attribute(attribute, of: event) { return Double(text).flatMap { $0.isFinite ? $0 : nil } }
        return attribute.isEmpty || attribute == "amount" ? event.amount : nil
    }

    // MARK: - Recording

    /// The state after counting `event` (which must match).
    public static func record(
        _ criterion: Criterion, _ state: CriterionState, _ event: ActivityEvent, at local: LocalTime
    ) -> CriterionState {
        var state = state
        record(criterion, into: &state, event, at: local)
        return state
    }

    /// Counts `event` (which must match) into `state` in place: the engine runs this for every
    /// listening badge of every event, and a copy of the state's arrays each time was ~15% of it.
    public static func record(
        _ criterion: Criterion, into state: inout CriterionState, _ event: ActivityEvent, at local: LocalTime
    ) {
        let value = number(criterion.attribute, event) ?? 0
        switch criterion.aggregate {
        case .count, .sum:
            if criterion.window == .lifetime {
                state.count += 1
                state.sum += value
            } else {
                addToBucket(&state, period: local.period(periodUnit(criterion)), value: value, criterion: criterion)
            }
        case .distinct:
            guard let text = attribute(criterion.attribute, of: event) else { return }
            let item = ExactText(text)
            let period = local.period(periodUnit(criterion))
            state.distinct[item] = max(state.distinct[item] ?? period, period)
            if state.distinct.count > maxDistinct, let oldest = state.distinct.min(by: { $0.value < $1.value }) {
                state.distinct[oldest.key] = nil
            }
        case .streak:
            insert(local.period(criterion.streakUnit == .weeks ? .week : .day), into: &state.runs)
        case .state:
            guard let item = attribute(criterion.attribute, of: event) else { return }
            // Latest by event time wins, so a late, older event cannot overwrite a newer state.
            if event.occurredAtMs >= state.stateTimeMs {
                state.stateValue = item
                state.stateTimeMs = event.occurredAtMs
            }
        }
        let kept = recentIdsKept(criterion)
        if kept > 0 {
            state.recent.keepLast(kept - 1)
            state.recent.append(event.eventId)
        } else if !state.recent.isEmpty {
            // A state written before ids were kept only where evidence shows them.
            state.recent = RecentIds()
        }
    }

    /// How many of the latest event ids a state keeps: only a COUNT's evidence lists them (its
    /// last `target`, at most `maxRecent`). Every other state kept ten ids it never showed, which
    /// were most of its bytes, decoded, re-encoded and stored on every event. A COUNT keeps
    /// `maxRecent` whatever its target: a new target keeps the state (it is not in the
    /// fingerprint), and a raised one must still find its last `target` ids.
    static func recentIdsKept(_ criterion: Criterion) -> Int {
        criterion.aggregate == .count ? maxRecent : 0
    }

    /// How many of the latest event ids a COUNT's evidence lists: its last `target`, at most `maxRecent`.
    static func recentIdsShown(_ criterion: Criterion) -> Int {
        Int(max(min(criterion.target, Double(maxRecent)), 0))
    }

    static func periodUnit(_ criterion: Criterion) -> LocalTime.PeriodUnit {
        switch criterion.window {
        case .lifetime, .rollingDays, .calendarDay: .day
        case .calendarWeek: .week
        case .calendarMonth: .month
        case .calendarYear: .year
        }
    }

    static func addToBucket(_ state: inout CriterionState, period: Int64, value: Double, criterion: Criterion) {
        if let index = state.buckets.firstIndex(where: { $0.period == period }) {
            state.buckets[index].count += 1
            state.buckets[index].sum += value
        } else {
            let index = state.buckets.firstIndex { $0.period > period } ?? state.buckets.endIndex
            state.buckets.insert(CriterionState.Bucket(period: period, count: 1, sum: value), at: index)
        }
        let newest = state.buckets.last!.period
        let keep: Int64 = criterion.window == .rollingDays ? 2 * Int64(max(criterion.windowDays, 1)) : 3
        state.buckets.removeAll { $0.period <= newest - keep }
    }

    /// Adds a period to a set of disjoint ascending runs, merging neighbours.
    static func insert(_ period: Int64, into runs: inout [CriterionState.Run]) {
        var index = 0
        while index < runs.count, runs[index].end < period - 1 { index += 1 }
        if index == runs.count || runs[index].start > period + 1 {
            runs.insert(CriterionState.Run(start: period, end: period), at: index)
        } else {
            runs[index].start = min(runs[index].start, period)
            runs[index].end = max(runs[index].end, period)
            if index + 1 < runs.count, runs[index + 1].start <= runs[index].end + 1 {
                runs[index].end = max(runs[index].end, runs[index + 1].end)
                runs.remove(at: index + 1)
            }
        }
        if runs.count > maxRuns { runs.removeFirst(runs.count - maxRuns) }
    }

    // MARK: - Progress

    /// The value that counts toward the target, for an event or a List at `local`.
    ///
    /// - Parameter atEvent: true when judging the event at `local` (rolling windows then take the
    ///   best window containing it); false for "how far along now" (the window ending now).
    public static func current(
        _ criterion: Criterion, _ state: CriterionState, at local: LocalTime, atEvent: Bool
    )
        -> Double
    {
        switch criterion.aggregate {
        case .count, .sum:
            let isCount = criterion.aggregate == .count
            switch criterion.window {
            case .lifetime:
                return isCount ? state.count : state.sum
            case .rollingDays:
                let days = Int64(max(criterion.windowDays, 1))
                return bestWindow(days: days, from: local.day, anchors: atEvent ? days : 1) { low, high in
                    var total = 0.0
                    for bucket in state.buckets where bucket.period > low && bucket.period <= high {
                        total += isCount ? bucket.count : bucket.sum
                    }
                    return total
                }
            default:
                let period = local.period(periodUnit(criterion))
                guard let bucket = state.buckets.first(where: { $0.period == period }) else { return 0 }
                return isCount ? bucket.count : bucket.sum
            }
        case .distinct:
            switch criterion.window {
            case .lifetime:
                return Double(state.distinct.count)
            case .rollingDays:
                // Each value counts at the last day it was seen.
                let days = Int64(max(criterion.windowDays, 1))
                return bestWindow(days: days, from: local.day, anchors: atEvent ? days : 1) { low, high in
                    var total = 0.0
                    for seen in state.distinct.values where seen > low && seen <= high { total += 1 }
                    return total
                }
            default:
                let period = local.period(periodUnit(criterion))
                var total = 0.0
                for seen in state.distinct.values where seen == period { total += 1 }
                return total
            }
        case .streak:
            let period = local.period(criterion.streakUnit == .weeks ? .week : .day)
            if atEvent {
                return state.runs.first { $0.start <= period && $0.end >= period }.map { Double($0.end - $0.start + 1) }
                    ?? 0
            }
            // Now: the run still alive (ending this period or the previous one).
            return state.runs.first { $0.end == period || $0.end == period - 1 }.map { Double($0.end - $0.start + 1) }
                ?? 0
        case .state:
            return state.stateValue.isSameId(criterion.stateValue) && !state.stateValue.isEmpty ? 1 : 0
        }
    }

    /// The largest `total(low, high)` over the rolling windows (low, high] of `days` days ending on
    /// `first`, `first + 1`, ... (`anchors` of them): without arrays, as this runs for every
    /// rolling criterion an event touches.
    static func bestWindow(days: Int64, from first: Int64, anchors: Int64, total: (Int64, Int64) -> Double) -> Double {
        // A sum may be negative (refunds), so the first window starts the comparison, not zero.
        var best = total(first - days, first)
        var anchor = first + 1
        while anchor < first + anchors {
            best = max(best, total(anchor - days, anchor))
            anchor += 1
        }
        return best
    }

    public static func target(_ criterion: Criterion) -> Double {
        criterion.aggregate == .state ? 1 : criterion.target
    }

    public static func progress(
        _ criterion: Criterion, _ state: CriterionState, at local: LocalTime, atEvent: Bool
    )
        -> Progress
    {
        progress(criterion, state, value: current(criterion, state, at: local, atEvent: atEvent))
    }

    /// Progress for an already computed current value.
    public static func progress(_ criterion: Criterion, _ state: CriterionState, value: Double) -> Progress {
        let goal = target(criterion)
        return Progress(
            key: criterion.key, current: value, target: goal, complete: value >= goal,
            text: progressText(criterion, state, value: value))
    }

    static func unit(_ criterion: Criterion) -> String {
        criterion.unit.isEmpty ? criterion.eventType : criterion.unit
    }

    /// What a sum adds up: its attribute, or the event's amount.
    static func summed(_ criterion: Criterion) -> String {
        criterion.attribute.isEmpty ? "amount" : criterion.attribute
    }

    /// Appends " a, b, c" (nothing for no items).
    static func appendList(_ items: some Sequence<String>, to text: inout String) {
        var first = true
        for item in items {
            text += first ? " " : ", "
            text += item
            first = false
        }
    }

    // The texts below are built by appending into one String: they are made for every listening
    // badge on every event, and interpolation allocated a buffer per piece.

    static func progressText(_ criterion: Criterion, _ state: CriterionState, value: Double) -> String {
        var text = ""
        func fraction() {
            Format.appendCount(value, to: &text)
            text += " / "
            Format.appendCount(criterion.target, to: &text)
        }
        switch criterion.aggregate {
        case .count:
            fraction()
            text += " "
            text += unit(criterion)
        case .distinct:
            fraction()
            text += " distinct "
            text += criterion.attribute
        case .streak:
            fraction()
            text += criterion.streakUnit == .weeks ? " weeks in a row" : " days in a row"
        case .sum:
            text += summed(criterion)
            text += " "
            Format.appendDecimal(value, to: &text)
            text += " / "
            Format.appendDecimal(criterion.target, to: &text)
        case .state:
            text += criterion.attribute
            if state.stateValue.isEmpty {
                text += " not set"
            } else {
                text += " is "
                text += state.stateValue
            }
            text += " (needs "
            text += criterion.stateValue
            text += ")"
        }
        return text
    }

    /// Why a completed criterion was met, for the award's evidence ("3 referral: r-11, r-12, r-19").
    public static func evidence(_ criterion: Criterion, _ state: CriterionState, value: Double) -> String {
        var text = ""
        switch criterion.aggregate {
        case .count:
            Format.appendCount(value, to: &text)
            text += " "
            text += unit(criterion)
            text += ":"
            if let ids = state.recent.newest(recentIdsShown(criterion), joinedBy: ", ") {
                text += " "
                text += ids
            }
        case .sum:
            text += summed(criterion)
            text += " "
            Format.appendDecimal(value, to: &text)
            text += " >= "
            Format.appendDecimal(criterion.target, to: &text)
        case .distinct:
            Format.appendCount(value, to: &text)
            text += " distinct "
            text += criterion.attribute
            text += ":"
            appendList(state.distinct.keys.sorted().prefix(maxRecent).lazy.map(\.text), to: &text)
        case .streak:
            Format.appendCount(value, to: &text)
            text += criterion.streakUnit == .weeks ? " weeks in a row of " : " days in a row of "
            text += unit(criterion)
        case .state:
            text += criterion.attribute
            text += " = "
            text += state.stateValue
        }
        return text
    }

    /// The criterion in words, for the trophy case.
    public static func describe(_ criterion: Criterion) -> String {
        var text: String
        switch criterion.aggregate {
        case .count:
            text = "\(Format.count(criterion.target)) \(unit(criterion)) event\(criterion.target == 1 ? "" : "s")"
        case .sum:
            text =
                "\(summed(criterion)) totalling \(Format.decimal(criterion.target)) over \(criterion.eventType) events"
        case .distinct:
            text = "\(Format.count(criterion.target)) different \(criterion.attribute) in \(criterion.eventType) events"
        case .streak:
            text =
                "\(unit(criterion)) on \(Format.count(criterion.target)) \(criterion.streakUnit == .weeks ? "weeks" : "days") in a row"
        case .state: text = "\(criterion.attribute) becomes \(criterion.stateValue) (\(criterion.eventType))"
        }
        switch criterion.window {
        case .lifetime: break
        case .rollingDays: text += " within \(criterion.windowDays) days"
        case .calendarDay: text += " in one day"
        case .calendarWeek: text += " in one week"
        case .calendarMonth: text += " in one month"
        case .calendarYear: text += " in one year"
        }
        if let window = criterion.timeOfDay {
            text += " between \(Format.clock(window.startMinute)) and \(Format.clock(window.endMinute))"
        }
        if !criterion.daysOfWeek.isEmpty {
            let names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
            text += " on " + criterion.daysOfWeek.map { names[Int($0) - 1] }.joined(separator: "/")
        }
        return text
    }
}
