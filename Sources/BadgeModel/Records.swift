/// Whether a badge can currently be issued.
public enum BadgeStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case active
    case inactive
}

/// Where an award came from.
public enum AwardSource: String, Sendable, Hashable, Codable, CaseIterable {
    case api
    case direct
    case rule
    case `import`
    case retro
}

/// A badge in the catalogue. Times are Unix epoch milliseconds; 0 means unset.
public struct BadgeDefinition: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var description: String
    /// An icon reference for front ends (URL, asset key, emoji); never interpreted here.
    public var icon: String
    /// Display order: lower first, ties broken by id.
    public var rank: Int32
    public var group: String
    public var status: BadgeStatus
    public var validFromMs: Int64
    public var validUntilMs: Int64
    public var repeatable: Bool
    /// For repeatable badges: most awards one customer may hold (0 = no limit).
    public var maxPerCustomer: UInt32
    /// Most unrevoked awards across all customers (0 = no cap).
    public var globalCap: UInt64
    /// Earned awards expire this long after earning (0 = not relative).
    public var expiresAfterMs: Int64
    /// Earned awards expire at this time (0 = not absolute).
    public var expiresAtMs: Int64
    public var labels: [String: String]
    public var createdAtMs: Int64
    public var updatedAtMs: Int64
    /// What activity earns the badge through Evaluate; nil = issued directly only.
    public var criteria: Criteria?

    public init(
        id: String, name: String = "", description: String = "", icon: String = "", rank: Int32 = 0,
        group: String = "", status: BadgeStatus = .active, validFromMs: Int64 = 0, validUntilMs: Int64 = 0,
        repeatable: Bool = false, maxPerCustomer: UInt32 = 0, globalCap: UInt64 = 0, expiresAfterMs: Int64 = 0,
        expiresAtMs: Int64 = 0, labels: [String: String] = [:], createdAtMs: Int64 = 0, updatedAtMs: Int64 = 0,
        criteria: Criteria? = nil
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.icon = icon
        self.rank = rank
        self.group = group
        self.status = status
        self.validFromMs = validFromMs
        self.validUntilMs = validUntilMs
        self.repeatable = repeatable
        self.maxPerCustomer = maxPerCustomer
        self.globalCap = globalCap
        self.expiresAfterMs = expiresAfterMs
        self.expiresAtMs = expiresAtMs
        self.labels = labels
        self.createdAtMs = createdAtMs
        self.updatedAtMs = updatedAtMs
        self.criteria = criteria
    }

    /// Catalogue display order: rank, then id.
    public static func displayOrder(_ lhs: BadgeDefinition, _ rhs: BadgeDefinition) -> Bool {
        lhs.rank != rhs.rank ? lhs.rank < rhs.rank : lhs.id < rhs.id
    }
}

/// One badge earned by one customer. Revoked awards are kept with their revocation record.
public struct Award: Sendable, Hashable, Codable {
    public var awardId: UInt64
    public var customerId: String
    public var badgeId: String
    public var earnedAtMs: Int64
    /// 0 = never expires.
    public var expiresAtMs: Int64
    public var source: AwardSource
    public var evidence: String
    public var evidenceFields: [String: String]
    public var requestId: String
    /// 0 = not revoked.
    public var revokedAtMs: Int64
    public var revokeReason: String
    public var revokedBy: String

    public init(
        awardId: UInt64, customerId: String, badgeId: String, earnedAtMs: Int64, expiresAtMs: Int64 = 0,
        source: AwardSource = .api, evidence: String = "", evidenceFields: [String: String] = [:],
        requestId: String = "", revokedAtMs: Int64 = 0, revokeReason: String = "", revokedBy: String = ""
    ) {
        self.awardId = awardId
        self.customerId = customerId
        self.badgeId = badgeId
        self.earnedAtMs = earnedAtMs
        self.expiresAtMs = expiresAtMs
        self.source = source
        self.evidence = evidence
        self.evidenceFields = evidenceFields
        self.requestId = requestId
        self.revokedAtMs = revokedAtMs
        self.revokeReason = revokeReason
        self.revokedBy = revokedBy
    }

    public var isRevoked: Bool { revokedAtMs != 0 }

    /// Held now: not revoked and not expired at `nowMs`.
    public func isCurrent(atMs nowMs: Int64) -> Bool {
        !isRevoked && (expiresAtMs == 0 || nowMs < expiresAtMs)
    }
}

/// One line of a trophy case.
public struct TrophyCaseEntry: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Hashable, Codable {
        case earned
        case locked
    }
    public var badge: BadgeDefinition
    public var state: State
    /// Current awards of this badge, oldest first; empty when locked. Only the newest of them when
    /// the customer holds more than the List asked for (see `awardCount`).
    public var awards: [Award]
    /// How many current awards of this badge the customer holds, listed or not.
    public var awardCount: Int
    /// For badges with criteria: progress per criterion.
    public var progress: [Progress]
    /// The criteria in words.
    public var criteriaText: String

    /// - Parameter awardCount: nil when `awards` are all the current awards.
    public init(
        badge: BadgeDefinition, state: State, awards: [Award], awardCount: Int? = nil, progress: [Progress] = [],
        criteriaText: String = ""
    ) {
        self.badge = badge
        self.state = state
        self.awards = awards
        self.awardCount = awardCount ?? awards.count
        self.progress = progress
        self.criteriaText = criteriaText
    }
}

/// A customer's trophy case: earned badges in rank order, then locked ones in rank order.
public struct TrophyCase: Sendable, Hashable, Codable {
    public var customerId: String
    public var entries: [TrophyCaseEntry]

    public init(customerId: String, entries: [TrophyCaseEntry]) {
        self.customerId = customerId
        self.entries = entries
    }
}
