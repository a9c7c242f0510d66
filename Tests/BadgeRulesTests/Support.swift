import BadgeModel
import BadgeTestSupport
import Testing

func award(
    _ id: UInt64, customer: String = "c1", badge: String = "b", earnedAtMs: Int64 = 1_000, expiresAtMs: Int64 = 0,
    revokedAtMs: Int64 = 0
) -> Award {
    Award(
        awardId: id, customerId: customer, badgeId: badge, earnedAtMs: earnedAtMs, expiresAtMs: expiresAtMs,
        requestId: "r\(id)", revokedAtMs: revokedAtMs, revokeReason: revokedAtMs == 0 ? "" : "test")
}
