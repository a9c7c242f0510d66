/// What issuing needs to know about one customer's awards of one badge, without the awards.
public struct AwardTally: Sendable, Hashable {
    /// Awards not revoked, expired ones included.
    public var unrevoked = 0
    /// The oldest award held now (not revoked, not expired), if any.
    public var currentAwardId: UInt64?
    /// The first instant after now at which an unrevoked award counted here expires, so that
    /// `currentAwardId` may change (`Int64.max`: none). A decision taken from this tally holds
    /// until then.
    public var changesAtMs: Int64 = .max

    public init() {}

    /// Counts one award; call in award id order.
    public mutating func count(awardId: UInt64, expiresAtMs: Int64, revokedAtMs: Int64, nowMs: Int64) {
        guard revokedAtMs == 0 else { return }
        unrevoked += 1
        if expiresAtMs != 0, nowMs < expiresAtMs { changesAtMs = min(changesAtMs, expiresAtMs) }
        if currentAwardId == nil, expiresAtMs == 0 || nowMs < expiresAtMs { currentAwardId = awardId }
    }

    /// Holds the badge now.
    public var holds: Bool { currentAwardId != nil }
}
