import BadgeCodec
import BadgeModel
import Testing

@Suite("TrophyCaseWriter")
struct TrophyCaseWriterTests {
    @Test("hand-written ListResponse decodes to the same trophy case as protobuf-c's encoding")
    func sameAsProtobufC() throws {
        let gold = BadgeDefinition(
            id: "gold", name: "Gold Élite", rank: 3, labels: ["tier": "gold"],
            criteria: Criteria(criteria: [
                Criterion(key: "k", eventType: "tier_changed", aggregate: .state, attribute: "tier", stateValue: "GOLD")
            ]))
        let owl = BadgeDefinition(id: "owl", name: "Night Owl", rank: 4)
        let awards = [
            Award(
                awardId: 7, customerId: "c-1", badgeId: "gold", earnedAtMs: 1_780_000_000_000, evidence: "tier = GOLD"),
            Award(
                awardId: 300, customerId: "c-1", badgeId: "gold", earnedAtMs: 1_780_000_000_001,
                evidenceFields: ["a": "b"]),
        ]
        let progress = [Progress(key: "k", current: 2, target: 3, complete: false, text: "2 / 3 nights")]
        let trophyCase = TrophyCase(
            customerId: "c-1",
            entries: [
                TrophyCaseEntry(badge: gold, state: .earned, awards: awards, criteriaText: "tier becomes GOLD"),
                TrophyCaseEntry(badge: owl, state: .locked, awards: [], progress: progress),
            ])
        let written = TrophyCaseWriter.encode(customerId: "c-1", entries: trophyCase.entries)
        #expect(try TrophyCase(decoding: written) == trophyCase)
        // An empty trophy case is the customer id alone.
        #expect(
            try TrophyCase(decoding: TrophyCaseWriter.encode(customerId: "c", entries: []))
                == TrophyCase(customerId: "c", entries: []))
        // A long customer id needs a two-byte length varint.
        let long = String(repeating: "x", count: 200)
        #expect(try TrophyCase(decoding: TrophyCaseWriter.encode(customerId: long, entries: [])).customerId == long)
    }

    @Test("hand-written IssueResponse around a stored award record decodes to the same result")
    func issueReply() throws {
        let award = Award(
            awardId: 42, customerId: "c-9", badgeId: "gold", earnedAtMs: 1_780_000_000_000,
            expiresAtMs: 1_790_000_000_000,
            evidence: "spend 1,240.00 >= 1,000.00", evidenceFields: ["k": "v"], requestId: "r-1")
        for replayed in [false, true] {
            let written = IssueReplyWriter.encode(awardRecord: award.encoded(), replayed: replayed)
            #expect(try IssueResult(decoding: written) == IssueResult(award: award, replayed: replayed))
        }
    }
}
