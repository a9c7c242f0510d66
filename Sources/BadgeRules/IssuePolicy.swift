import BadgeModel

/// The rules that decide whether a badge may be awarded, and what the award looks like. Pure: the
/// caller supplies the clock reading and everything read from the store.
public enum IssuePolicy {
    /// What the store knows about a badge and one customer at the moment of issuing.
    public struct Context: Sendable {
        public var badge: BadgeDefinition
        public var customerId: String
        /// This customer's awards of this badge: how many are unrevoked, and the oldest held now.
        public var tally: AwardTally
        /// Unrevoked awards of this badge across all customers.
        public var globalCount: UInt64
        public var nowMs: Int64

        public init(badge: BadgeDefinition, customerId: String, tally: AwardTally, globalCount: UInt64, nowMs: Int64) {
            self.badge = badge
            self.customerId = customerId
            self.tally = tally
            self.globalCount = globalCount
            self.nowMs = nowMs
        }

        /// From the customer's awards of this badge, revoked ones included (all of one customer).
        public init(badge: BadgeDefinition, customerAwards: [Award], globalCount: UInt64, nowMs: Int64) {
            var tally = AwardTally()
            for award in customerAwards.sorted(by: { $0.awardId < $1.awardId }) {
                tally.count(
                    awardId: award.awardId, expiresAtMs: award.expiresAtMs, revokedAtMs: award.revokedAtMs, nowMs: nowMs
                )
            }
            self.init(
                badge: badge, customerId: customerAwards.first?.customerId ?? "", tally: tally,
                globalCount: globalCount, nowMs: nowMs)
        }
    }

    /// Why issuing a badge is refused; `error(_:)` words it for the caller.
    public enum Refusal: Sendable, Hashable {
        case inactive
        case notYetValid
        case windowClosed
        case awardWouldBeExpired
        case customerLimitReached(held: Int)
        case alreadyHeld(awardId: UInt64)
        case globalCapReached

        /// The refusal as the error a caller gets, naming the badge, the customer and the limit.
        public func error(_ context: Context) -> BadgeError {
            let badge = context.badge
            switch self {
            case .inactive:
                return BadgeError(.failedPrecondition, "badge \(badge.id) is inactive", reason: "badge_inactive")
            case .notYetValid:
                return BadgeError(
                    .failedPrecondition,
                    "badge \(badge.id) can be issued from \(Timestamps.iso(badge.validFromMs)) on",
                    reason: "badge_not_yet_valid")
            case .windowClosed:
                return BadgeError(
                    .failedPrecondition,
                    "badge \(badge.id) could be issued until \(Timestamps.iso(badge.validUntilMs))",
                    reason: "badge_window_closed")
            case .awardWouldBeExpired:
                return BadgeError(
                    .failedPrecondition,
                    "badge \(badge.id) awards expire at \(Timestamps.iso(badge.expiresAtMs)), which has passed",
                    reason: "award_would_be_expired")
            case .customerLimitReached(let held):
                return BadgeError(
                    .resourceExhausted,
                    "customer \(context.customerId) already holds badge \(badge.id) \(held) times; the maximum is \(badge.maxPerCustomer)",
                    reason: "customer_limit_reached")
            case .alreadyHeld(let awardId):
                return BadgeError(
                    .alreadyExists,
                    "customer \(context.customerId) already holds badge \(badge.id) (award \(awardId)), which is not repeatable",
                    reason: "already_held")
            case .globalCapReached:
                return BadgeError(
                    .resourceExhausted, "badge \(badge.id) has reached its global cap of \(badge.globalCap) awards",
                    reason: "global_cap_reached")
            }
        }
    }

    /// Throws the refusal for issuing `context.badge` now, or returns when it may be issued.
    public static func check(_ context: Context) throws(BadgeError) {
        if let refusal = refusal(context) { throw refusal.error(context) }
    }

    /// Why `context.badge` may not be issued now, or nil when it may. Builds no message, for
    /// callers that only need the decision (Evaluate meets held badges on most events).
    ///
    /// - A non-repeatable badge may be held once at a time: after it is revoked or has expired it may
    ///   be earned again (a yearly status such as "Gold Elite").
    /// - `maxPerCustomer` counts every unrevoked award of a repeatable badge, expired ones included:
    ///   it is a lifetime limit.
    /// - `globalCap` counts unrevoked awards; revoking one frees a place.
    public static func refusal(_ context: Context) -> Refusal? {
        let badge = context.badge
        let now = context.nowMs
        if badge.status != .active { return .inactive }
        if badge.validFromMs != 0, now < badge.validFromMs { return .notYetValid }
        if badge.validUntilMs != 0, now >= badge.validUntilMs { return .windowClosed }
        if badge.expiresAtMs != 0, now >= badge.expiresAtMs { return .awardWouldBeExpired }
        if badge.repeatable {
            let held = context.tally.unrevoked
            if badge.maxPerCustomer != 0, held >= Int(badge.maxPerCustomer) { return .customerLimitReached(held: held) }
        } else if let current = context.tally.currentAwardId {
            return .alreadyHeld(awardId: current)
        }
        if badge.globalCap != 0, context.globalCount >= badge.globalCap { return .globalCapReached }
        return nil
    }

    /// Whether `check` looks at the customer's awards of `badge` at all: not for a repeatable badge
    /// without a per-customer maximum, so the writer need not read them (a B-tree seek per Issue).
    public static func needsTally(_ badge: BadgeDefinition) -> Bool {
        !badge.repeatable || badge.maxPerCustomer != 0
    }

    /// When an award of `badge` earned at `earnedAtMs` expires (0 = never).
    public static func expiry(of badge: BadgeDefinition, earnedAtMs: Int64) -> Int64 {
        if badge.expiresAtMs != 0 { return badge.expiresAtMs }
        if badge.expiresAfterMs != 0 {
            // Saturates: a badge stored before its times were bounded may hold a huge value, and a
            // wrapped sum would be an expiry in the distant past.
            let (sum, overflow) = earnedAtMs.addingReportingOverflow(badge.expiresAfterMs)
            return overflow ? .max : sum
        }
        return 0
    }
}
