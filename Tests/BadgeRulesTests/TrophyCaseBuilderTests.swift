import BadgeModel
import BadgeRules
import Testing

private let now: Int64 = 1_700_000_000_000

private func build(_ catalogue: [BadgeDefinition], _ awards: [Award], at nowMs: Int64 = now) -> TrophyCase {
    TrophyCaseBuilder.build(customerId: "c1", catalogue: catalogue, awards: awards, nowMs: nowMs)
}

private func summary(_ trophyCase: TrophyCase) -> [String] {
    trophyCase.entries.map { "\($0.badge.id):\($0.state.rawValue)" }
}

@Suite("TrophyCaseBuilder.build")
struct TrophyCaseBuilderTests {
    @Test func emptyCatalogueGivesAnEmptyCase() {
        let trophyCase = build([], [award(1, badge: "ghost")])
        #expect(trophyCase.customerId == "c1")
        #expect(trophyCase.entries.isEmpty)
    }

    @Test func earnedInRankOrderThenLockedInRankOrder() {
        let catalogue = [
            BadgeDefinition(id: "e", name: "E", rank: 5),
            BadgeDefinition(id: "a", name: "A", rank: 3),
            BadgeDefinition(id: "d", name: "D", rank: 1),
            BadgeDefinition(id: "b", name: "B", rank: 4),
            BadgeDefinition(id: "c", name: "C", rank: 2),
        ]
        let trophyCase = build(catalogue, [award(1, badge: "e"), award(2, badge: "a"), award(3, badge: "c")])
        #expect(summary(trophyCase) == ["c:earned", "a:earned", "e:earned", "d:locked", "b:locked"])
        #expect(trophyCase.entries.filter { $0.state == .locked }.allSatisfy { $0.awards.isEmpty })
        #expect(trophyCase.entries[0].awards.map(\.awardId) == [3])
    }

    @Test func negativeRanksComeFirst() {
        let catalogue = [BadgeDefinition(id: "z", name: "Z", rank: -1), BadgeDefinition(id: "a", name: "A", rank: 0)]
        #expect(summary(build(catalogue, [])) == ["z:locked", "a:locked"])
    }

    @Test func tiesAreBrokenById() {
        let catalogue = ["m", "b", "z", "a"].map { BadgeDefinition(id: $0, name: $0, rank: 7) }
        let awards = [award(1, badge: "z"), award(2, badge: "m")]
        #expect(summary(build(catalogue, awards)) == ["m:earned", "z:earned", "a:locked", "b:locked"])
    }

    @Test func revokedAndExpiredAwardsAreNotShown() {
        let catalogue = [
            BadgeDefinition(id: "revoked", name: "R", rank: 1), BadgeDefinition(id: "expired", name: "E", rank: 2),
            BadgeDefinition(id: "held", name: "H", rank: 3),
        ]
        let awards = [
            award(1, badge: "revoked", revokedAtMs: now - 1),
            award(2, badge: "expired", expiresAtMs: now),
            award(3, badge: "held", expiresAtMs: now + 1),
            award(4, badge: "held", revokedAtMs: now - 1),
        ]
        let trophyCase = build(catalogue, awards)
        #expect(summary(trophyCase) == ["held:earned", "revoked:locked", "expired:locked"])
        #expect(trophyCase.entries[0].awards.map(\.awardId) == [3])
    }

    @Test func inactiveHeldBadgeIsEarnedButInactiveUnheldIsNotLocked() {
        let catalogue = [
            BadgeDefinition(id: "retired-held", name: "RH", rank: 1, status: .inactive),
            BadgeDefinition(id: "retired", name: "R", rank: 2, status: .inactive),
            BadgeDefinition(id: "open", name: "O", rank: 3),
        ]
        let trophyCase = build(catalogue, [award(1, badge: "retired-held")])
        #expect(summary(trophyCase) == ["retired-held:earned", "open:locked"])
        #expect(trophyCase.entries[0].badge.status == .inactive)
    }

    @Test func closedWindowBadgeIsNotLockedButStaysEarnedWhenHeld() {
        let catalogue = [
            BadgeDefinition(id: "closed", name: "C", rank: 1, validUntilMs: now),
            BadgeDefinition(id: "closed-held", name: "CH", rank: 2, validUntilMs: now - 10),
            BadgeDefinition(id: "closing", name: "Soon", rank: 3, validUntilMs: now + 1),
            BadgeDefinition(id: "expiry-passed", name: "X", rank: 4, expiresAtMs: now),
        ]
        let trophyCase = build(catalogue, [award(1, badge: "closed-held")])
        #expect(summary(trophyCase) == ["closed-held:earned", "closing:locked"])
    }

    @Test func repeatableAwardsAreGroupedOldestFirst() {
        let catalogue = [
            BadgeDefinition(id: "visit", name: "Visit", rank: 1, repeatable: true),
            BadgeDefinition(id: "other", name: "Other", rank: 2),
        ]
        let awards = [
            award(9, badge: "visit"), award(2, badge: "visit"), award(5, badge: "other"), award(4, badge: "visit"),
            award(7, badge: "visit", revokedAtMs: now - 1),
        ]
        let trophyCase = build(catalogue, awards)
        #expect(summary(trophyCase) == ["visit:earned", "other:earned"])
        #expect(trophyCase.entries[0].awards.map(\.awardId) == [2, 4, 9])
        #expect(trophyCase.entries[1].awards.map(\.awardId) == [5])
    }

    @Test func awardsOfUnknownBadgesAreIgnored() {
        let catalogue = [BadgeDefinition(id: "known", name: "K")]
        #expect(summary(build(catalogue, [award(1, badge: "deleted")])) == ["known:locked"])
    }

    @Test func lockedEntriesCarryTheDefinition() {
        let badge = BadgeDefinition(id: "k", name: "Known", description: "d", icon: "i", rank: 3, labels: ["x": "y"])
        let trophyCase = build([badge], [])
        #expect(trophyCase.entries == [TrophyCaseEntry(badge: badge, state: .locked, awards: [])])
    }
}
