import BadgeModel
import Foundation
import Testing

@testable import BadgeRules

@Suite("LocalTime.nextDayStartMs")
struct LocalTimeTests {
    /// Zones with whole-hour, half-hour and 45-minute offsets, a 30-minute daylight shift (Lord
    /// Howe), southern-hemisphere daylight time, and shifts at local midnight (Beirut, Havana).
    static let zones = [
        "", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Chatham", "America/Sao_Paulo",
        "Asia/Beirut", "America/Havana", "Europe/London",
    ]

    @Test("the day never turns before it; away from offset changes it is exactly local midnight")
    func neverLate() throws {
        let start: Int64 = 1_672_531_200_000  // 2023-01-01 UTC
        let step: Int64 = 26_000_000  // ~7.2 h: lands at every time of day over the run
        for zone in Self.zones {
            let timeZone = TimeZone(identifier: zone.isEmpty ? "UTC" : zone)!
            func offsetMs(_ ms: Int64) -> Int64 {
                Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(ms) / 1000))) * 1000
            }
            var instant = start
            while instant < start + 2 * 366 * 86_400_000 {
                defer { instant += step }
                let day = try LocalTime(utcMs: instant, timeZone: zone).day
                let turn = try LocalTime.nextDayStartMs(after: instant, timeZone: zone)
                #expect(turn > instant)
                #expect(turn - instant <= 25 * 3_600_000, "\(zone) at \(instant)")
                // The same local day from `instant` up to just before `turn`.
                var probe = instant
                while probe < turn {
                    #expect(try LocalTime(utcMs: probe, timeZone: zone).day == day, "\(zone): \(instant) -> \(turn)")
                    probe += 15 * 60_000
                }
                #expect(try LocalTime(utcMs: turn - 1, timeZone: zone).day == day, "\(zone): \(instant) -> \(turn)")
                // Exact unless the offset changes near the turn (then it may come early, never late).
                if offsetMs(instant) == offsetMs(turn), offsetMs(turn) == offsetMs(turn + 2 * 3_600_000) {
                    #expect(try LocalTime(utcMs: turn, timeZone: zone).day == day + 1, "\(zone) at \(instant)")
                }
            }
        }
    }

    @Test("an unknown zone is refused")
    func unknownZone() {
        #expect(throws: BadgeError.self) { try LocalTime.nextDayStartMs(after: 0, timeZone: "Mars/Olympus") }
    }
}
