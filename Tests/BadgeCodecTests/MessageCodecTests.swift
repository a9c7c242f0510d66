import BadgeCodec
import BadgeModel
import Testing

@Suite("Request and reply messages")
struct MessageCodecTests {
    @Test(arguments: [false, true])
    func putBadgeRequest(replace: Bool) throws {
        let request = PutBadgeRequest(badge: fullBadge(), replace: replace)
        let decoded = try roundTrip(request)
        #expect(decoded == request)
        #expect(decoded.replace == replace)
        #expect(decoded.badge == fullBadge())
    }

    @Test(arguments: [false, true])
    func putBadgeResult(created: Bool) throws {
        let result = PutBadgeResult(badge: fullBadge(), created: created)
        #expect(try roundTrip(result) == result)
    }

    @Test func getBadgeRequest() throws {
        #expect(try roundTrip(GetBadgeRequest(badgeId: "gold-elite")).badgeId == "gold-elite")
        #expect(try roundTrip(GetBadgeRequest(badgeId: "")).badgeId == "")
    }

    @Test func badgeReply() throws {
        let reply = BadgeReply(badge: fullBadge())
        #expect(try roundTrip(reply) == reply)
    }

    @Test func deactivateBadgeRequestAndReply() throws {
        #expect(try roundTrip(DeactivateBadgeRequest(badgeId: "night-owl")).badgeId == "night-owl")
        var badge = fullBadge()
        badge.status = .inactive
        let reply = DeactivateBadgeReply(badge: badge)
        #expect(try roundTrip(reply) == reply)
    }

    @Test(arguments: [false, true])
    func listBadgesRequest(includeInactive: Bool) throws {
        #expect(try roundTrip(ListBadgesRequest(includeInactive: includeInactive)).includeInactive == includeInactive)
    }

    @Test func listBadgesReply() throws {
        let reply = ListBadgesReply(
            badges: [fullBadge(id: "a"), BadgeDefinition(id: "b", name: "B"), fullBadge(id: "c")])
        let decoded = try roundTrip(reply)
        #expect(decoded == reply)
        #expect(decoded.badges.map(\.id) == ["a", "b", "c"])
        #expect(try roundTrip(ListBadgesReply(badges: [])).badges.isEmpty)
    }

    @Test(arguments: AwardSource.allCases)
    func issueRequest(source: AwardSource) throws {
        let request = IssueRequest(
            customerId: "cust-1", badgeId: "gold-elite", requestId: "req-1", source: source, evidence: "tier change",
            evidenceFields: ["tier": "gold", "from": "silver"])
        #expect(try roundTrip(request) == request)
    }

    /// Unpacking takes its memory from a 1 KiB stack buffer and spills what does not fit to malloc:
    /// messages that fill it many times over, and ones that end right around its size, decode whole.
    @Test(arguments: [0, 600, 700, 800, 900, 1_000, 4_096])
    func largeIssueRequestSpillsPastTheUnpackArena(evidenceBytes: Int) throws {
        let request = IssueRequest(
            customerId: String(repeating: "c", count: 128), badgeId: "gold-elite",
            requestId: String(repeating: "r", count: 128), source: .api,
            evidence: String(repeating: "e", count: evidenceBytes))
        #expect(try roundTrip(request) == request)
        var withFields = request
        withFields.evidenceFields = Dictionary(
            uniqueKeysWithValues: (0..<64).map { ("field-\($0)", String(repeating: "v", count: $0 * 8)) })
        #expect(try roundTrip(withFields) == withFields)
    }

    @Test(arguments: [false, true])
    func issueResult(replayed: Bool) throws {
        let result = IssueResult(award: fullAward(), replayed: replayed)
        #expect(try roundTrip(result) == result)
    }

    @Test func revokeRequest() throws {
        let byAward = RevokeRequest(customerId: "c1", awardId: 77, reason: "mistake", actor: "agent:bo")
        #expect(try roundTrip(byAward) == byAward)
        let byBadge = RevokeRequest(customerId: "c1", badgeId: "gold", reason: "downgrade", actor: "")
        #expect(try roundTrip(byBadge) == byBadge)
        let full = RevokeRequest(customerId: "c1", awardId: UInt64.max, badgeId: "gold", reason: "r", actor: "a")
        #expect(try roundTrip(full) == full)
    }

    @Test func revokeReply() throws {
        let reply = RevokeReply(revoked: [fullAward(id: 1), fullAward(id: 2)])
        #expect(try roundTrip(reply) == reply)
        #expect(try roundTrip(RevokeReply(revoked: [])).revoked.isEmpty)
    }

    @Test func listRequest() throws {
        #expect(try roundTrip(ListRequest(customerId: "客户-1")).customerId == "客户-1")
    }

    @Test func trophyCaseWithEntries() throws {
        var earnedAward = fullAward(id: 3)
        earnedAward.revokedAtMs = 0
        earnedAward.revokeReason = ""
        earnedAward.revokedBy = ""
        let trophyCase = TrophyCase(
            customerId: "cust-1",
            entries: [
                TrophyCaseEntry(badge: fullBadge(id: "gold"), state: .earned, awards: [earnedAward, fullAward(id: 4)]),
                TrophyCaseEntry(badge: BadgeDefinition(id: "silver", name: "Silver"), state: .locked, awards: []),
                TrophyCaseEntry(badge: BadgeDefinition(id: "bronze", name: "Bronze"), state: .locked, awards: []),
            ])
        let decoded = try roundTrip(trophyCase)
        #expect(decoded == trophyCase)
        #expect(decoded.entries.map(\.state) == [.earned, .locked, .locked])
        #expect(decoded.entries[0].awards.map(\.awardId) == [3, 4])
    }

    @Test func emptyTrophyCase() throws {
        let trophyCase = TrophyCase(customerId: "nobody", entries: [])
        #expect(try roundTrip(trophyCase) == trophyCase)
    }

    @Test func exportAwardsRequestAndChunk() throws {
        let request = ExportAwardsRequest(afterAwardId: 1_000_000, chunkSize: 512)
        #expect(try roundTrip(request) == request)
        #expect(try roundTrip(ExportAwardsRequest()) == ExportAwardsRequest())
        let chunk = ExportAwardsChunk(awards: (1...5).map { fullAward(id: $0, customerId: "c\($0)") })
        let decoded = try roundTrip(chunk)
        #expect(decoded == chunk)
        #expect(decoded.awards.map(\.awardId) == [1, 2, 3, 4, 5])
    }

    @Test func activityEvent() throws {
        let event = ActivityEvent(
            eventId: "evt-1", customerId: "cust-1", type: "purchase", occurredAtMs: 1_700_000_000_000,
            timeZone: "Europe/Paris", amount: 129.95, attributes: ["channel": "pos", "store": "Lyon 2"], dryRun: true)
        let decoded = try roundTrip(event)
        #expect(decoded == event)
        #expect(decoded.amount == 129.95)
        #expect(decoded.dryRun)

        let negative = ActivityEvent(eventId: "e", customerId: "c", type: "refund", amount: -0.5)
        #expect(try roundTrip(negative) == negative)
    }

    @Test func evaluateResult() throws {
        let reply = EvaluateResult(
            awarded: [fullAward(id: 8)],
            progress: [
                ProgressChange(
                    badgeId: "b", progress: Progress(key: "k", current: 2, target: 3, complete: false, text: "2 / 3"))
            ], replayed: true)
        #expect(try roundTrip(reply) == reply)
        #expect(try roundTrip(EvaluateResult(awarded: [], progress: [])).awarded.isEmpty)
    }

    @Test func criteriaRoundTrip() throws {
        let criteria = Criteria(
            combine: .any,
            criteria: [
                Criterion(
                    key: "night", eventType: "purchase",
                    conditions: [
                        Condition(attribute: "channel", op: .in, values: ["store", "app"]),
                        Condition(attribute: "amount", op: .gte, number: 10.5),
                    ], aggregate: .count, target: 3, window: .rollingDays, windowDays: 30,
                    timeOfDay: TimeOfDayWindow(startMinute: 1320, endMinute: 300), daysOfWeek: [6, 7], unit: "nights"),
                Criterion(
                    key: "tier", eventType: "tier_changed", aggregate: .state, attribute: "tier", stateValue: "GOLD"),
                Criterion(key: "streak", eventType: "visit", aggregate: .streak, target: 7, streakUnit: .weeks),
            ], prerequisites: ["new-member"], timeZone: "Europe/Paris")
        #expect(try roundTrip(criteria) == criteria)
        let badge = BadgeDefinition(id: "b", name: "B", criteria: criteria)
        #expect(try roundTrip(badge) == badge)
        #expect(try roundTrip(BadgeDefinition(id: "b", name: "B")).criteria == nil)
    }

    @Test func criterionStateRoundTrip() throws {
        var state = CriterionState(fingerprint: 0xDEAD_BEEF_1234)
        state.count = 3
        state.sum = 1240.5
        state.distinct = ["a": 10, "b": 12]
        state.buckets = [.init(period: 100, count: 2, sum: 20), .init(period: 101, count: 1, sum: 5)]
        state.runs = [.init(start: 1, end: 3), .init(start: 5, end: 9)]
        state.stateValue = "GOLD"
        state.stateTimeMs = 77
        state.recent = ["r-11", "r-12"]
        state.rounds = 2
        #expect(try roundTrip(state) == state)
    }

    @Test func healthRequestAndInfo() throws {
        _ = try roundTrip(HealthRequest())
        #expect(HealthRequest().encoded().isEmpty)
        let info = HealthInfo(
            version: "1.2.3-dev", protocolVersion: 1, startedAtMs: 1_700_000_000_000, uptimeMs: 86_400_000,
            badges: 12, awards: 9_876_543_210)
        #expect(try roundTrip(info) == info)
    }

    @Test func protoNamesNameTheContractMessages() {
        #expect(PutBadgeRequest.protoName == "badges.v1.PutBadgeRequest")
        #expect(IssueRequest.protoName == "badges.v1.IssueRequest")
        #expect(TrophyCase.protoName == "badges.v1.ListResponse")
        #expect(ActivityEvent.protoName == "badges.v1.EvaluateRequest")
    }
}
