/// What issuing needs to know about one customer's awards of one badge, without the awards.
public struct AwardTally: Sendable, Hashable {
    /// Awards not revoked, expired ones included.
    public var unrevoked = 0
    /// The oldest award held now (not revoked, not expired), if any.
    public var currentAwardId: UInt64?

    public init() {}

    /// Counts one award; call in award id order.
    public mutating func count(awardId: UInt64, expiresAtMs: Int64, revokedAtMs: Int64, nowMs: Int64) {
        guard revokedAtMs == 0 else { return }
        unrevoked += 1
        if currentAwardId == nil, expiresAtMs == 0 || nowMs < expiresAtMs { currentAwardId = awardId }
    }

    /// Holds the badge now.
    public var holds: Bool { currentAwardId != nil }
}
