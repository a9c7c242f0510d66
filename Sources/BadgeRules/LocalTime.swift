import BadgeModel
import Foundation
import Synchronization

/// An instant seen in a time zone: the local calendar fields the criteria need, with period
/// indexes (days, weeks, months, years since 1970) that compare across month and year ends.
public struct LocalTime: Sendable, Hashable {
    /// Local days since 1970-01-01.
    public let day: Int64
    public let minuteOfDay: Int
    /// ISO weekday, 1 = Monday ... 7 = Sunday.
    public let weekday: Int
    /// ISO weeks (Monday first) since the week of 1970-01-01.
    public let week: Int64
    /// Months since January 1970.
    public let month: Int64
    public let year: Int64

    /// `utcMs` in the zone named `timeZone` (an IANA name; empty = UTC). Throws for an unknown zone.
    public init(utcMs: Int64, timeZone: String) throws(BadgeError) {
        let zone = try ZoneCache.zone(timeZone)
        let offsetSeconds = zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(utcMs) / 1000))
        self.init(localMs: utcMs + Int64(offsetSeconds) * 1000)
    }

    /// The first instant after `utcMs` at which the local calendar day in `timeZone` may change:
    /// the next local midnight, moved earlier when the zone's offset grows before it (a daylight
    /// saving start), so it is never later than the real change. Throws for an unknown zone.
    public static func nextDayStartMs(after utcMs: Int64, timeZone: String) throws(BadgeError) -> Int64 {
        let zone = try ZoneCache.zone(timeZone)
        func offsetMs(_ instant: Int64) -> Int64 {
            Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(instant) / 1000))) * 1000
        }
        let offsetNow = offsetMs(utcMs)
        let msOfDay = floorDivide(utcMs + offsetNow, 86_400_000).1
        var midnight = utcMs + 86_400_000 - msOfDay
        let offsetThen = offsetMs(midnight)
        if offsetThen > offsetNow { midnight -= offsetThen - offsetNow }
        return max(midnight, utcMs + 1)
    }

    init(localMs: Int64) {
        let (day, msOfDay) = Self.floorDivide(localMs, 86_400_000)
        self.day = day
        minuteOfDay = Int(msOfDay / 60_000)
        // 1970-01-01 was a Thursday (ISO 4).
        weekday = Int(Self.floorDivide(day + 3, 7).1) + 1
        week = Self.floorDivide(day + 3, 7).0
        let (year, monthOfYear) = Self.civil(day)
        self.year = year
        month = (year - 1970) * 12 + Int64(monthOfYear - 1)
    }

    /// The period index a window or streak unit groups this instant into.
    public func period(_ unit: PeriodUnit) -> Int64 {
        switch unit {
        case .day: day
        case .week: week
        case .month: month
        case .year: year
        }
    }

    public enum PeriodUnit: Sendable {
        case day, week, month, year
    }

    static func floorDivide(_ value: Int64, _ divisor: Int64) -> (Int64, Int64) {
        let (quotient, remainder) = value.quotientAndRemainder(dividingBy: divisor)
        return remainder < 0 ? (quotient - 1, remainder + divisor) : (quotient, remainder)
    }

    /// Year and month (1-12) of a day count (Howard Hinnant's civil-from-days).
    static func civil(_ days: Int64) -> (Int64, Int) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), Int(month))
    }
}

/// Time zones are looked up once per name: `TimeZone(identifier:)` reads the zone database.
enum ZoneCache {
    private static let zones = Mutex<[String: TimeZone]>([:])

    static func zone(_ name: String) throws(BadgeError) -> TimeZone {
        if name.isEmpty { return TimeZone(identifier: "UTC")! }
        if let zone = zones.withLock({ $0[name] }) { return zone }
        guard let zone = TimeZone(identifier: name) else {
            throw BadgeError.invalidArgument(
                "time zone \"\(name)\" is not an IANA zone name", reason: "invalid_time_zone")
        }
        zones.withLock { $0[name] = zone }
        return zone
    }

    static func isValid(_ name: String) -> Bool {
        (try? zone(name)) != nil
    }
}
