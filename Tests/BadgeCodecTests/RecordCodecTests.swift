import BadgeCodec
import BadgeModel
import Testing

@Suite("Records: BadgeDefinition and Award")
struct RecordCodecTests {
    @Test func badgeDefinitionWithEveryFieldRoundTrips() throws {
        let badge = fullBadge()
        let decoded = try roundTrip(badge)
        #expect(decoded == badge)
        // Spot checks, so a broken Equatable could not hide a dropped field.
        #expect(decoded.labels == ["tier": "gold", "campaign": "spring", "a": ""])
        #expect(decoded.status == .inactive)
        #expect(decoded.rank == -7)
        #expect(decoded.globalCap == 10_000_000_000)
        #expect(decoded.repeatable)
        #expect(decoded.maxPerCustomer == 3)
        #expect(decoded.expiresAfterMs == 31_536_000_000)
        #expect(decoded.expiresAtMs == 1_950_000_000_000)
        #expect(decoded.createdAtMs == 1_700_000_000_001)
        #expect(decoded.updatedAtMs == 1_700_000_000_002)
    }

    @Test func defaultBadgeDefinitionRoundTrips() throws {
        let badge = BadgeDefinition(id: "new-member")
        let decoded = try roundTrip(badge)
        #expect(decoded == badge)
        #expect(decoded.status == .active)
        #expect(decoded.labels.isEmpty)
    }

    @Test func extremeIntegersRoundTrip() throws {
        var badge = BadgeDefinition(id: "x")
        badge.rank = Int32.min
        badge.validFromMs = Int64.min
        badge.validUntilMs = Int64.max
        badge.maxPerCustomer = UInt32.max
        badge.globalCap = UInt64.max
        #expect(try roundTrip(badge) == badge)

        var award = Award(awardId: UInt64.max, customerId: "c", badgeId: "b", earnedAtMs: -1)
        award.expiresAtMs = Int64.max
        #expect(try roundTrip(award) == award)
    }

    @Test func awardWithEvidenceAndRevocationRoundTrips() throws {
        let award = fullAward()
        let decoded = try roundTrip(award)
        #expect(decoded == award)
        #expect(decoded.evidenceFields == ["order": "991", "store": "Lyon 2", "amount": "129.90"])
        #expect(decoded.isRevoked)
        #expect(decoded.revokeReason == "fraud review")
        #expect(decoded.revokedBy == "agent:martine")
        #expect(decoded.source == .retro)
    }

    @Test(arguments: AwardSource.allCases)
    func everyAwardSourceRoundTrips(source: AwardSource) throws {
        var award = fullAward()
        award.source = source
        #expect(try roundTrip(award).source == source)
    }

    @Test(arguments: BadgeStatus.allCases)
    func everyBadgeStatusRoundTrips(status: BadgeStatus) throws {
        var badge = fullBadge()
        badge.status = status
        #expect(try roundTrip(badge).status == status)
    }

    @Test func emptyStringsAndMapsRoundTrip() throws {
        let badge = BadgeDefinition(id: "", name: "", description: "", icon: "", group: "", labels: [:])
        #expect(try roundTrip(badge) == badge)
        let award = Award(awardId: 0, customerId: "", badgeId: "", earnedAtMs: 0, evidenceFields: [:])
        #expect(try roundTrip(award) == award)
        // A message with nothing set encodes to nothing at all (proto3 defaults).
        #expect(award.encoded().isEmpty)
    }

    @Test func emptyKeysAndValuesInMapsRoundTrip() throws {
        let award = Award(awardId: 1, customerId: "c", badgeId: "b", earnedAtMs: 1, evidenceFields: ["": "", "k": ""])
        #expect(try roundTrip(award).evidenceFields == ["": "", "k": ""])
    }

    @Test func unicodeStringsRoundTrip() throws {
        let badge = BadgeDefinition(
            id: "night-owl", name: "Oiseau de nuit 🦉", description: "夜更かし — نَسر الليل", icon: "🦉",
            group: "Ünïcødé", labels: ["langue": "français", "絵文字": "🏆✨", "e\u{301}": "combining"])
        let decoded = try roundTrip(badge)
        #expect(decoded == badge)
        #expect(decoded.name == "Oiseau de nuit 🦉")
        #expect(decoded.labels["絵文字"] == "🏆✨")

        let award = Award(
            awardId: 9, customerId: "客户-ß", badgeId: "b", earnedAtMs: 5, evidence: "über 💯",
            evidenceFields: ["ключ": "значение"], revokeReason: "raison: fraude présumée", revokedBy: "Zoë")
        #expect(try roundTrip(award) == award)
    }

    @Test func embeddedNULIsRefusedBeforeItCouldBeCutShort() throws {
        // protobuf-c carries strings as C strings, so "before\0after" would travel as "before".
        // The service refuses such text instead of storing it truncated.
        #expect(throws: BadgeError.self) { try Validate.text("before\u{0}after", field: "evidence") }
        #expect(throws: BadgeError.self) { try Validate.fields(["k": "v\u{0}w"], field: "evidence_fields") }
        #expect(throws: BadgeError.self) { try Validate.fields(["k\u{0}": "v"], field: "evidence_fields") }
        do {
            try Validate.text("x\u{0}y", field: "reason")
        } catch {
            #expect(error.reason == "invalid_text")
            #expect(error.message.contains("reason"))
        }
    }

    @Test func largeTextRoundTrips() throws {
        let text = String(repeating: "é", count: 50_000)
        let award = Award(awardId: 1, customerId: "c", badgeId: "b", earnedAtMs: 1, evidence: text)
        #expect(try roundTrip(award).evidence == text)
    }

    @Test func equalMapsEncodeToEqualBytes() {
        // Build equal dictionaries with different histories (capacity, insertion order, removals),
        // which typically gives them different iteration orders.
        let pairs = (0..<40).map { ("key-\($0)", "value-\($0 * 7)") }
        var forward: [String: String] = [:]
        for (key, value) in pairs { forward[key] = value }
        var backward = [String: String](minimumCapacity: 1_000)
        for (key, value) in pairs.reversed() { backward[key] = value }
        var churned: [String: String] = [:]
        for index in 0..<500 { churned["junk-\(index)"] = "x" }
        for (key, value) in pairs.shuffled() { churned[key] = value }
        for index in 0..<500 { churned["junk-\(index)"] = nil }
        #expect(forward == backward)
        #expect(forward == churned)

        let encodings = [forward, backward, churned].map { labels in
            var badge = fullBadge()
            badge.labels = labels
            return badge.encoded()
        }
        #expect(encodings[0] == encodings[1])
        #expect(encodings[0] == encodings[2])

        let awardEncodings = [forward, backward, churned].map { fields in
            var award = fullAward()
            award.evidenceFields = fields
            return award.encoded()
        }
        #expect(awardEncodings[0] == awardEncodings[1])
        #expect(awardEncodings[0] == awardEncodings[2])

        // Encoding the same value twice gives the same bytes, too.
        #expect(fullBadge().encoded() == fullBadge().encoded())
    }

    @Test func mapEntriesAreWrittenInKeyOrder() throws {
        let award = Award(awardId: 0, customerId: "", badgeId: "", earnedAtMs: 0, evidenceFields: ["b": "2", "a": "1"])
        // Field 8 (evidence_fields), length-delimited: tag 0x42, then a key/value entry per key, sorted.
        let entryA: [UInt8] = [0x42, 0x06, 0x0A, 0x01, UInt8(ascii: "a"), 0x12, 0x01, UInt8(ascii: "1")]
        let entryB: [UInt8] = [0x42, 0x06, 0x0A, 0x01, UInt8(ascii: "b"), 0x12, 0x01, UInt8(ascii: "2")]
        #expect(award.encoded() == entryA + entryB)
    }

    @Test func repeatedMapKeyKeepsTheLastValue() throws {
        // Two evidence_fields entries with the same key, hand-written: protobuf keeps the last one.
        let first: [UInt8] = [0x42, 0x06, 0x0A, 0x01, UInt8(ascii: "k"), 0x12, 0x01, UInt8(ascii: "1")]
        let second: [UInt8] = [0x42, 0x06, 0x0A, 0x01, UInt8(ascii: "k"), 0x12, 0x01, UInt8(ascii: "2")]
        let award = try Award(decoding: first + second)
        #expect(award.evidenceFields == ["k": "2"])
    }

    @Test func unknownAwardSourceNumberReadsAsAPI() throws {
        // Field 6 (source), varint 9: a number this build does not know.
        let award = try Award(decoding: [0x30, 0x09])
        #expect(award.source == .api)
    }

    @Test func unknownFieldsAreSkipped() throws {
        // A newer peer may send field 99 (varint); field 2 (customer_id) must still be read.
        let unknown: [UInt8] = [0x98, 0x06, 0x01]
        let customer: [UInt8] = [0x12, 0x02, UInt8(ascii: "c"), UInt8(ascii: "7")]
        let award = try Award(decoding: unknown + customer)
        #expect(award.customerId == "c7")
    }
}
