import BadgeCodec
import BadgeModel
import BadgeTestSupport
import Testing

/// A badge with every field set to a non-default value, so a field dropped by the codec shows up.
func fullBadge(id: String = "gold-elite") -> BadgeDefinition {
    BadgeDefinition(
        id: id, name: "Gold Elite", description: "Reached the gold tier", icon: "https://cdn.example/gold.png",
        rank: -7, group: "tiers", status: .inactive, validFromMs: 1_600_000_000_000, validUntilMs: 1_900_000_000_000,
        repeatable: true, maxPerCustomer: 3, globalCap: 10_000_000_000, expiresAfterMs: 31_536_000_000,
        expiresAtMs: 1_950_000_000_000, labels: ["tier": "gold", "campaign": "spring", "a": ""],
        createdAtMs: 1_700_000_000_001, updatedAtMs: 1_700_000_000_002)
}

/// An award with evidence and revocation fields set.
func fullAward(id: UInt64 = 42, customerId: String = "cust-1", badgeId: String = "gold-elite") -> Award {
    Award(
        awardId: id, customerId: customerId, badgeId: badgeId, earnedAtMs: 1_700_000_000_123,
        expiresAtMs: 1_731_536_000_123, source: .retro, evidence: "order #991",
        evidenceFields: ["order": "991", "store": "Lyon 2", "amount": "129.90"], requestId: "req-\(id)",
        revokedAtMs: 1_710_000_000_000, revokeReason: "fraud review", revokedBy: "agent:martine")
}

/// Encodes then decodes `message`.
func roundTrip<M: WireMessage>(_ message: M) throws -> M {
    try M(decoding: message.encoded())
}

/// Strings and integers at the wire format's edges (empty, non-ASCII, long enough for a two-byte
/// length; zero, negatives, the ends of Int64), for the tests that compare a hand codec with
/// protobuf-c.
enum EdgeValues {
    static let texts = ["", "store-7", "r-11", "é/ü — ok", String(repeating: "long ", count: 40)]
    static let int64s: [Int64] = [0, 1, -1, 127, 128, 20_000, -20_000, Int64.max, Int64.min, 1_700_000_000_000]
}
