import BadgeModel
import Testing

@Suite("Timestamps.iso")
struct TimestampsTests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (1, "1970-01-01T00:00:00.001Z"),
        (999, "1970-01-01T00:00:00.999Z"),
        (1_700_000_000_123, "2023-11-14T22:13:20.123Z"),
        (951_782_400_000, "2000-02-29T00:00:00.000Z"),
        (1_709_251_199_999, "2024-02-29T23:59:59.999Z"),
        (4_102_444_800_000, "2100-01-01T00:00:00.000Z"),
        (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
    ])
    func knownInstants(ms: Int64, expected: String) {
        #expect(Timestamps.iso(ms) == expected)
    }

    @Test(arguments: [
        (Int64(-1), "1969-12-31T23:59:59.999Z"),
        (-1_000, "1969-12-31T23:59:59.000Z"),
        (-1_001, "1969-12-31T23:59:58.999Z"),
        (-86_400_000, "1969-12-31T00:00:00.000Z"),
        (-86_400_001, "1969-12-30T23:59:59.999Z"),
        (-2_208_988_800_000, "1900-01-01T00:00:00.000Z"),
        (-62_135_596_800_000, "0001-01-01T00:00:00.000Z"),
    ])
    func negativeInstants(ms: Int64, expected: String) {
        #expect(Timestamps.iso(ms) == expected)
    }

    @Test func largestInstantRenders() {
        #expect(Timestamps.iso(Int64.max) == "292278994-08-17T07:12:55.807Z")
    }

    @Test func smallestInstantDoesNotCrash() async {
        // `Timestamps.iso` takes any Int64; `ms - 999` overflows (and traps) for ms < Int64.min + 999.
        await #expect(processExitsWith: .success) {
            _ = Timestamps.iso(Int64.min)
        }
    }
}
