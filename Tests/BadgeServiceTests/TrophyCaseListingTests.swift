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
                for shown in [0, 1, 2] as [UInt32] {
                    let built = try harness.service.trophyCase(customerId: customer, awardsPerBadge: shown)
                    let written = try TrophyCase(
                        decoding: harness.service.encodedTrophyCase(customerId: customer, awardsPerBadge: shown))
                    #expect(written == built, "seed \(seed), step \(step), \(customer), \(shown) per badge")
                }
            }
            harness.clock.advance(by: 10_000)
        }
    }

    @Test("a badge held many times lists its newest awards and counts them all", arguments: 1...3)
    func newestAwardsPerBadge(seed: UInt64) async throws {
        var random = SplitMix64(state: seed)
        let harness = try ServiceHarness()
        defer { harness.close() }
        // Ids whose award keys sort in another order than display order, so groups are trimmed
        // while the scan is still inside them and when it moves to the next badge.
        let ids = ["daily", "a", "weekly-visit", "zz"]
        for (rank, id) in ids.enumerated() {
            try await harness.putBadge(BadgeDefinition(id: id, name: id, rank: Int32(rank), repeatable: true))
        }
        var held: [String: [Award]] = [:]
        for _ in 0..<120 {
            let badge = ids.randomElement(using: &random)!
            held[badge, default: []].append(try await harness.issue("c", badge, evidence: "e").award)
        }
        // Revoked awards are neither listed nor counted.
        for badge in ids {
            guard let award = held[badge]?.randomElement(using: &random) else { continue }
            _ = try await harness.service.revoke(RevokeRequest(customerId: "c", awardId: award.awardId, reason: "t"))
            held[badge]?.removeAll { $0.awardId == award.awardId }
        }
        for shown in [1, 2, 3, 7, 20, 0, 1000] as [UInt32] {
            let limit = shown == 0 ? Limits.defaultAwardsPerBadge : Int(shown)
            let written = try TrophyCase(
                decoding: harness.service.encodedTrophyCase(customerId: "c", awardsPerBadge: shown))
            #expect(written == (try harness.service.trophyCase(customerId: "c", awardsPerBadge: shown)))
            for entry in written.entries {
                let all = held[entry.badge.id] ?? []
                #expect(entry.awardCount == all.count, "\(entry.badge.id), \(shown) per badge")
                #expect(entry.awards.map(\.awardId) == all.suffix(limit).map(\.awardId), "\(entry.badge.id)")
            }
        }
    }

    @Test("awards_per_badge above 1000 is refused, naming the field")
    func awardsPerBadgeLimit() async throws {
        let harness = try ServiceHarness()
        defer { harness.close() }
        let errors = [
            #expect(throws: BadgeError.self) {
                try harness.service.encodedTrophyCase(customerId: "c", awardsPerBadge: 1001)
            },
            #expect(throws: BadgeError.self) { try harness.service.trophyCase(customerId: "c", awardsPerBadge: 1001) },
        ]
        for error in errors {
            #expect(error?.code == .invalidArgument)
            #expect(error?.reason == "out_of_range")
            #expect(error?.message.contains("awards_per_badge is 1001") == true)
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
