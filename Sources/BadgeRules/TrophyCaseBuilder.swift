import BadgeModel

/// Assembles a trophy case from the catalogue and one customer's awards.
public enum TrophyCaseBuilder {
    /// - Parameters:
    ///   - catalogue: every badge, in any order.
    ///   - awards: all of the customer's awards, in any order; revoked and expired ones are skipped.
    /// - Returns: earned badges (any status) in display order, each with its current awards oldest
    ///   first; then active badges not held whose window has not closed, in display order.
    ///   - states: the customer's criteria states, by badge id then criterion key.
    ///   - timeZone: the customer's zone, if known (else each badge's own).
    ///   - awardsPerBadge: how many of each badge's current awards to list (the newest); every
    ///     entry's `awardCount` counts them all.
    public static func build(
        customerId: String, catalogue: [BadgeDefinition], awards: [Award], nowMs: Int64,
        states: [String: [String: CriterionState]] = [:], timeZone: String = "",
        awardsPerBadge: Int = Limits.defaultAwardsPerBadge
    ) -> TrophyCase {
        var current: [String: [Award]] = [:]
        for award in awards where award.isCurrent(atMs: nowMs) {
            current[award.badgeId, default: []].append(award)
        }
        var earned: [TrophyCaseEntry] = []
        var locked: [TrophyCaseEntry] = []
        for badge in catalogue.sorted(by: BadgeDefinition.displayOrder) {
            var progress: [Progress] = []
            var criteriaText = ""
            if let criteria = badge.criteria {
                criteriaText = BadgeEvaluator.describe(criteria)
                // A held non-repeatable badge has nothing left to make progress toward.
                if current[badge.id] == nil || badge.repeatable {
                    progress = BadgeEvaluator.progress(
                        criteria, states: states[badge.id] ?? [:], nowMs: nowMs,
                        timeZone: timeZone.isEmpty ? criteria.timeZone : timeZone)
                }
            }
            if let held = current[badge.id] {
                earned.append(
                    TrophyCaseEntry(
                        badge: badge, state: .earned,
                        awards: Array(held.sorted { $0.awardId < $1.awardId }.suffix(awardsPerBadge)),
                        awardCount: held.count, progress: progress,
                        criteriaText: criteriaText))
            } else if isEarnable(badge, atMs: nowMs) {
                locked.append(
                    TrophyCaseEntry(
                        badge: badge, state: .locked, awards: [], progress: progress, criteriaText: criteriaText))
            }
        }
        return TrophyCase(customerId: customerId, entries: earned + locked)
    }

    /// Active and not past its window: shown as locked rather than hidden. A badge whose window has
    /// not opened yet shows as locked too ("coming soon").
    public static func isEarnable(_ badge: BadgeDefinition, atMs now: Int64) -> Bool {
        badge.status == .active && (badge.validUntilMs == 0 || now < badge.validUntilMs)
            && (badge.expiresAtMs == 0 || now < badge.expiresAtMs)
    }

    /// The first instant after `now` at which `isEarnable` may answer differently for `badge`
    /// (`Int64.max`: never, unless the badge itself is rewritten).
    public static func earnableChangesAfter(_ badge: BadgeDefinition, atMs now: Int64) -> Int64 {
        guard badge.status == .active else { return .max }
        var next = Int64.max
        for end in [badge.validUntilMs, badge.expiresAtMs] where end > now { next = min(next, end) }
        return next
    }
}
