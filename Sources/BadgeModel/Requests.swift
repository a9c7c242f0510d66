/// Create a badge, or replace one when `replace` is set.
public struct PutBadgeRequest: Sendable, Hashable {
    public var badge: BadgeDefinition
    public var replace: Bool
    public init(badge: BadgeDefinition, replace: Bool = false) {
        self.badge = badge
        self.replace = replace
    }
}

public struct PutBadgeResult: Sendable, Hashable {
    public var badge: BadgeDefinition
    public var created: Bool
    public init(badge: BadgeDefinition, created: Bool) {
        self.badge = badge
        self.created = created
    }
}

/// Award a badge; idempotent on `requestId`.
public struct IssueRequest: Sendable, Hashable {
    public var customerId: String
    public var badgeId: String
    public var requestId: String
    public var source: AwardSource
    public var evidence: String
    public var evidenceFields: [String: String]

    public init(
        customerId: String, badgeId: String, requestId: String, source: AwardSource = .api, evidence: String = "",
        evidenceFields: [String: String] = [:]
    ) {
        self.customerId = customerId
        self.badgeId = badgeId
        self.requestId = requestId
        self.source = source
        self.evidence = evidence
        self.evidenceFields = evidenceFields
    }
}

public struct IssueResult: Sendable, Hashable {
    public var award: Award
    /// True when the request id had been seen and `award` is the original.
    public var replayed: Bool
    public init(award: Award, replayed: Bool) {
        self.award = award
        self.replayed = replayed
    }
}

/// Revoke one award (`awardId` != 0) or every unrevoked award of `badgeId` the customer holds.
public struct RevokeRequest: Sendable, Hashable {
    public var customerId: String
    public var awardId: UInt64
    public var badgeId: String
    public var reason: String
    public var actor: String

    public init(customerId: String, awardId: UInt64 = 0, badgeId: String = "", reason: String = "", actor: String = "")
    {
        self.customerId = customerId
        self.awardId = awardId
        self.badgeId = badgeId
        self.reason = reason
        self.actor = actor
    }
}

/// An activity event for the achievement engine.
public struct ActivityEvent: Sendable, Hashable, Codable {
    public var eventId: String
    public var customerId: String
    public var type: String
    public var occurredAtMs: Int64
    public var timeZone: String
    public var amount: Double
    public var attributes: [String: String]
    public var dryRun: Bool

    public init(
        eventId: String, customerId: String, type: String, occurredAtMs: Int64 = 0, timeZone: String = "",
        amount: Double = 0, attributes: [String: String] = [:], dryRun: Bool = false
    ) {
        self.eventId = eventId
        self.customerId = customerId
        self.type = type
        self.occurredAtMs = occurredAtMs
        self.timeZone = timeZone
        self.amount = amount
        self.attributes = attributes
        self.dryRun = dryRun
    }
}

/// Server identity and liveness.
public struct HealthInfo: Sendable, Hashable, Codable {
    public var version: String
    public var protocolVersion: UInt32
    public var startedAtMs: Int64
    public var uptimeMs: Int64
    public var badges: UInt64
    public var awards: UInt64

    public init(
        version: String, protocolVersion: UInt32, startedAtMs: Int64, uptimeMs: Int64, badges: UInt64, awards: UInt64
    ) {
        self.version = version
        self.protocolVersion = protocolVersion
        self.startedAtMs = startedAtMs
        self.uptimeMs = uptimeMs
        self.badges = badges
        self.awards = awards
    }
}
