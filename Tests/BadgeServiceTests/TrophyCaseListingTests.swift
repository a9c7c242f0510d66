import BadgeCodec
import BadgeModel
import BadgeService
import BadgeTestSupport
import Testing

/// List's reply is written straight from stored bytes (`encodedTrophyCase`); these check that it
/// says exactly what the reference assembly (`TrophyCaseBuilder`, via `trophyCase`) says.
@Suite("Trophy case listing")
struct TrophyCaseListingTests {
    @Test("the encoded trophy case equals the built one for random catalogues and award histories", arguments: 1...6)
    func encodedEqualsBuilt(seed: UInt64) async throws {
        var random = SplitMix64(state: seed)
        let harness = try ServiceHarness()
        defer { harness.close() }
        let now = ServiceHarness.startMs
        // Ids of different lengths, so award-key order (length first) differs from id order.
        let ids = ["b", "aa", "c", "zz-top", "a", "bb", "long-badge-id-0", "m", "gold", "x1"]
        for (index, id) in ids.enumerated() {
            var badge = BadgeDefinition(
                id: id, name: "Badge \(id)", rank: Int32.random(in: 0...3, using: &random),
                repeatable: Bool.random(using: &random), labels: ["n": "\(index)"])
            if index % 3 == 0 { badge.expiresAfterMs = 5_000 }
            if index % 4 == 1 {
                badge.criteria = Criteria(criteria: [
                    Criterion(key: "buys", eventType: "purchase", target: 3, unit: "purchases")
                ])
            }
            try await harness.putBadge(badge)
        }
        let customers = (0..<6).map { "cust-\($0)" }
        var issued: [(customer: String, award: Award)] = []
        for _ in 0..<40 {
            let customer = customers.randomElement(using: &random)!
            let badge = ids.randomElement(using: &random)!
            if let result = try? await harness.issue(customer, badge, evidence: "e") {
                issued.append((customer, result.award))
            }
        }
        for _ in 0..<8 {
            let customer = customers.randomElement(using: &random)!
            _ = try await harness.service.evaluate(
                ActivityEvent(
                    eventId: "ev-\(random.next())", customerId: customer, type: "purchase", occurredAtMs: now))
        }
        for (customer, award) in issued.shuffled(using: &random).prefix(8) {
            _ = try? await harness.service.revoke(
                RevokeRequest(customerId: customer, awardId: award.awardId, reason: "test"))
        }
        // Some badges end or are switched off; later some awards expire.
        try await harness.putBadge(BadgeDefinition(id: "m", name: "M", validUntilMs: now + 1_000), replace: true)
        _ = try await harness.service.deactivateBadge(id: "c")

        for step in 0..<2 {
            for customer in customers + ["nobody"] {
                let built = try harness.service.trophyCase(customerId: customer)
                let written = try TrophyCase(decoding: harness.service.encodedTrophyCase(customerId: customer))
                #expect(written == built, "seed \(seed), step \(step), \(customer)")
            }
            harness.clock.advance(by: 10_000)
        }
    }

    @Test("expiry and revocation are read without decoding the award; a cut record is refused")
    func corruptAwardRecord() throws {
        #expect(StoredAward.liveness(UnsafeRawBufferPointer(start: nil, count: 0)) != nil)
        let award = Award(
            awardId: 9, customerId: "c", badgeId: "b", earnedAtMs: 1, expiresAtMs: -5, evidence: "x",
            revokedAtMs: 1_700_000_000_000)
        award.encoded().withUnsafeBytes { bytes in
            let liveness = StoredAward.liveness(bytes)
            #expect(liveness?.expiresAtMs == -5)
            #expect(liveness?.revokedAtMs == 1_700_000_000_000)
            // Cut anywhere inside, the record is refused rather than misread.
            for cut in 1..<bytes.count {
                let prefix = UnsafeRawBufferPointer(rebasing: bytes[0..<cut])
                if (try? Award(decoding: prefix)) == nil {
                    #expect(StoredAward.liveness(prefix) == nil, "cut at \(cut)")
                }
            }
        }
    }
}
