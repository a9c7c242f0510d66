import BadgeModel

/// Assembles a trophy case from the catalogue and one customer's awards.
public enum TrophyCaseBuilder {
    /// - Parameters:
    ///   - catalogue: every badge, in any order.
    ///   - awards: all of the customer's awards, in any order; revoked and expired ones are skipped.
    /// - Returns: earned badges (any status) in display order, each with its current awards oldest
    ///   first; then active badges not held whose window has not closed, in display order.
    public static func build(
        customerId: String, catalogue: [BadgeDefinition], awards: [Award], nowMs: Int64
    ) -> TrophyCase {
        var current: [String: [Award]] = [:]
        for award in awards where award.isCurrent(atMs: nowMs) {
            current[award.badgeId, default: []].append(award)
        }
        var earned: [TrophyCaseEntry] = []
        var locked: [TrophyCaseEntry] = []
        for badge in catalogue.sorted(by: BadgeDefinition.displayOrder) {
            if let held = current[badge.id] {
                earned.append(
                    TrophyCaseEntry(badge: badge, state: .earned, awards: held.sorted { $0.awardId < $1.awardId }))
            } else if isEarnable(badge, atMs: nowMs) {
                locked.append(TrophyCaseEntry(badge: badge, state: .locked, awards: []))
            }
        }
        return TrophyCase(customerId: customerId, entries: earned + locked)
    }

    /// Active and not past its window: shown as locked rather than hidden. A badge whose window has
    /// not opened yet shows as locked too ("coming soon").
    static func isEarnable(_ badge: BadgeDefinition, atMs now: Int64) -> Bool {
        badge.status == .active && (badge.validUntilMs == 0 || now < badge.validUntilMs)
            && (badge.expiresAtMs == 0 || now < badge.expiresAtMs)
    }
}
