import BadgeCodec
import BadgeModel
import LMDB

// Writes. Each keeps the secondary databases (award_ids, requests, badge_counts) in step with
// `awards`, so callers cannot forget one.
extension BadgeStore {
    public func putBadge(_ txn: borrowing WriteTransaction, _ badge: BadgeDefinition) throws(BadgeError) {
        let bytes = badge.encoded()
        try lmdb { try txn.put(badges, key: Keys.string(badge.id), value: bytes) }
        changedCatalogue()
    }

    /// Stores a new award under the next award id, records its request id, counts it, and returns it.
    public func insertAward(_ txn: borrowing WriteTransaction, _ award: Award) throws(BadgeError) -> Award {
        try insertAwardRecord(txn, award).award
    }

    /// `insertAward`, also returning the stored record (the award's `badges.v1.Award` bytes), so a
    /// reply can carry it without encoding the award again. With `indexingRequest` false the award's
    /// request id is kept in the record but not entered in `requests`: for awards whose idempotency
    /// is kept elsewhere (Evaluate's event records), whose request ids no Issue may use.
    public func insertAwardRecord(
        _ txn: borrowing WriteTransaction, _ award: Award, indexingRequest: Bool = true
    ) throws(BadgeError) -> (award: Award, record: [UInt8]) {
        var award = award
        award.awardId = try takeNextAwardId(txn)
        let key = Keys.award(customerId: award.customerId, badgeId: award.badgeId, awardId: award.awardId)
        let record = award.encoded()
        let idKey = Keys.uint64(award.awardId)
        try lmdb {
            try txn.put(awards, key: key, value: record)
            try txn.put(awardIds, key: idKey, value: key)
            if indexingRequest, !award.requestId.isEmpty {
                try txn.put(requests, key: Keys.string(award.requestId), value: idKey)
            }
        }
        try adjustCount(txn, badgeId: award.badgeId, by: 1)
        changedTrophyCase(of: award.customerId)
        return (award, record)
    }

    /// Rewrites an existing award as revoked (the record is kept) and frees its place in the global count.
    public func saveRevocation(_ txn: borrowing WriteTransaction, _ award: Award) throws(BadgeError) {
        precondition(award.isRevoked, "saveRevocation takes a revoked award")
        let key = Keys.award(customerId: award.customerId, badgeId: award.badgeId, awardId: award.awardId)
        let record = award.encoded()
        try lmdb { try txn.put(awards, key: key, value: record) }
        try adjustCount(txn, badgeId: award.badgeId, by: -1)
        try clearHeldMarks(txn, customerId: award.customerId, badgeId: award.badgeId)
        changedTrophyCase(of: award.customerId)
    }

    /// The badge's criterion states may say the customer holds it (`CriterionState.heldUntilMs`,
    /// set when its rules award a non-repeatable badge): after a revocation they no longer know.
    /// Here, with the revocation, so that no way of revoking can leave a mark behind.
    ///
    /// Every state under the badge's prefix, by its key's bytes: states keyed by `String` would
    /// merge criterion keys that are canonically equivalent but different store keys (a criterion
    /// renamed "caf\u{E9}" -> "cafe\u{301}" leaves the old state behind), and one mark would stay.
    func clearHeldMarks(_ txn: borrowing WriteTransaction, customerId: String, badgeId: String) throws(BadgeError) {
        var cleared: [(key: [UInt8], value: [UInt8])] = []
        try lmdb {
            try txn.withCursor(progress) { cursor in
                try cursor.forEach(prefix: Keys.customerBadgePrefix(customerId, badgeId)) { key, value in
                    var state = try decode(CriterionState.self, value, what: "progress of \(badgeId)")
                    if state.heldUntilMs != 0 {
                        state.heldUntilMs = 0
                        cleared.append((Array(key), state.encoded()))
                    }
                    return true
                }
            }
        }
        guard !cleared.isEmpty else { return }
        try lmdb { try txn.put(progress, entries: cleared) }
        changedTrophyCase(of: customerId)
    }
}
