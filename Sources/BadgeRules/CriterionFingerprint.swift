import BadgeModel

// Criteria versions: a stored state is stamped with its criterion's fingerprint, and a state
// stamped for another definition restarts (PROTOCOL §7.4).
extension CriterionEngine {
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
