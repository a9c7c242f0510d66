import BadgeModel
internal import BadgeWireC

// Request and reply messages that have no domain type of their own.

/// GetBadge request.
public struct GetBadgeRequest: Sendable, Hashable {
    public var badgeId: String
    public init(badgeId: String) { self.badgeId = badgeId }
}

/// GetBadge and DeactivateBadge reply.
public struct BadgeReply: Sendable, Hashable {
    public var badge: BadgeDefinition
    public init(badge: BadgeDefinition) { self.badge = badge }
}

/// DeactivateBadge request.
public struct DeactivateBadgeRequest: Sendable, Hashable {
    public var badgeId: String
    public init(badgeId: String) { self.badgeId = badgeId }
}

/// DeactivateBadge reply (the badge as it is now).
public struct DeactivateBadgeReply: Sendable, Hashable {
    public var badge: BadgeDefinition
    public init(badge: BadgeDefinition) { self.badge = badge }
}

public struct ListBadgesRequest: Sendable, Hashable {
    public var includeInactive: Bool
    public init(includeInactive: Bool = false) { self.includeInactive = includeInactive }
}

public struct ListBadgesReply: Sendable, Hashable {
    public var badges: [BadgeDefinition]
    public init(badges: [BadgeDefinition]) { self.badges = badges }
}

public struct RevokeReply: Sendable, Hashable {
    public var revoked: [Award]
    public init(revoked: [Award]) { self.revoked = revoked }
}

/// List (trophy case) request.
public struct ListRequest: Sendable, Hashable {
    public var customerId: String
    /// How many of each badge's current awards to list, the newest; 0 for the default (100).
    public var awardsPerBadge: UInt32
    public init(customerId: String, awardsPerBadge: UInt32 = 0) {
        self.customerId = customerId
        self.awardsPerBadge = awardsPerBadge
    }
}

public struct ExportAwardsRequest: Sendable, Hashable {
    public var afterAwardId: UInt64
    public var chunkSize: UInt32
    public init(afterAwardId: UInt64 = 0, chunkSize: UInt32 = 0) {
        self.afterAwardId = afterAwardId
        self.chunkSize = chunkSize
    }
}

/// One message of the ExportAwards stream.
public struct ExportAwardsChunk: Sendable, Hashable {
    public var awards: [Award]
    public init(awards: [Award]) { self.awards = awards }
}

public struct HealthRequest: Sendable, Hashable {
    public init() {}
}

// MARK: - C conversions

extension PutBadgeRequest: CBacked {
    public static let protoName = "badges.v1.PutBadgeRequest"
    init(c: UnsafePointer<Badges__V1__PutBadgeRequest>) throws(BadgeError) {
        self.init(
            badge: try required(c.pointee.badge, BadgeDefinition.self, field: "badge"), replace: c.pointee.replace != 0)
    }
    func fill(_ c: UnsafeMutablePointer<Badges__V1__PutBadgeRequest>, _ arena: EncodeArena) {
        c.pointee.badge = nested(badge, arena)
        c.pointee.replace = replace ? 1 : 0
    }
}

extension PutBadgeResult: CBacked {
    public static let protoName = "badges.v1.PutBadgeResponse"
    init(c: UnsafePointer<Badges__V1__PutBadgeResponse>) throws(BadgeError) {
        self.init(
            badge: try required(c.pointee.badge, BadgeDefinition.self, field: "badge"), created: c.pointee.created != 0)
    }
    func fill(_ c: UnsafeMutablePointer<Badges__V1__PutBadgeResponse>, _ arena: EncodeArena) {
        c.pointee.badge = nested(badge, arena)
        c.pointee.created = created ? 1 : 0
    }
}

extension GetBadgeRequest: CBacked {
    public static let protoName = "badges.v1.GetBadgeRequest"
    init(c: UnsafePointer<Badges__V1__GetBadgeRequest>) { self.init(badgeId: swiftString(c.pointee.badge_id)) }
    func fill(_ c: UnsafeMutablePointer<Badges__V1__GetBadgeRequest>, _ arena: EncodeArena) {
        c.pointee.badge_id = arena.string(badgeId)
    }
}

extension BadgeReply: CBacked {
    public static let protoName = "badges.v1.GetBadgeResponse"
    init(c: UnsafePointer<Badges__V1__GetBadgeResponse>) throws(BadgeError) {
        self.init(badge: try required(c.pointee.badge, BadgeDefinition.self, field: "badge"))
    }
    func fill(_ c: UnsafeMutablePointer<Badges__V1__GetBadgeResponse>, _ arena: EncodeArena) {
        c.pointee.badge = nested(badge, arena)
    }
}

extension DeactivateBadgeRequest: CBacked {
    public static let protoName = "badges.v1.DeactivateBadgeRequest"
    init(c: UnsafePointer<Badges__V1__DeactivateBadgeRequest>) { self.init(badgeId: swiftString(c.pointee.badge_id)) }
    func fill(_ c: UnsafeMutablePointer<Badges__V1__DeactivateBadgeRequest>, _ arena: EncodeArena) {
        c.pointee.badge_id = arena.string(badgeId)
    }
}

extension DeactivateBadgeReply: CBacked {
    public static let protoName = "badges.v1.DeactivateBadgeResponse"
    init(c: UnsafePointer<Badges__V1__DeactivateBadgeResponse>) throws(BadgeError) {
        self.init(badge: try required(c.pointee.badge, BadgeDefinition.self, field: "badge"))
    }
    func fill(_ c: UnsafeMutablePointer<Badges__V1__DeactivateBadgeResponse>, _ arena: EncodeArena) {
        c.pointee.badge = nested(badge, arena)
    }
}

extension ListBadgesRequest: CBacked {
    public static let protoName = "badges.v1.ListBadgesRequest"
    init(c: UnsafePointer<Badges__V1__ListBadgesRequest>) {
        self.init(includeInactive: c.pointee.include_inactive != 0)
    }
    func fill(_ c: UnsafeMutablePointer<Badges__V1__ListBadgesRequest>, _ arena: EncodeArena) {
        c.pointee.include_inactive = includeInactive ? 1 : 0
    }
}

extension ListBadgesReply: CBacked {
    public static let protoName = "badges.v1.ListBadgesResponse"
    init(c: UnsafePointer<Badges__V1__ListBadgesResponse>) throws(BadgeError) {
        self.init(
            badges: try swiftArray(c.pointee.n_badges, c.pointee.badges) { (c) throws(BadgeError) in
                try BadgeDefinition(c: c)
            })
    }
    func fill(_ c: UnsafeMutablePointer<Badges__V1__ListBadgesResponse>, _ arena: EncodeArena) {
        (c.pointee.n_badges, c.pointee.badges) = repeated(badges, arena)
    }
}

extension IssueRequest: CBacked {
    public static let protoName = "badges.v1.IssueRequest"
    init(c: UnsafePointer<Badges__V1__IssueRequest>) throws(BadgeError) {
        let m = c.pointee
        self.init(
            customerId: swiftString(m.customer_id), badgeId: swiftString(m.badge_id),
            requestId: swiftString(m.request_id), source: AwardSource(c: m.source), evidence: swiftString(m.evidence),
            evidenceFields: try swiftMap(m.n_evidence_fields, m.evidence_fields, field: "evidence_fields"))
    }
    func fill(_ c: UnsafeMutablePointer<Badges__V1__IssueRequest>, _ arena: EncodeArena) {
        c.pointee.customer_id = arena.string(customerId)
        c.pointee.badge_id = arena.string(badgeId)
        c.pointee.request_id = arena.string(requestId)
        c.pointee.source = source.c
        c.pointee.evidence = arena.string(evidence)
        (c.pointee.n_evidence_fields, c.pointee.evidence_fields) = arena.map(
            Badges__V1__IssueRequest__EvidenceFieldsEntry.self, evidenceFields)
    }
}

extension IssueResult: CBacked {
    public static let protoName = "badges.v1.IssueResponse"
    init(c: UnsafePointer<Badges__V1__IssueResponse>) throws(BadgeError) {
        self.init(award: try required(c.pointee.award, Award.self, field: "award"), replayed: c.pointee.replayed != 0)
    }
    func fill(_ c: UnsafeMutablePointer<Badges__V1__IssueResponse>, _ arena: EncodeArena) {
        c.pointee.award = nested(award, arena)
        c.pointee.replayed = replayed ? 1 : 0
    }
}

extension RevokeRequest: CBacked {
    public static let protoName = "badges.v1.RevokeRequest"
    init(c: UnsafePointer<Badges__V1__RevokeRequest>) {
        let m = c.pointee
        self.init(
            customerId: swiftString(m.customer_id), awardId: m.award_id, badgeId: swiftString(m.badge_id),
            reason: swiftString(m.reason), actor: swiftString(m.actor))
    }
    func fill(_ c: UnsafeMutablePointer<Badges__V1__RevokeRequest>, _ arena: EncodeArena) {
        c.pointee.customer_id = arena.string(customerId)
        c.pointee.award_id = awardId
        c.pointee.badge_id = arena.string(badgeId)
        c.pointee.reason = arena.string(reason)
        c.pointee.actor = arena.string(actor)
    }
}

extension RevokeReply: CBacked {
    public static let protoName = "badges.v1.RevokeResponse"
    init(c: UnsafePointer<Badges__V1__RevokeResponse>) throws(BadgeError) {
        self.init(
            revoked: try swiftArray(c.pointee.n_revoked, c.pointee.revoked) { (c) throws(BadgeError) in try Award(c: c)
            })
    }
    func fill(_ c: UnsafeMutablePointer<Badges__V1__RevokeResponse>, _ arena: EncodeArena) {
        (c.pointee.n_revoked, c.pointee.revoked) = repeated(revoked, arena)
    }
}

extension ListRequest: CBacked {
    public static let protoName = "badges.v1.ListRequest"
    init(c: UnsafePointer<Badges__V1__ListRequest>) {
        self.init(customerId: swiftString(c.pointee.customer_id), awardsPerBadge: c.pointee.awards_per_badge)
    }
    func fill(_ c: UnsafeMutablePointer<Badges__V1__ListRequest>, _ arena: EncodeArena) {
        c.pointee.customer_id = arena.string(customerId)
        c.pointee.awards_per_badge = awardsPerBadge
    }
}

extension TrophyCaseEntry: CBacked {
    public static let protoName = "badges.v1.TrophyCaseEntry"
    init(c: UnsafePointer<Badges__V1__TrophyCaseEntry>) throws(BadgeError) {
        self.init(
            badge: try required(c.pointee.badge, BadgeDefinition.self, field: "entries.badge"),
            state: c.pointee.state == BADGES__V1__TROPHY_CASE_ENTRY__STATE__LOCKED ? .locked : .earned,
            awards: try swiftArray(c.pointee.n_awards, c.pointee.awards) { (c) throws(BadgeError) in try Award(c: c) },
            // A server from before award_count (0) listed every award.
            awardCount: c.pointee.award_count == 0 ? nil : Int(c.pointee.award_count),
            progress: try swiftArray(c.pointee.n_progress, c.pointee.progress) { Progress(c: $0) },
            criteriaText: swiftString(c.pointee.criteria_text))
    }
    func fill(_ c: UnsafeMutablePointer<Badges__V1__TrophyCaseEntry>, _ arena: EncodeArena) {
        (c.pointee.n_progress, c.pointee.progress) = repeated(progress, arena)
        c.pointee.criteria_text = arena.string(criteriaText)
        c.pointee.badge = nested(badge, arena)
        c.pointee.state =
            state == .locked
            ? BADGES__V1__TROPHY_CASE_ENTRY__STATE__LOCKED : BADGES__V1__TROPHY_CASE_ENTRY__STATE__EARNED
        (c.pointee.n_awards, c.pointee.awards) = repeated(awards, arena)
        c.pointee.award_count = UInt32(clamping: awardCount)
    }
}

extension TrophyCase: CBacked {
    public static let protoName = "badges.v1.ListResponse"
    init(c: UnsafePointer<Badges__V1__ListResponse>) throws(BadgeError) {
        self.init(
            customerId: swiftString(c.pointee.customer_id),
            entries: try swiftArray(c.pointee.n_entries, c.pointee.entries) { (e) throws(BadgeError) in
                try TrophyCaseEntry(c: e)
            })
    }
    func fill(_ c: UnsafeMutablePointer<Badges__V1__ListResponse>, _ arena: EncodeArena) {
        c.pointee.customer_id = arena.string(customerId)
        (c.pointee.n_entries, c.pointee.entries) = repeated(entries, arena)
    }
}

extension ExportAwardsRequest: CBacked {
    public static let protoName = "badges.v1.ExportAwardsRequest"
    init(c: UnsafePointer<Badges__V1__ExportAwardsRequest>) {
        self.init(afterAwardId: c.pointee.after_award_id, chunkSize: c.pointee.chunk_size)
    }
    func fill(_ c: UnsafeMutablePointer<Badges__V1__ExportAwardsRequest>, _ arena: EncodeArena) {
        c.pointee.after_award_id = afterAwardId
        c.pointee.chunk_size = chunkSize
    }
}

extension ExportAwardsChunk: CBacked {
    public static let protoName = "badges.v1.ExportAwardsChunk"
    init(c: UnsafePointer<Badges__V1__ExportAwardsChunk>) throws(BadgeError) {
        self.init(
            awards: try swiftArray(c.pointee.n_awards, c.pointee.awards) { (c) throws(BadgeError) in try Award(c: c) })
    }
    func fill(_ c: UnsafeMutablePointer<Badges__V1__ExportAwardsChunk>, _ arena: EncodeArena) {
        (c.pointee.n_awards, c.pointee.awards) = repeated(awards, arena)
    }
}

extension ActivityEvent: CBacked {
    public static let protoName = "badges.v1.EvaluateRequest"
    init(c: UnsafePointer<Badges__V1__EvaluateRequest>) throws(BadgeError) {
        let m = c.pointee
        self.init(
            eventId: swiftString(m.event_id), customerId: swiftString(m.customer_id), type: swiftString(m.type),
            occurredAtMs: m.occurred_at_ms, timeZone: swiftString(m.time_zone), amount: m.amount,
            attributes: try swiftMap(m.n_attributes, m.attributes, field: "attributes"), dryRun: m.dry_run != 0)
    }
    func fill(_ c: UnsafeMutablePointer<Badges__V1__EvaluateRequest>, _ arena: EncodeArena) {
        c.pointee.event_id = arena.string(eventId)
        c.pointee.customer_id = arena.string(customerId)
        c.pointee.type = arena.string(type)
        c.pointee.occurred_at_ms = occurredAtMs
        c.pointee.time_zone = arena.string(timeZone)
        c.pointee.amount = amount
        (c.pointee.n_attributes, c.pointee.attributes) = arena.map(
            Badges__V1__EvaluateRequest__AttributesEntry.self, attributes)
        c.pointee.dry_run = dryRun ? 1 : 0
    }
}

extension HealthRequest: CBacked {
    public static let protoName = "badges.v1.HealthRequest"
    init(c: UnsafePointer<Badges__V1__HealthRequest>) { self.init() }
    func fill(_ c: UnsafeMutablePointer<Badges__V1__HealthRequest>, _ arena: EncodeArena) {}
}

extension HealthInfo: CBacked {
    public static let protoName = "badges.v1.HealthResponse"
    init(c: UnsafePointer<Badges__V1__HealthResponse>) {
        let m = c.pointee
        self.init(
            version: swiftString(m.version), protocolVersion: m.protocol_version, startedAtMs: m.started_at_ms,
            uptimeMs: m.uptime_ms, badges: m.badges, awards: m.awards)
    }
    func fill(_ c: UnsafeMutablePointer<Badges__V1__HealthResponse>, _ arena: EncodeArena) {
        c.pointee.version = arena.string(version)
        c.pointee.protocol_version = protocolVersion
        c.pointee.started_at_ms = startedAtMs
        c.pointee.uptime_ms = uptimeMs
        c.pointee.badges = badges
        c.pointee.awards = awards
    }
}
