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

    /// A stable fingerprint of everything that decides how events count: FNV-1a over each field's
    /// length and bytes, so no text in one field can pass for another's. The zone is part of it:
    /// the same rule in another zone counts different days. Conditions (all must hold) and days of
    /// the week are sets, so their order does not count; nor do the values an `eq`/`ne` ignores
    /// (it compares with the first) or the order of an `in`/`not_in` set. A whole-day time window
    /// and all seven days count as no filter, as they match every event. An `in`/`not_in` set's
    /// values are told apart byte for byte, as matching tells them apart.
    public static func fingerprint(_ criterion: Criterion, timeZone: String) -> UInt64 {
        fingerprint(criterion, timeZone: timeZone, setsAsText: false)
    }

    /// `fingerprint` as built before an `in`/`not_in` set was taken byte for byte: its values were
    /// a `Set<String>` in `String` order, so two spellings of the same Unicode text (precomposed
    /// "\u{E9}" and "e" + U+0301) were one value, although matching tells them apart.
    public static func textSetFingerprint(_ criterion: Criterion, timeZone: String) -> UInt64 {
        fingerprint(criterion, timeZone: timeZone, setsAsText: true)
    }

    private static func fingerprint(_ criterion: Criterion, timeZone: String, setsAsText: Bool) -> UInt64 {
        var hash = FieldHash()
        hash.add("v2")
        hash.add(criterion.eventType)
        hash.add(criterion.aggregate.rawValue)
        hash.add(criterion.attribute)
        hash.add(criterion.stateValue)
        hash.add(criterion.window.rawValue)
        hash.add(String(criterion.windowDays))
        hash.add(criterion.streakUnit.rawValue)
        hash.add(timeZone)
        // A window from a minute to the same minute is the whole day, and all seven days are no
        // filter: both count as no filter at all.
        let window = criterion.timeOfDay.flatMap { $0.startMinute == $0.endMinute ? nil : $0 }
        hash.add(window.map { "\($0.startMinute)-\($0.endMinute)" } ?? "")
        let days = Set(criterion.daysOfWeek)
        hash.add(days.count == 7 ? "" : days.sorted().map(String.init).joined(separator: ","))
        let conditions = criterion.conditions.map { condition -> [UInt8] in
            var fields = FieldHash.Fields()
            fields.add(condition.attribute)
            fields.add(condition.op.rawValue)
            switch condition.op {
            case .eq, .ne: fields.add(condition.values.first ?? "")
            case .in, .notIn:
                if setsAsText {
                    for value in Set(condition.values).sorted() { fields.add(value) }
                } else {
                    for value in Set(condition.values.map { ExactText($0) }).sorted() { fields.add(value.text) }
                }
            // -0.0 compares as 0.0.
            case .gt, .gte, .lt, .lte: fields.add("\(condition.number == 0 ? 0 : condition.number)")
            }
            return fields.bytes
        }
        // A set: a condition given twice is the same rule as given once.
        let distinct = Set(conditions)
        hash.add(String(distinct.count))
        for condition in distinct.sorted(by: { $0.lexicographicallyPrecedes($1) }) { hash.add(bytes: condition) }
        return hash.value
    }

    /// The fingerprint states were stamped with before `fingerprint` (fields joined by `|`, sets in
    /// the order given). Still accepted for a stored state, which then takes the new one: progress
    /// stored by an older build is not restarted by the upgrade.
    public static func legacyFingerprint(_ criterion: Criterion, timeZone: String) -> UInt64 {
        var text = "v1|\(criterion.eventType)|\(criterion.aggregate.rawValue)|\(criterion.attribute)|"
        text += "\(criterion.stateValue)|\(criterion.window.rawValue)|\(criterion.windowDays)|"
        text += "\(criterion.streakUnit.rawValue)|\(timeZone)|"
        if let window = criterion.timeOfDay { text += "\(window.startMinute)-\(window.endMinute)" }
        text += "|\(criterion.daysOfWeek.map(String.init).joined(separator: ","))"
        for condition in criterion.conditions {
            text +=
                "|\(condition.attribute)\u{1}\(condition.op.rawValue)\u{1}\(condition.values.joined(separator: "\u{2}"))\u{1}\(condition.number)"
        }
        var hash = FieldHash()
        hash.mix(Array(text.utf8))
        return hash.value
    }

    /// True when `stamp` is a fingerprint an earlier build gave this criterion, and no other rule:
    /// a state stamped with it keeps its progress (and takes the current stamp). That is
    /// `legacyFingerprint` (see `isLegacyStamp`), or `textSetFingerprint` where it differs from
    /// today's only in the order of a set's values. Where it merged two spellings of a value into
    /// one, it is also the stamp of the set without one of them, which matches other events, so
    /// such a criterion's old states restart.
    public static func isEarlierStamp(_ stamp: UInt64, of criterion: Criterion, timeZone: String) -> Bool {
        if isLegacyStamp(stamp, of: criterion, timeZone: timeZone) { return true }
        let sets = criterion.conditions.filter { $0.op == .in || $0.op == .notIn }
        guard !sets.isEmpty, stamp == textSetFingerprint(criterion, timeZone: timeZone) else { return false }
        return sets.allSatisfy { Set($0.values).count == Set($0.values.map { ExactText($0) }).count }
    }

    /// True when `stamp` is the criterion's `legacyFingerprint` and that old fingerprint is one
    /// the criterion does not share with another rule. Its text joined fields with `|` (a
    /// condition's parts with U+0001, its values with U+0002): with one of those in a text field,
    /// another rule can have left the same stamp (attribute `x|y` with state value `z`, and `x`
    /// with `y|z`), so such a criterion's old states restart rather than carry over progress of
    /// another rule. (Without them, only a rule with U+0001 or U+0002 in its own texts could.)
    public static func isLegacyStamp(_ stamp: UInt64, of criterion: Criterion, timeZone: String) -> Bool {
        guard stamp == legacyFingerprint(criterion, timeZone: timeZone) else { return false }
        func unambiguous(_ text: String) -> Bool {
            !text.utf8.contains { $0 == UInt8(ascii: "|") || $0 == 1 || $0 == 2 }
        }
        return unambiguous(criterion.eventType) && unambiguous(criterion.attribute)
            && unambiguous(criterion.stateValue) && unambiguous(timeZone)
            && criterion.conditions.allSatisfy { unambiguous($0.attribute) && $0.values.allSatisfy(unambiguous) }
    }
}

/// FNV-1a, fed one length-prefixed field at a time.
struct FieldHash {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func mix(_ bytes: [UInt8]) {
        for byte in bytes {
            value ^= UInt64(byte)
            value = value &* 0x0000_0100_0000_01B3
        }
    }

    mutating func add(_ field: String) { add(bytes: Array(field.utf8)) }

    mutating func add(bytes: [UInt8]) {
        var prefix = Fields()
        prefix.appendLength(bytes.count)
        mix(prefix.bytes)
        mix(bytes)
    }

    /// Fields written out length-prefixed, to be hashed (or sorted) as one.
    struct Fields {
        private(set) var bytes: [UInt8] = []

        mutating func add(_ field: String) {
            appendLength(field.utf8.count)
            bytes.append(contentsOf: field.utf8)
        }

        mutating func appendLength(_ length: Int) {
            var rest = UInt64(length)
            while rest >= 0x80 {
                bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
                rest >>= 7
            }
            bytes.append(UInt8(rest))
        }
    }
}

/// Numbers for people.
public enum Format {
    /// "3", or "2.50" for a fraction.
    public static func count(_ value: Double) -> String {
        var text = ""
        appendCount(value, to: &text)
        return text
    }

    /// "1,240.00"; beyond 10^13 (where a Double no longer holds every cent) the number as Swift
    /// prints it ("1e+20"), not a crash: an event's amount may be any finite number.
    public static func decimal(_ value: Double) -> String {
        var text = ""
        appendDecimal(value, to: &text)
        return text
    }

    /// Appends `count(value)`.
    public static func appendCount(_ value: Double, to text: inout String) {
        if value == value.rounded() && abs(value) < 1e15 {
            text += String(Int64(value))
        } else {
            appendDecimal(value, to: &text)
        }
    }

    /// Appends `decimal(value)`.
    public static func appendDecimal(_ value: Double, to text: inout String) {
        let cents = (abs(value) * 100).rounded()
        guard cents < 1e15 else {
            text += value.description
            return
        }
        let wholeCents = Int64(cents)
        if value < 0 { text += "-" }
        let digits = String(wholeCents / 100)
        var left = digits.utf8.count
        for digit in digits {
            if left != digits.utf8.count, left % 3 == 0 { text += "," }
            text.append(digit)
            left -= 1
        }
        let fraction = wholeCents % 100
        text += fraction < 10 ? ".0" : "."
        text += String(fraction)
    }

    /// "22:00"
    static func clock(_ minute: UInt32) -> String {
        let hours = minute / 60
        let minutes = minute % 60
        return (hours < 10 ? "0" : "") + String(hours) + ":" + (minutes < 10 ? "0" : "") + String(minutes)
    }
}
