import BadgeCodec
import BadgeModel
import BadgeStore
import BadgeTestSupport
import Testing

@testable import BadgeService

/// A non-repeatable badge's states remember that its rules awarded it (`heldUntilMs`), so that
/// later completions need not read the customer's awards. These check that the mark never changes
/// a decision: whatever happens to the awards (revoked, expired, issued by hand, the badge made
/// repeatable and back), an event that completes the badge awards it exactly when the customer
/// does not hold it.
@Suite("Held marks on criterion states")
struct HeldMarkTests {
    static let hour: Int64 = 3_600_000

    static func badges(repeatable: Bool = false) -> [BadgeDefinition] {
        [
            BadgeDefinition(
                id: "once", name: "Once", repeatable: repeatable,
                criteria: Criteria(criteria: [Criterion(key: "n", eventType: "visit", target: 1)])),
            BadgeDefinition(
                id: "yearly", name: "Yearly", expiresAfterMs: 5 * hour,
                criteria: Criteria(criteria: [
                    Criterion(key: "a", eventType: "visit", target: 2),
                    Criterion(key: "b", eventType: "buy", target: 1),
                ])),
        ]
    }

    @Test("an award by the rules marks the badge's states held until the award expires")
    func markSetAndCleared() async throws {
        try await withHarness { harness in
            for badge in Self.badges() { try await harness.putBadge(badge) }
            let now = ServiceHarness.startMs
            for (index, type) in ["visit", "visit", "buy"].enumerated() {
                _ = try await callback {
                    harness.service.evaluate(
                        ActivityEvent(eventId: "e\(index)", customerId: "c", type: type, occurredAtMs: now),
                        completion: $0)
                }.get()
            }
            func marks(_ badge: String) throws -> [Int64] {
                try harness.store.read { txn throws(BadgeError) in
                    try harness.store.criterionStates(txn, customerId: "c", badgeId: badge)
                }.values.map(\.heldUntilMs).sorted()
            }
            #expect(try marks("once") == [.max])
            let yearly = try #require(try harness.allAwards().first { $0.badgeId == "yearly" })
            #expect(try marks("yearly").allSatisfy { $0 >= yearly.expiresAtMs && $0 < yearly.expiresAtMs + 1_000 })
            _ = try await harness.service.revoke(RevokeRequest(customerId: "c", badgeId: "yearly", reason: "t"))
            #expect(try marks("yearly") == [0, 0])
            #expect(try marks("once") == [.max], "only the revoked badge's marks go")
        }
    }

    @Test("a revocation clears the mark of a state under a criterion key spelled in other Unicode bytes")
    func markClearedUnderEquivalentKey() async throws {
        try await withHarness { harness in
            // Two criterion keys that are equal `String`s but different store keys.
            func badge(_ key: String) -> BadgeDefinition {
                BadgeDefinition(
                    id: "cafe", name: "Cafe",
                    criteria: Criteria(criteria: [Criterion(key: key, eventType: "visit", target: 1)]))
            }
            func evaluate(_ eventId: String) async throws -> EvaluateResult {
                try await callback {
                    harness.service.evaluate(
                        ActivityEvent(
                            eventId: eventId, customerId: "c", type: "visit", occurredAtMs: harness.clock.nowMs),
                        completion: $0)
                }.get()
            }
            try await harness.putBadge(badge("cafe\u{301}"))
            #expect(try await evaluate("e1").awarded.count == 1)  // marks the state under "cafe\u{301}"
            try await harness.putBadge(badge("caf\u{E9}"), replace: true)
            #expect(try await evaluate("e2").awarded.isEmpty)  // held: a state under "caf\u{E9}", unmarked
            _ = try await harness.service.revoke(RevokeRequest(customerId: "c", badgeId: "cafe", reason: "r"))
            try await harness.putBadge(badge("cafe\u{301}"), replace: true)
            #expect(try await evaluate("e3").awarded.count == 1, "not held after the revocation")
        }
    }

    @Test(
        "with random revocations, hand issues, expiries and definition changes, a completion awards exactly when not held",
        arguments: 1...4)
    func decisionsUnchanged(seed: UInt64) async throws {
        var random = SplitMix64(state: seed)
        try await withHarness { harness in
            for badge in Self.badges() { try await harness.putBadge(badge) }
            let customers = ["c1", "c2", "c3"]
            func held(_ customer: String, _ badge: String) throws -> Bool {
                let now = harness.clock.nowMs
                return try harness.allAwards().contains {
                    $0.customerId == customer && $0.badgeId == badge && $0.isCurrent(atMs: now)
                }
            }
            for step in 0..<160 {
                let customer = customers.randomElement(using: &random)!
                switch Int.random(in: 0..<10, using: &random) {
                case 0:
                    // Revoke one current award, by id or by badge.
                    let now = harness.clock.nowMs
                    if let award = try harness.allAwards().filter({
                        $0.customerId == customer && $0.isCurrent(atMs: now)
                    })
                    .randomElement(using: &random) {
                        let request =
                            Bool.random(using: &random)
                            ? RevokeRequest(customerId: customer, awardId: award.awardId, reason: "r")
                            : RevokeRequest(customerId: customer, badgeId: award.badgeId, reason: "r")
                        _ = try await harness.service.revoke(request)
                    }
                case 1:
                    // By hand: refused while held, as the rules would.
                    _ = try? await harness.issue(customer, ["once", "yearly"].randomElement(using: &random)!)
                case 2:
                    harness.clock.advance(by: Int64.random(in: 1...3, using: &random) * Self.hour)
                case 3 where step % 40 == 3:
                    // Repeatable for a while and back: marks made meanwhile must still hold.
                    let repeatable = try harness.storedBadge("once")?.repeatable ?? false
                    try await harness.putBadge(Self.badges(repeatable: !repeatable)[0], replace: true)
                default:
                    let heldBefore = ["once": try held(customer, "once"), "yearly": try held(customer, "yearly")]
                    let repeatable = try harness.storedBadge("once")?.repeatable ?? false
                    let type = Int.random(in: 0..<3, using: &random) == 0 ? "buy" : "visit"
                    let result = try await callback {
                        harness.service.evaluate(
                            ActivityEvent(
                                eventId: "s\(seed)-\(step)", customerId: customer, type: type,
                                occurredAtMs: harness.clock.nowMs),
                            completion: $0)
                    }.get()
                    for badge in ["once", "yearly"] where !(badge == "once" && repeatable) {
                        let changes = result.progress.filter { $0.badgeId == badge }
                        guard !changes.isEmpty else { continue }
                        let states = try harness.store.read { txn throws(BadgeError) in
                            try harness.store.criterionStates(txn, customerId: customer, badgeId: badge)
                        }
                        let criteria = Self.badges()[badge == "once" ? 0 : 1].criteria!.criteria
                        // Complete: every criterion's progress now (the states after this event).
                        let complete = criteria.allSatisfy { criterion in
                            (states[criterion.key]?.count ?? 0) >= criterion.target
                        }
                        let awarded = result.awarded.contains { $0.badgeId == badge }
                        if heldBefore[badge]! {
                            #expect(!awarded, "seed \(seed) step \(step): \(badge) awarded to \(customer) holding it")
                        } else if complete {
                            #expect(awarded, "seed \(seed) step \(step): \(badge) complete, not held, not awarded")
                        }
                    }
                }
            }
        }
    }
}
