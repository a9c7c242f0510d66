import BadgeModel
import BadgeTestSupport
import Testing

@Suite("Validate")
struct ValidateTests {
    @Test(arguments: ["a", "Gold_Elite-2024:v1.0", "0", "...", String(repeating: "z", count: 128)])
    func acceptedBadgeIds(id: String) throws {
        try Validate.badgeId(id)
    }

    @Test(arguments: ["with space", "slash/y", "émoji", "tab\t", "q?", "star*", "new\nline"])
    func refusedBadgeIdCharacters(id: String) {
        let error = expectBadgeError(.invalidArgument, reason: "invalid_id") { try Validate.badgeId(id) }
        #expect(error?.message.hasPrefix("badge_id") == true)
    }

    @Test func badgeIdErrorDescribesTheByte() {
        let printable = expectBadgeError(.invalidArgument, reason: "invalid_id") { try Validate.badgeId("a/b") }
        #expect(printable?.message.contains("'/'") == true)
        let control = expectBadgeError(.invalidArgument, reason: "invalid_id") { try Validate.badgeId("a\u{1}b") }
        #expect(control?.message.contains("0x1") == true)
    }

    @Test func badgeIdLengthLimits() {
        let empty = expectBadgeError(.invalidArgument, reason: "missing_id") { try Validate.badgeId("") }
        #expect(empty?.message == "badge_id is empty")
        let long = expectBadgeError(.invalidArgument, reason: "id_too_long") {
            try Validate.badgeId(String(repeating: "x", count: 129))
        }
        #expect(long?.message.contains("129") == true)
        #expect(long?.message.contains("128") == true)
    }

    @Test func badgeIdUsesTheGivenFieldName() {
        let error = expectBadgeError(.invalidArgument) { try Validate.badgeId("", field: "entries[3].badge_id") }
        #expect(error?.message.hasPrefix("entries[3].badge_id") == true)
    }

    @Test(arguments: [
        "c1", "customer with spaces", "客户-42", "email@example.com", "🏆", String(repeating: "x", count: 128),
    ])
    func acceptedOpaqueIds(id: String) throws {
        try Validate.opaqueId(id, field: "customer_id")
    }

    @Test(arguments: ["line\nbreak", "tab\t", "nul\u{0}", "del\u{7F}", "esc\u{1B}"])
    func opaqueIdsRefuseControlCharacters(id: String) {
        let error = expectBadgeError(.invalidArgument, reason: "invalid_id") {
            try Validate.opaqueId(id, field: "customer_id")
        }
        #expect(error?.message.contains("customer_id") == true)
    }

    @Test func opaqueIdsRefuseTheReplacementCharacter() {
        // What invalid UTF-8 from the wire arrives as (see `Validate.opaqueId`).
        let error = expectBadgeError(.invalidArgument, reason: "invalid_id") {
            try Validate.opaqueId("caf\u{FFFD}", field: "request_id")
        }
        #expect(error?.message.contains("request_id is not valid UTF-8") == true)
    }

    @Test func opaqueIdLengthIsCountedInBytes() throws {
        // 64 two-byte characters: 128 bytes, accepted; one more is 130 bytes.
        try Validate.opaqueId(String(repeating: "é", count: 64), field: "request_id")
        expectBadgeError(.invalidArgument, reason: "id_too_long") {
            try Validate.opaqueId(String(repeating: "é", count: 65), field: "request_id")
        }
        let empty = expectBadgeError(.invalidArgument, reason: "missing_id") {
            try Validate.opaqueId("", field: "request_id")
        }
        #expect(empty?.message.contains("request_id") == true)
    }

    @Test func textLimitIsCountedInBytes() throws {
        try Validate.text("", field: "evidence")
        try Validate.text(String(repeating: "a", count: Limits.maxTextBytes), field: "evidence")
        let ascii = expectBadgeError(.invalidArgument, reason: "too_long") {
            try Validate.text(String(repeating: "a", count: Limits.maxTextBytes + 1), field: "evidence")
        }
        #expect(ascii?.message.contains("evidence") == true)
        // 2,049 characters but 4,098 bytes.
        expectBadgeError(.invalidArgument, reason: "too_long") {
            try Validate.text(String(repeating: "é", count: 2_049), field: "reason")
        }
        // Control characters are fine in free text.
        try Validate.text("line one\nline two\t✓", field: "evidence")
    }

    @Test func fieldMaps() throws {
        try Validate.fields([:], field: "labels")
        let atLimit = Dictionary(uniqueKeysWithValues: (0..<Limits.maxLabels).map { ("k\($0)", "") })
        try Validate.fields(atLimit, field: "labels")
        expectBadgeError(.invalidArgument, reason: "too_long") {
            try Validate.fields(
                Dictionary(uniqueKeysWithValues: (0...Limits.maxLabels).map { ("k\($0)", "") }), field: "labels")
        }
        expectBadgeError(.invalidArgument, reason: "invalid_argument") {
            try Validate.fields(["": "v"], field: "labels")
        }
        let longKey = String(repeating: "k", count: Limits.maxTextBytes + 1)
        expectBadgeError(.invalidArgument, reason: "too_long") { try Validate.fields([longKey: "v"], field: "labels") }
    }
}
