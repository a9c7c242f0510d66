import BadgeCodec
import BadgeModel
import BadgeRules
import BadgeStore
import Glibc
import LMDB

/// The catalogue prepared for List: in display order, with what every customer's trophy case
/// shares (each badge's encoding, its criteria text, its place in award-key order) worked out once.
struct CatalogueListing: Sendable {
    /// A class, so looking one up retains one reference rather than copying four.
    final class Badge: Sendable {
        let definition: BadgeDefinition
        /// The badge's part of an award key: awards are matched to badges by comparing bytes.
        let awardKey: [UInt8]
        let badgeField: [UInt8]
        let criteriaTextField: [UInt8]
        /// `BadgeEvaluator.fingerprints(of:)` of the criteria (hashing them per List was a quarter
        /// of a List's time with 50 criteria badges).
        let fingerprints: [UInt64]

        init(definition: BadgeDefinition, awardKey: [UInt8], badgeField: [UInt8], criteriaTextField: [UInt8]) {
            self.definition = definition
            self.awardKey = awardKey
            self.badgeField = badgeField
            self.criteriaTextField = criteriaTextField
            fingerprints = definition.criteria.map(BadgeEvaluator.fingerprints) ?? []
        }

        /// Compares `awardKey` with the badge part of a stored award's key: <0, 0 or >0.
        func compareAwardKey(_ other: UnsafeRawBufferPointer) -> Int32 {
            awardKey.withUnsafeBytes { mine in
                let common = min(mine.count, other.count)
                let order = common == 0 ? 0 : memcmp(mine.baseAddress!, other.baseAddress!, common)
                return order != 0 ? order : Int32(mine.count - other.count)
            }
        }
    }

    /// In display order (rank, then id).
    let badges: [Badge]
    /// Indices into `badges`, in the order the customer's award records come from the store.
    let keyOrder: [Int]

    init(_ definitions: [BadgeDefinition]) {
        let badges = definitions.sorted(by: BadgeDefinition.displayOrder).map { badge in
            Badge(
                definition: badge, awardKey: BadgeStore.awardKeyBadgePart(badge.id),
                badgeField: TrophyCaseWriter.badgeField(badge.encoded()),
                criteriaTextField: TrophyCaseWriter.criteriaTextField(
                    badge.criteria.map(BadgeEvaluator.describe) ?? ""))
        }
        self.badges = badges
        keyOrder = badges.indices.sorted { badges[$0].awardKey.lexicographicallyPrecedes(badges[$1].awardKey) }
    }
}

extension BadgeService {
    /// The trophy case already encoded as a `badges.v1.ListResponse`, for the server. It holds
    /// what `trophyCase(customerId:awardsPerBadge:)` returns, but is written straight from the
    /// cached catalogue and the stored award records: awards are not decoded (only their expiry and
    /// revocation are read), and no per-badge structs are built. Replies with the default number of
    /// awards per badge are kept (`TrophyCaseCache`) until a write or the passing of time changes them.
    /// - Parameter awardsPerBadge: List's `awards_per_badge` (0: the default).
    public func encodedTrophyCase(customerId: String, awardsPerBadge: UInt32 = 0) throws(BadgeError) -> [UInt8] {
        try Validate.opaqueId(customerId, field: "customer_id")
        let shown = try Validate.awardsPerBadge(awardsPerBadge)
        let now = clock()
        // Only the default shape is cached: one reply per customer, whatever callers ask.
        let cacheable = shown == Limits.defaultAwardsPerBadge
        if cacheable, let cached = trophyCases.lookup(customerId, nowMs: now) { return cached }
        // Both before the read transaction opens (see TrophyCaseCache and CatalogueCache).
        let ticket = trophyCases.ticket()
        let generation = catalogueCache.generation
        let (bytes, validUntilMs) = try buildTrophyCase(
            customerId: customerId, awardsPerBadge: shown, nowMs: now, catalogueGeneration: generation)
        if cacheable {
            trophyCases.install(customerId, bytes, builtAtMs: now, validUntilMs: validUntilMs, ticket: ticket)
        }
        return bytes
    }

    /// What the List reply cache holds and how it has been used.
    public var listCacheStatistics: ListCacheStatistics { trophyCases.statistics }

    /// The encoded trophy case at `now`, and the first instant it may read differently without a
    /// write: an award expiring, a badge's window ending, or the local day turning (progress).
    private func buildTrophyCase(
        customerId: String, awardsPerBadge: Int, nowMs now: Int64, catalogueGeneration generation: UInt64
    ) throws(BadgeError) -> (bytes: [UInt8], validUntilMs: Int64) {
        try store.read { txn throws(BadgeError) in
            let catalogue = try catalogueCache.snapshot(store, txn, generation: generation)
            let listing = catalogue.listing
            let held = try heldAwards(
                txn, customerId: customerId, listing: listing, nowMs: now, awardsPerBadge: awardsPerBadge)
            var validUntilMs = held.firstExpiryMs
            var states: [String: [String: CriterionState]] = [:]
            var timeZone = ""
            if catalogue.hasCriteria {
                states = try store.allCriterionStates(
                    txn, customerId: customerId, currentKeys: catalogue.criterionKeys)
                timeZone = try store.customerTimeZone(txn, customerId: customerId)
            }
            // Per zone: the local time now (nil: not a zone) and when its day turns.
            var zones: [String: (local: LocalTime, dayTurnsAt: Int64)?] = [:]
            func progress(_ listed: CatalogueListing.Badge, held: Bool) -> [[UInt8]] {
                // A held non-repeatable badge has nothing left to make progress toward.
                guard let criteria = listed.definition.criteria, !held || listed.definition.repeatable else {
                    return []
                }
                let zone = timeZone.isEmpty ? criteria.timeZone : timeZone
                if zones[zone] == nil {
                    zones[zone] = (try? LocalTime(utcMs: now, timeZone: zone)).map { local in
                        (local, (try? LocalTime.nextDayStartMs(after: now, timeZone: zone)) ?? now + 1)
                    }
                }
                guard let (local, dayTurnsAt) = zones[zone] ?? nil else { return [] }
                let shown = BadgeEvaluator.progress(
                    criteria, fingerprints: listed.fingerprints, states: states[listed.definition.id] ?? [:], at: local)
                // Progress reads the local day (windows, streaks): it holds until the day turns.
                if !shown.isEmpty { validUntilMs = min(validUntilMs, dayTurnsAt) }
                return shown.map { $0.encoded() }
            }

            var writer = TrophyCaseWriter(
                customerId: customerId, capacity: 64 + held.recordBytes.count + listing.badges.count * 160)
            // Earned badges first, in display order, each with its newest current awards oldest first.
            for group in held.groups {
                let badge = listing.badges[group.badge]
                writer.appendEntry(
                    badgeField: badge.badgeField, locked: false, awards: held.records[group.records],
                    awardBytes: held.recordBytes, awardCount: group.count, progress: progress(badge, held: true),
                    criteriaTextField: badge.criteriaTextField)
            }
            // Then every badge still to be earned, in display order.
            var nextHeld = 0
            for (index, badge) in listing.badges.enumerated() {
                if nextHeld < held.groups.count, held.groups[nextHeld].badge == index {
                    nextHeld += 1
                    continue
                }
                validUntilMs = min(validUntilMs, TrophyCaseBuilder.earnableChangesAfter(badge.definition, atMs: now))
                guard TrophyCaseBuilder.isEarnable(badge.definition, atMs: now) else { continue }
                writer.appendEntry(
                    badgeField: badge.badgeField, locked: true, awards: [], awardBytes: [], awardCount: 0,
                    progress: progress(badge, held: false), criteriaTextField: badge.criteriaTextField)
            }
            return (writer.bytes, validUntilMs)
        }
    }

    /// A customer's awards held at `nowMs`, copied out of the map as stored records.
    private struct HeldAwards {
        var recordBytes: [UInt8] = []
        /// Each listed award's record, as a range of `recordBytes`, grouped by badge and oldest first.
        var records: [Range<Int>] = []
        /// One per badge held, in display order: its index in the listing, its listed awards' range
        /// of `records` (the newest), and how many current awards it has in all.
        var groups: [(badge: Int, records: Range<Int>, count: Int)] = []
        /// When the first of the customer's current awards expires (`Int64.max`: none does), listed
        /// or not: its expiry changes `award_count`.
        var firstExpiryMs = Int64.max

        /// Drops all but the newest `limit` listed awards of the last group. Only the last group is
        /// ever trimmed, so the bytes moved are that group's alone.
        mutating func trimLastGroup(to limit: Int) {
            guard let last = groups.last, last.records.count > limit else { return }
            let keepFrom = last.records.upperBound - limit
            let dropped = records[last.records.lowerBound].lowerBound..<records[keepFrom].lowerBound
            recordBytes.removeSubrange(dropped)
            records.removeSubrange(last.records.lowerBound..<keepFrom)
            for index in last.records.lowerBound..<records.count {
                records[index] =
                    (records[index].lowerBound - dropped.count)..<(records[index].upperBound - dropped.count)
            }
            groups[groups.count - 1].records = last.records.lowerBound..<records.count
        }
    }

    private func heldAwards(
        _ txn: borrowing ReadTransaction, customerId: String, listing: CatalogueListing, nowMs: Int64,
        awardsPerBadge limit: Int
    ) throws(BadgeError) -> HeldAwards {
        var held = HeldAwards()
        held.recordBytes.reserveCapacity(2048)
        // Award records come grouped by badge, in the same order as `keyOrder`: one merge pass.
        var position = 0
        try store.forEachAwardRecord(txn, customerId: customerId) { badgeKey, record throws(BadgeError) in
            guard let (expiresAtMs, revokedAtMs) = StoredAward.liveness(record) else {
                throw BadgeError(
                    .dataLoss, "a stored award of customer \(customerId) does not decode", reason: "record_corrupt")
            }
            guard revokedAtMs == 0, expiresAtMs == 0 || nowMs < expiresAtMs else { return }
            var order: Int32 = 1
            while position < listing.keyOrder.count {
                order = listing.badges[listing.keyOrder[position]].compareAwardKey(badgeKey)
                if order >= 0 { break }
                position += 1
            }
            // An award of a badge the catalogue does not have is not shown (as TrophyCaseBuilder does).
            guard order == 0 else { return }
            if expiresAtMs != 0 { held.firstExpiryMs = min(held.firstExpiryMs, expiresAtMs) }
            let badge = listing.keyOrder[position]
            let sameBadge = held.groups.last?.badge == badge
            // Trimmed in steps (at twice the limit, and when the badge's awards end), so a badge
            // held 100,000 times costs neither 100,000 records of memory nor a move per award.
            if !sameBadge || held.groups[held.groups.count - 1].records.count >= 2 * limit - 1 {
                held.trimLastGroup(to: limit)
            }
            let start = held.recordBytes.count
            held.recordBytes.append(contentsOf: record)
            held.records.append(start..<held.recordBytes.count)
            if sameBadge {
                let group = held.groups.count - 1
                held.groups[group].records = held.groups[group].records.lowerBound..<held.records.count
                held.groups[group].count += 1
            } else {
                held.groups.append((badge, (held.records.count - 1)..<held.records.count, 1))
            }
        }
        held.trimLastGroup(to: limit)
        held.groups.sort { $0.badge < $1.badge }
        return held
    }
}
