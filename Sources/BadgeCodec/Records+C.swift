import BadgeModel
internal import BadgeWireC

extension BadgeStatus {
    /// Unknown numbers (from a newer peer) read as inactive: never issue a badge in a state not understood.
    init(c: Badges__V1__BadgeStatus) {
        self = c == BADGES__V1__BADGE_STATUS__BADGE_STATUS_ACTIVE ? .active : .inactive
    }
    var c: Badges__V1__BadgeStatus {
        self == .inactive
            ? BADGES__V1__BADGE_STATUS__BADGE_STATUS_INACTIVE : BADGES__V1__BADGE_STATUS__BADGE_STATUS_ACTIVE
    }
}

extension AwardSource {
    /// Unknown numbers (from a newer peer) read as `.api`, the default.
    init(c: Badges__V1__AwardSource) {
        switch c {
        case BADGES__V1__AWARD_SOURCE__AWARD_SOURCE_DIRECT: self = .direct
        case BADGES__V1__AWARD_SOURCE__AWARD_SOURCE_RULE: self = .rule
        case BADGES__V1__AWARD_SOURCE__AWARD_SOURCE_IMPORT: self = .import
        case BADGES__V1__AWARD_SOURCE__AWARD_SOURCE_RETRO: self = .retro
        default: self = .api
        }
    }
    var c: Badges__V1__AwardSource {
        switch self {
        case .api: BADGES__V1__AWARD_SOURCE__AWARD_SOURCE_API
        case .direct: BADGES__V1__AWARD_SOURCE__AWARD_SOURCE_DIRECT
        case .rule: BADGES__V1__AWARD_SOURCE__AWARD_SOURCE_RULE
        case .import: BADGES__V1__AWARD_SOURCE__AWARD_SOURCE_IMPORT
        case .retro: BADGES__V1__AWARD_SOURCE__AWARD_SOURCE_RETRO
        }
    }
}

extension BadgeDefinition: CBacked {
    public static let protoName = "badges.v1.BadgeDefinition"

    init(c: UnsafePointer<Badges__V1__BadgeDefinition>) throws(BadgeError) {
        let m = c.pointee
        self.init(
            id: swiftString(m.id), name: swiftString(m.name), description: swiftString(m.description),
            icon: swiftString(m.icon), rank: m.rank, group: swiftString(m.group), status: BadgeStatus(c: m.status),
            validFromMs: m.valid_from_ms, validUntilMs: m.valid_until_ms, repeatable: m.repeatable != 0,
            maxPerCustomer: m.max_per_customer, globalCap: m.global_cap, expiresAfterMs: m.expires_after_ms,
            expiresAtMs: m.expires_at_ms, labels: try swiftMap(m.n_labels, m.labels, field: "labels"),
            createdAtMs: m.created_at_ms,
            updatedAtMs: m.updated_at_ms,
            criteria: try m.criteria.map { (c) throws(BadgeError) in try Criteria(c: c) })
    }

    func fill(_ c: UnsafeMutablePointer<Badges__V1__BadgeDefinition>, _ arena: EncodeArena) {
        c.pointee.id = arena.string(id)
        c.pointee.name = arena.string(name)
        c.pointee.description = arena.string(description)
        c.pointee.icon = arena.string(icon)
        c.pointee.rank = rank
        c.pointee.group = arena.string(group)
        c.pointee.status = status.c
        c.pointee.valid_from_ms = validFromMs
        c.pointee.valid_until_ms = validUntilMs
        c.pointee.repeatable = repeatable ? 1 : 0
        c.pointee.max_per_customer = maxPerCustomer
        c.pointee.global_cap = globalCap
        c.pointee.expires_after_ms = expiresAfterMs
        c.pointee.expires_at_ms = expiresAtMs
        (c.pointee.n_labels, c.pointee.labels) = arena.map(Badges__V1__BadgeDefinition__LabelsEntry.self, labels)
        c.pointee.created_at_ms = createdAtMs
        c.pointee.updated_at_ms = updatedAtMs
        if let criteria { c.pointee.criteria = nested(criteria, arena) }
    }
}

extension Award: CBacked {
    public static let protoName = "badges.v1.Award"

    init(c: UnsafePointer<Badges__V1__Award>) throws(BadgeError) {
        let m = c.pointee
        self.init(
            awardId: m.award_id, customerId: swiftString(m.customer_id), badgeId: swiftString(m.badge_id),
            earnedAtMs: m.earned_at_ms, expiresAtMs: m.expires_at_ms, source: AwardSource(c: m.source),
            evidence: swiftString(m.evidence),
            evidenceFields: try swiftMap(m.n_evidence_fields, m.evidence_fields, field: "evidence_fields"),
            requestId: swiftString(m.request_id), revokedAtMs: m.revoked_at_ms,
            revokeReason: swiftString(m.revoke_reason), revokedBy: swiftString(m.revoked_by))
    }

    func fill(_ c: UnsafeMutablePointer<Badges__V1__Award>, _ arena: EncodeArena) {
        c.pointee.award_id = awardId
        c.pointee.customer_id = arena.string(customerId)
        c.pointee.badge_id = arena.string(badgeId)
        c.pointee.earned_at_ms = earnedAtMs
        c.pointee.expires_at_ms = expiresAtMs
        c.pointee.source = source.c
        c.pointee.evidence = arena.string(evidence)
        (c.pointee.n_evidence_fields, c.pointee.evidence_fields) = arena.map(
            Badges__V1__Award__EvidenceFieldsEntry.self, evidenceFields)
        c.pointee.request_id = arena.string(requestId)
        c.pointee.revoked_at_ms = revokedAtMs
        c.pointee.revoke_reason = arena.string(revokeReason)
        c.pointee.revoked_by = arena.string(revokedBy)
    }
}
