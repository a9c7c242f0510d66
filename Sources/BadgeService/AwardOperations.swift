import BadgeModel
import BadgeRules
import BadgeStore
import LMDB

// The bodies of Issue and Revoke, run by the writer inside a batch transaction. Each checks
// everything before its first write, so a refusal leaves the batch untouched.
extension BadgeService {
    static func applyIssue(
        _ request: IssueRequest, catalogue: WriterCatalogue, store: BadgeStore, txn: borrowing WriteTransaction,
        now: Int64
    ) throws(BadgeError) -> (result: IssueResult, record: [UInt8]) {
        if let awardId = try store.awardId(txn, forRequest: request.requestId) {
            guard let original = try store.award(txn, id: awardId) else {
                throw BadgeError(
                    .dataLoss, "request \(request.requestId) points at missing award \(awardId)",
                    reason: "index_corrupt")
            }
            // By bytes, as the store keys them: canonically equivalent ids are two customers.
            guard original.customerId.isSameId(request.customerId), original.badgeId.isSameId(request.badgeId) else {
                throw BadgeError(
                    .failedPrecondition,
                    "request_id \(request.requestId) was already used to award badge \(original.badgeId) to customer \(original.customerId)\(request.customerId.differingBytesNote(from: original.customerId))",
                    reason: "request_id_reused")
            }
            return (IssueResult(award: original, replayed: true), original.encoded())
        }
        guard let badge = try catalogue.badge(id: request.badgeId, store: store, txn: txn) else {
            throw badgeNotFound(request.badgeId)
        }
        try IssuePolicy.check(
            IssuePolicy.Context(
                badge: badge, customerId: request.customerId,
                tally: IssuePolicy.needsTally(badge)
                    ? try store.awardTally(txn, customerId: request.customerId, badgeId: request.badgeId, nowMs: now)
                    : AwardTally(),
                // Only a cap looks at the global count.
                globalCount: badge.globalCap != 0 ? try store.unrevokedCount(txn, badgeId: request.badgeId) : 0,
                nowMs: now))
        let award = Award(
            awardId: 0, customerId: request.customerId, badgeId: request.badgeId, earnedAtMs: now,
            expiresAtMs: IssuePolicy.expiry(of: badge, earnedAtMs: now), source: request.source,
            evidence: request.evidence, evidenceFields: request.evidenceFields, requestId: request.requestId)
        let (inserted, record) = try store.insertAwardRecord(txn, award)
        return (IssueResult(award: inserted, replayed: false), record)
    }

    static func applyRevoke(
        _ request: RevokeRequest, store: BadgeStore, txn: borrowing WriteTransaction, now: Int64
    ) throws(BadgeError) -> [Award] {
        var targets: [Award]
        if request.awardId != 0 {
            guard let award = try store.award(txn, id: request.awardId), award.customerId.isSameId(request.customerId)
            else {
                throw BadgeError(
                    .notFound, "customer \(request.customerId) has no award \(request.awardId)",
                    reason: "award_not_found")
            }
            if !request.badgeId.isEmpty, !award.badgeId.isSameId(request.badgeId) {
                throw BadgeError.invalidArgument(
                    "award \(request.awardId) is of badge \(award.badgeId), not \(request.badgeId)",
                    reason: "award_badge_mismatch")
            }
            if award.isRevoked {
                throw BadgeError(
                    .failedPrecondition,
                    "award \(award.awardId) was already revoked at \(Timestamps.iso(award.revokedAtMs)) by \(award.revokedBy.isEmpty ? "an unnamed actor" : award.revokedBy)",
                    reason: "already_revoked")
            }
            targets = [award]
        } else {
            guard try store.badge(txn, id: request.badgeId) != nil else { throw badgeNotFound(request.badgeId) }
            targets = try store.awards(txn, customerId: request.customerId, badgeId: request.badgeId).filter {
                !$0.isRevoked
            }
            if targets.isEmpty {
                throw BadgeError(
                    .notFound, "customer \(request.customerId) holds no unrevoked award of badge \(request.badgeId)",
                    reason: "award_not_found")
            }
        }
        for index in targets.indices {
            targets[index].revokedAtMs = now
            targets[index].revokeReason = request.reason
            targets[index].revokedBy = request.actor
            try store.saveRevocation(txn, targets[index])
        }
        return targets
    }
}
