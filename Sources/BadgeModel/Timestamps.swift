/// Millisecond timestamps rendered for people, without Foundation.
public enum Timestamps {
    /// 9999-12-31T23:59:59.999Z: the latest time a caller may give. Local-time arithmetic (adding a
    /// zone's offset, window lengths) stays far from Int64's limits below it.
    public static let latestMs: Int64 = 253_402_300_799_999

    /// "2026-11-27T01:33:00.000Z" for a Unix epoch millisecond time.
    public static func iso(_ ms: Int64) -> String {
        // Floor division that cannot overflow, for times before 1970.
        func floorDivide(_ value: Int64, _ divisor: Int64) -> (Int64, Int) {
            let (quotient, remainder) = value.quotientAndRemainder(dividingBy: divisor)
            return remainder < 0 ? (quotient - 1, Int(remainder + divisor)) : (quotient, Int(remainder))
        }
        let (totalSeconds, millis) = floorDivide(ms, 1000)
        let (wholeDays, secondsOfDay) = floorDivide(totalSeconds, 86_400)
        var days = wholeDays
        // Civil-from-days (Howard Hinnant's algorithm).
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let dayOfEra = days - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(Int(year), 4))-\(pad(Int(month), 2))-\(pad(Int(day), 2))T\(pad(secondsOfDay / 3600, 2)):"
            + "\(pad(secondsOfDay / 60 % 60, 2)):\(pad(secondsOfDay % 60, 2)).\(pad(millis, 3))Z"
    }
}
