import BadgeModel
import BadgeRules
import BadgeTestSupport
import Testing

private let now: Int64 = 1_700_000_000_000

private func check(
    _ badge: BadgeDefinition, awards: [Award] = [], globalCount: UInt64 = 0, at nowMs: Int64 = now
) throws {
    try IssuePolicy.check(
        IssuePolicy.Context(badge: badge, customerAwards: awards, globalCount: globalCount, nowMs: nowMs))
}

@Suite("IssuePolicy.check")
struct IssuePolicyCheckTests {
    @Test func plainActiveBadgeIsIssued() throws {
        try check(BadgeDefinition(id: "b", name: "B"))
    }

    @Test func inactiveBadgeIsRefused() {
        let badge = BadgeDefinition(id: "b", name: "B", status: .inactive)
        let error = expectBadgeError(.failedPrecondition, reason: "badge_inactive") { try check(badge) }
        #expect(error?.message.contains("b") == true)
    }

    @Test func beforeValidFromIsRefusedAndTheBoundaryIsAccepted() throws {
        let badge = BadgeDefinition(id: "b", name: "B", validFromMs: now)
        expectBadgeError(.failedPrecondition, reason: "badge_not_yet_valid") { try check(badge, at: now - 1) }
        try check(badge, at: now)
        try check(badge, at: now + 1)
    }

    @Test func atOrAfterValidUntilIsRefused() throws {
        let badge = BadgeDefinition(id: "b", name: "B", validUntilMs: now)
        try check(badge, at: now - 1)
        expectBadgeError(.failedPrecondition, reason: "badge_window_closed") { try check(badge, at: now) }
        expectBadgeError(.failedPrecondition, reason: "badge_window_closed") { try check(badge, at: now + 1) }
    }

    @Test func insideAWindowIsAccepted() throws {
        let badge = BadgeDefinition(id: "b", name: "B", validFromMs: now - 10, validUntilMs: now + 10)
        try check(badge, at: now - 10)
        try check(badge, at: now + 9)
        expectBadgeError(.failedPrecondition, reason: "badge_not_yet_valid") { try check(badge, at: now - 11) }
        expectBadgeError(.failedPrecondition, reason: "badge_window_closed") { try check(badge, at: now + 10) }
    }

    @Test func passedAbsoluteExpiryIsRefused() throws {
        let badge = BadgeDefinition(id: "b", name: "B", expiresAtMs: now)
        try check(badge, at: now - 1)
        expectBadgeError(.failedPrecondition, reason: "award_would_be_expired") { try check(badge, at: now) }
        expectBadgeError(.failedPrecondition, reason: "award_would_be_expired") { try check(badge, at: now + 5) }
    }

    @Test func relativeExpiryNeverRefuses() throws {
        try check(BadgeDefinition(id: "b", name: "B", expiresAfterMs: 1), at: Int64.max - 1)
    }

    @Test func nonRepeatableHeldIsRefused() {
        let badge = BadgeDefinition(id: "b", name: "B")
        let error = expectBadgeError(.alreadyExists, reason: "already_held") {
            try check(badge, awards: [award(7)])
        }
        #expect(error?.message.contains("c1") == true)
        #expect(error?.message.contains("7") == true)
    }

    @Test func nonRepeatableWithUnexpiredAwardIsRefused() {
        let badge = BadgeDefinition(id: "b", name: "B")
        expectBadgeError(.alreadyExists, reason: "already_held") {
            try check(badge, awards: [award(1, expiresAtMs: now + 1)])
        }
    }

    @Test func nonRepeatableAgainAfterRevocation() throws {
        let badge = BadgeDefinition(id: "b", name: "B")
        try check(badge, awards: [award(1, revokedAtMs: now - 1)])
        try check(badge, awards: [award(1, revokedAtMs: now - 5), award(2, revokedAtMs: now - 1)])
    }

    @Test func nonRepeatableAgainAfterExpiry() throws {
        let badge = BadgeDefinition(id: "b", name: "B")
        try check(badge, awards: [award(1, expiresAtMs: now)])
        try check(badge, awards: [award(1, expiresAtMs: now - 1_000)])
    }

    @Test func nonRepeatableWithOneCurrentAmongOldOnesIsRefused() {
        let badge = BadgeDefinition(id: "b", name: "B")
        let history = [award(1, revokedAtMs: now - 5), award(2, expiresAtMs: now - 1), award(3)]
        expectBadgeError(.alreadyExists, reason: "already_held") { try check(badge, awards: history) }
    }

    @Test func repeatableWithoutLimitIsAlwaysIssued() throws {
        let badge = BadgeDefinition(id: "b", name: "B", repeatable: true)
        try check(badge, awards: (1...100).map { award($0) })
    }

    @Test func repeatableLimitCountsUnrevokedAwards() throws {
        let badge = BadgeDefinition(id: "b", name: "B", repeatable: true, maxPerCustomer: 3)
        try check(badge, awards: [award(1), award(2)])
        // A revoked award frees its place.
        try check(badge, awards: [award(1), award(2), award(3, revokedAtMs: now - 1)])
        let error = expectBadgeError(.resourceExhausted, reason: "customer_limit_reached") {
            try check(badge, awards: [award(1), award(2), award(3)])
        }
        #expect(error?.message.contains("c1") == true)
        #expect(error?.message.contains("3") == true)
    }

    @Test func repeatableLimitCountsExpiredAwards() {
        // A lifetime limit: expired awards still count.
        let badge = BadgeDefinition(id: "b", name: "B", repeatable: true, maxPerCustomer: 2)
        expectBadgeError(.resourceExhausted, reason: "customer_limit_reached") {
            try check(badge, awards: [award(1, expiresAtMs: now - 10), award(2, expiresAtMs: now - 5)])
        }
    }

    @Test func repeatableWithLimitOfOne() throws {
        let badge = BadgeDefinition(id: "b", name: "B", repeatable: true, maxPerCustomer: 1)
        try check(badge)
        expectBadgeError(.resourceExhausted, reason: "customer_limit_reached") {
            try check(badge, awards: [award(1, expiresAtMs: now - 10)])
        }
    }

    @Test func globalCapRefusesAtTheCapAndAcceptsBelowIt() throws {
        let badge = BadgeDefinition(id: "b", name: "B", globalCap: 5)
        try check(badge, globalCount: 0)
        try check(badge, globalCount: 4)
        let error = expectBadgeError(.resourceExhausted, reason: "global_cap_reached") {
            try check(badge, globalCount: 5)
        }
        #expect(error?.message.contains("5") == true)
        expectBadgeError(.resourceExhausted, reason: "global_cap_reached") { try check(badge, globalCount: 6) }
    }

    @Test func globalCapAppliesToRepeatableBadges() {
        let badge = BadgeDefinition(id: "b", name: "B", repeatable: true, maxPerCustomer: 10, globalCap: 1)
        expectBadgeError(.resourceExhausted, reason: "global_cap_reached") {
            try check(badge, awards: [award(1)], globalCount: 1)
        }
    }

    @Test func zeroGlobalCapMeansNoCap() throws {
        try check(BadgeDefinition(id: "b", name: "B", globalCap: 0), globalCount: UInt64.max)
    }
}

@Suite("IssuePolicy.expiry")
struct IssuePolicyExpiryTests {
    @Test func relativeExpiryIsAddedToTheEarningTime() {
        let badge = BadgeDefinition(id: "b", expiresAfterMs: 86_400_000)
        #expect(IssuePolicy.expiry(of: badge, earnedAtMs: now) == now + 86_400_000)
        #expect(IssuePolicy.expiry(of: badge, earnedAtMs: 0) == 86_400_000)
    }

    @Test func absoluteExpiryIgnoresTheEarningTime() {
        let badge = BadgeDefinition(id: "b", expiresAtMs: now + 5)
        #expect(IssuePolicy.expiry(of: badge, earnedAtMs: now) == now + 5)
        #expect(IssuePolicy.expiry(of: badge, earnedAtMs: 1) == now + 5)
    }

    @Test func noExpiryIsZero() {
        #expect(IssuePolicy.expiry(of: BadgeDefinition(id: "b"), earnedAtMs: now) == 0)
        // A huge expires_after_ms (stored before times were bounded) never wraps into the past.
        #expect(IssuePolicy.expiry(of: BadgeDefinition(id: "b", expiresAfterMs: .max), earnedAtMs: now) == .max)
    }
}

@Suite("IssuePolicy.needsTally")
struct IssuePolicyNeedsTallyTests {
    /// The writer skips reading a customer's awards when `needsTally` says so: that is only sound if
    /// `check` then decides the same whatever those awards are.
    @Test("when the tally is not needed, no tally changes the decision; when it is, one does", arguments: 1...3)
    func skippingTheTallyNeverChangesADecision(seed: UInt64) {
        var random = SplitMix64(state: seed)
        var sawSkipped = false
        var sawNeeded = false
        for _ in 0..<400 {
            let badge = BadgeDefinition(
                id: "b", repeatable: Bool.random(using: &random),
                maxPerCustomer: [0, 0, 1, 3].randomElement(using: &random)!,
                globalCap: [0, 0, 5].randomElement(using: &random)!)
            var tally = AwardTally()
            for index in 0..<Int.random(in: 0...4, using: &random) {
                tally.count(
                    awardId: UInt64(index + 1), expiresAtMs: 0, revokedAtMs: Bool.random(using: &random) ? now - 1 : 0,
                    nowMs: now)
            }
            let globalCount = UInt64.random(in: 0...6, using: &random)
            func allowed(_ tally: AwardTally) -> Bool {
                (try? IssuePolicy.check(
                    IssuePolicy.Context(
                        badge: badge, customerId: "c", tally: tally, globalCount: globalCount, nowMs: now)
                )) != nil
            }
            if IssuePolicy.needsTally(badge) {
                sawNeeded = true
            } else {
                sawSkipped = true
                #expect(allowed(tally) == allowed(AwardTally()), "\(badge) \(tally)")
            }
        }
        #expect(sawSkipped && sawNeeded)
        // And the tally does matter for the badges that need it.
        var held = AwardTally()
        held.count(awardId: 1, expiresAtMs: 0, revokedAtMs: 0, nowMs: now)
        for badge in [BadgeDefinition(id: "once"), BadgeDefinition(id: "capped", repeatable: true, maxPerCustomer: 1)] {
            #expect(IssuePolicy.needsTally(badge))
            let context = IssuePolicy.Context(badge: badge, customerId: "c", tally: held, globalCount: 0, nowMs: now)
            #expect(throws: BadgeError.self) { try IssuePolicy.check(context) }
        }
    }
}

@Suite("IssuePolicy.refusal")
struct IssuePolicyRefusalTests {
    /// `refusal` (what Evaluate asks, without words) decides exactly as `check` does, and the
    /// error it words is the one `check` throws.
    @Test func refusalAgreesWithCheck() {
        var random = SplitMix64(state: 11)
        var seen: Set<String> = []
        for _ in 0..<2_000 {
            let badge = BadgeDefinition(
                id: "b", status: Int.random(in: 0..<8, using: &random) == 0 ? .inactive : .active,
                validFromMs: [0, 0, now - 5, now + 5].randomElement(using: &random)!,
                validUntilMs: [0, 0, now, now + 5].randomElement(using: &random)!,
                repeatable: Bool.random(using: &random), maxPerCustomer: [0, 1, 3].randomElement(using: &random)!,
                globalCap: [0, 5].randomElement(using: &random)!,
                expiresAtMs: [0, 0, now - 1, now + 5].randomElement(using: &random)!)
            var tally = AwardTally()
            for index in 0..<Int.random(in: 0...4, using: &random) {
                tally.count(
                    awardId: UInt64(index + 1), expiresAtMs: 0, revokedAtMs: Bool.random(using: &random) ? now - 1 : 0,
                    nowMs: now)
            }
            let context = IssuePolicy.Context(
                badge: badge, customerId: "c", tally: tally, globalCount: UInt64.random(in: 0...6, using: &random),
                nowMs: now)
            let refusal = IssuePolicy.refusal(context)
            do throws(BadgeError) {
                try IssuePolicy.check(context)
                #expect(refusal == nil, "\(badge) \(tally)")
                seen.insert("issued")
            } catch {
                #expect(refusal.map { $0.error(context) } == error, "\(badge) \(tally)")
                seen.insert(error.reason)
            }
        }
        // Every rule was met at least once.
        #expect(
            seen == [
                "issued", "badge_inactive", "badge_not_yet_valid", "badge_window_closed", "award_would_be_expired",
                "customer_limit_reached", "already_held", "global_cap_reached",
            ])
    }
}
