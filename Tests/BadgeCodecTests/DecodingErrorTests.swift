import BadgeCodec
import BadgeModel
import BadgeTestSupport
import Testing

/// One message type, decodable from bytes, named for failure messages.
private struct Decoder: Sendable, CustomTestStringConvertible {
    let name: String
    let decode: @Sendable ([UInt8]) throws -> Void
    var testDescription: String { name }

    init<M: WireMessage>(_ type: M.Type) {
        name = M.protoName
        decode = { bytes in _ = try M(decoding: bytes) }
    }
}

private let everyMessage: [Decoder] = [
    Decoder(BadgeDefinition.self), Decoder(Award.self), Decoder(PutBadgeRequest.self), Decoder(PutBadgeResult.self),
    Decoder(GetBadgeRequest.self), Decoder(BadgeReply.self), Decoder(DeactivateBadgeRequest.self),
    Decoder(DeactivateBadgeReply.self), Decoder(ListBadgesRequest.self), Decoder(ListBadgesReply.self),
    Decoder(IssueRequest.self), Decoder(IssueResult.self), Decoder(RevokeRequest.self), Decoder(RevokeReply.self),
    Decoder(ListRequest.self), Decoder(TrophyCase.self), Decoder(ExportAwardsRequest.self),
    Decoder(ExportAwardsChunk.self), Decoder(ActivityEvent.self), Decoder(EvaluateResult.self),
    Decoder(CriterionState.self), Decoder(Criteria.self),
    Decoder(HealthRequest.self), Decoder(HealthInfo.self),
]

@Suite("Decoding errors")
struct DecodingErrorTests {
    @Test(arguments: everyMessage)
    fileprivate func garbageBytesAreMalformed(decoder: Decoder) {
        let error = expectBadgeError(.invalidArgument, reason: "malformed_message") {
            try decoder.decode([0xFF, 0xFF, 0xFF])
        }
        #expect(error?.message.contains(decoder.name) == true, "message should name \(decoder.name)")
    }

    @Test(arguments: everyMessage)
    fileprivate func truncatedLengthDelimitedFieldIsMalformed(decoder: Decoder) {
        // Field 1, length-delimited, announcing 100 bytes but carrying 2.
        expectBadgeError(.invalidArgument, reason: "malformed_message") {
            try decoder.decode([0x0A, 100, 0x41, 0x42])
        }
    }

    @Test func truncatedEncodingOfARealMessageIsMalformed() {
        let bytes = fullAward().encoded()
        #expect(bytes.count > 10)
        expectBadgeError(.invalidArgument, reason: "malformed_message") {
            _ = try Award(decoding: Array(bytes.dropLast(3)))
        }
    }

    @Test func putBadgeRequestWithoutBadgeNamesTheField() {
        // Nothing at all, and then only `replace = true` (field 2, varint 1).
        for bytes: [UInt8] in [[], [0x10, 0x01]] {
            let error = expectBadgeError(.invalidArgument, reason: "missing_field") {
                _ = try PutBadgeRequest(decoding: bytes)
            }
            #expect(error?.message.contains("badge") == true, "\(String(describing: error))")
        }
    }

    @Test func repliesWithoutTheirRecordNameTheField() {
        let badgeError = expectBadgeError(.invalidArgument, reason: "missing_field") {
            _ = try BadgeReply(decoding: [])
        }
        #expect(badgeError?.message.contains("badge") == true)
        let awardError = expectBadgeError(.invalidArgument, reason: "missing_field") {
            _ = try IssueResult(decoding: [0x10, 0x01])
        }
        #expect(awardError?.message.contains("award") == true)
        expectBadgeError(.invalidArgument, reason: "missing_field") { _ = try PutBadgeResult(decoding: []) }
        expectBadgeError(.invalidArgument, reason: "missing_field") { _ = try DeactivateBadgeReply(decoding: []) }
    }

    @Test func trophyCaseEntryWithoutBadgeIsRefused() {
        // ListResponse field 2 (entries) holding one empty entry: its badge is missing.
        let error = expectBadgeError(.invalidArgument, reason: "missing_field") {
            _ = try TrophyCase(decoding: [0x12, 0x00])
        }
        #expect(error?.message.contains("entries.badge") == true)
    }

    @Test func emptyBytesDecodeToDefaults() throws {
        #expect(try GetBadgeRequest(decoding: []).badgeId == "")
        #expect(try Award(decoding: []) == Award(awardId: 0, customerId: "", badgeId: "", earnedAtMs: 0))
        #expect(try TrophyCase(decoding: []) == TrophyCase(customerId: "", entries: []))
        #expect(try ListBadgesRequest(decoding: []).includeInactive == false)
    }
}
