import BadgeCodec
import BadgeModel
import BadgeRules
import BadgeStore
import Foundation
import LMDB
import Synchronization

/// The catalogue as the writer uses it: each badge decoded, and the badges whose criteria listen to
/// each event type. Built from the catalogue inside the writer's transaction and used only on the
/// writer thread; any badge write or rolled-back batch drops it.
final class WriterCatalogue: @unchecked Sendable {
    private struct Loaded {
        var byId: [String: BadgeDefinition]
        var rulesByType: [ExactText: EventRules]
    }
    private var loaded: Loaded?

    private func load<M>(_ store: BadgeStore, _ txn: borrowing Transaction<M>) throws(BadgeError) -> Loaded {
        if let loaded { return loaded }
        let badges = try store.allBadges(txn)
        let fresh = Loaded(
            byId: Dictionary(uniqueKeysWithValues: badges.map { ($0.id, $0) }), rulesByType: Self.build(badges))
        loaded = fresh
        return fresh
    }

    /// A badge as the writer's transaction sees it.
    func badge<M>(id: String, store: BadgeStore, txn: borrowing Transaction<M>) throws(BadgeError) -> BadgeDefinition? {
        try load(store, txn).byId[id]
    }

    /// The active badges with criteria listening to `type`, in display order.
    func rules<M>(
        for type: String, store: BadgeStore, txn: borrowing Transaction<M>
    ) throws(BadgeError)
        -> EventRules
    {
        try load(store, txn).rulesByType[ExactText(type)] ?? .empty
    }

    func invalidate() { loaded = nil }

    /// The active badges with criteria by the event types they listen to, told apart byte for
    /// byte (an event of type "caf\u{E9}" is not one of "cafe\u{301}").
    static func build(_ catalogue: [BadgeDefinition]) -> [ExactText: EventRules] {
        var index: [ExactText: [RuleBadge]] = [:]
        for badge in catalogue.sorted(by: BadgeDefinition.displayOrder) where badge.status == .active {
            guard let criteria = badge.criteria else { continue }
            let rule = RuleBadge(
                badge: badge, criteria: criteria, fingerprints: BadgeEvaluator.fingerprints(of: criteria),
                keyPart: KeyPart(badge.id))
            for type in Set(criteria.criteria.map { ExactText($0.eventType) }) { index[type, default: []].append(rule) }
        }
        return index.mapValues(EventRules.init)
    }
}

/// The badges listening to one event type, in display order, and how their states are read.
struct EventRules: Sendable {
    let badges: [RuleBadge]
    let stateReads: ProgressReads
    /// The badges' own time zones, each once, and which of them each badge has (in `badges`'
    /// order): an event without a zone, of a customer without one, is read in each badge's zone,
    /// and each zone's local time is worked out once per event without hashing its name.
    let zones: [String]
    let zoneIndices: [Int]

    init(_ badges: [RuleBadge]) {
        self.badges = badges
        stateReads = ProgressReads(
            badges.map { (badgeId: $0.badge.id, criterionKeys: $0.criteria.criteria.map(\.key)) })
        var zones: [String] = []
        zoneIndices = badges.map { badge in
            if let known = zones.firstIndex(of: badge.criteria.timeZone) { return known }
            zones.append(badge.criteria.timeZone)
            return zones.count - 1
        }
        self.zones = zones
    }

    static let empty = EventRules([])
}

/// A badge with criteria, with what evaluating it needs worked out once. A class: planning goes
/// through ten of them per event, and copying the struct retained each of its strings and arrays.
final class RuleBadge: Sendable {
    let badge: BadgeDefinition
    let criteria: Criteria
    let fingerprints: [UInt64]
    /// The badge's part of the store's progress keys.
    let keyPart: KeyPart

    init(badge: BadgeDefinition, criteria: Criteria, fingerprints: [UInt64], keyPart: KeyPart) {
        self.badge = badge
        self.criteria = criteria
        self.fingerprints = fingerprints
        self.keyPart = keyPart
    }
}

/// What an event will do, worked out before anything is written.
struct EvaluatePlan: Sendable {
    var result: EvaluateResult
    /// Each award with its badge, so that the writer can date it when it stores it.
    var awards: [(award: Award, badge: BadgeDefinition)] = []
    /// Encoded while planning: off the writer when the plan is made ahead.
    var states = EncodedCriterionStates()
    /// `EvaluateResult.encodedProgress(result.progress)`, for the reply.
    var encodedProgress: [UInt8] = []
    /// `EvaluateResult.packedProgress(result.progress)`, for the event record.
    var packedProgress: [UInt8] = []
    var newTimeZone: String?
    /// An award decision looked at a badge's global count, which any customer's write changes: a
    /// plan made outside the writer is then made again inside it.
    var readGlobalCount = false
    /// The decisions depend on the time they were taken at (badge windows, award expiries) only
    /// through instants at or after this one: a writer whose clock has reached it plans again.
    var decidedUntilMs: Int64 = .max
}

/// An Evaluate planned on the caller's thread from a read transaction taken after `ticket`, at
/// `nowMs`.
struct PlannedEvaluate: Sendable {
    let plan: EvaluatePlan
    let ticket: UInt64
    let nowMs: Int64
}

extension BadgeService {
    /// Records an activity event, updates progress toward every badge listening to its type, and
    /// awards the badges it completes, all in one transaction through the writer. Idempotent on
    /// `eventId`. A dry run reports the same without writing (on the caller's thread).
    public func evaluate(
        _ event: ActivityEvent, deadline: ContinuousClock.Instant? = nil,
        completion: @escaping @Sendable (Result<EvaluateResult, BadgeError>) -> Void
    ) {
        submitEvaluate(event, deadline: deadline, completion: completion) { result, _ in result }
    }

    /// `evaluate`, answering with the reply already encoded as a `badges.v1.EvaluateResponse` (for
    /// the server): a new event's reply is the encoding just stored in its event record.
    public func evaluateEncoded(
        _ event: ActivityEvent, deadline: ContinuousClock.Instant? = nil,
        completion: @escaping @Sendable (Result<[UInt8], BadgeError>) -> Void
    ) {
        submitEvaluate(event, deadline: deadline, completion: completion) { result, encoded in
            encoded ?? result.encoded()
        }
    }

    /// `reply` gets the result and, when the transaction stored it, its encoding.
    private func submitEvaluate<R: Sendable>(
        _ event: ActivityEvent, deadline: ContinuousClock.Instant?,
        completion: @escaping @Sendable (Result<R, BadgeError>) -> Void,
        reply: @escaping @Sendable (EvaluateResult, [UInt8]?) -> R
    ) {
        do throws(BadgeError) {
            try Self.validate(event)
        } catch {
            return completion(.failure(error))
        }
        // An event without a time happened now. (A constant, so the closures below can capture it.)
        let event = event.occurredAtMs != 0 ? event : event.at(clock())
        if event.dryRun {
            // Taken before the read transaction, as in `planAhead` (see `CatalogueCache`).
            let generation = catalogueCache.generation
            let now = clock()
            return completion(
                Result { () throws(BadgeError) in
                    try store.read { txn throws(BadgeError) in
                        if let replay = try Self.replay(event, store: store, txn: txn) { return reply(replay, nil) }
                        let catalogue = try catalogueCache.snapshot(store, txn, generation: generation)
                        let rules = catalogue.rulesByType[ExactText(event.type)] ?? .empty
                        // Nothing is stored: the states and the progress are not encoded.
                        let plan = try Self.plan(event, rules: rules, store: store, txn: txn, now: now, storing: false)
                        return reply(plan.result, nil)
                    }
                })
        }
        let planned: PlannedEvaluate?
        let plansAhead = plansThisAhead()
        if plansAhead {
            // The writer may hold a batch back a moment for this event (see `WriteQueue.announce`).
            writer.announce()
            do throws(BadgeError) {
                switch try planAhead(event) {
                case .replayed(let result):
                    writer.withdraw()
                    return completion(.success(reply(result, nil)))
                case .planned(let plan): planned = plan
                }
            } catch {
                // The writer plans it again and answers with what it finds.
                planned = nil
            }
        } else {
            planned = nil
        }
        let index = writerCatalogue
        let commits = commitLog
        let counters = planCounters
        enqueue(deadline: deadline, announced: plansAhead, completion: completion) {
            store, txn, now throws(BadgeError) in
            if let replay = try Self.replay(event, store: store, txn: txn) { return reply(replay, nil) }
            // Decided at the plan's time; still true at the writer's if no boundary lies between.
            if let planned, !planned.plan.readGlobalCount, planned.nowMs <= now, now < planned.plan.decidedUntilMs,
                commits.unchanged(Array(event.customerId.utf8), since: planned.ticket),
                !store.changedInTransaction(txn, customerId: event.customerId)
            {
                counters.add(used: 1)
                let (result, encoded) = try Self.commit(planned.plan, event: event, store: store, txn: txn, now: now)
                return reply(result, encoded)
            }
            // A plan made ahead and found stale, or one that failed ahead, is made again; the rest
            // were left to the writer.
            if plansAhead {
                counters.add(redone: 1)
            } else {
                counters.add(onWriter: 1)
            }
            let rules = try index.rules(for: event.type, store: store, txn: txn)
            let plan = try Self.plan(event, rules: rules, store: store, txn: txn, now: now)
            let (result, encoded) = try Self.commit(plan, event: event, store: store, txn: txn, now: now)
            return reply(result, encoded)
        }
    }

    /// Whether this event is planned on the caller's thread: `writerPlanPercent` of every hundred
    /// are not, interleaved with the others (the turns are numbered, and 61 is prime to 100).
    private func plansThisAhead() -> Bool {
        switch writerPlanPercent {
        case 0: return true
        case 100: return false
        default:
            let turn = planTurns.wrappingAdd(1, ordering: .relaxed).oldValue
            return Int(turn &* 61 % 100) >= writerPlanPercent
        }
    }

    private enum PlannedAhead {
        /// The event was evaluated before: its stored outcome (committed, so durable).
        case replayed(EvaluateResult)
        case planned(PlannedEvaluate)
    }

    /// Plans `event` on the caller's thread, from a read transaction: the reads, the evaluation
    /// and the encoding then run in parallel with the writer, which only checks and stores.
    private func planAhead(_ event: ActivityEvent) throws(BadgeError) -> PlannedAhead {
        // Both taken before the read transaction (see `CommitLog` and `CatalogueCache`).
        let ticket = commitLog.ticket()
        let generation = catalogueCache.generation
        let now = clock()
        return try store.read { txn throws(BadgeError) in
            if let replay = try Self.replay(event, store: store, txn: txn) { return .replayed(replay) }
            let catalogue = try catalogueCache.snapshot(store, txn, generation: generation)
            let plan = try Self.plan(
                event, rules: catalogue.rulesByType[ExactText(event.type)] ?? .empty, store: store, txn: txn, now: now)
            return .planned(PlannedEvaluate(plan: plan, ticket: ticket, nowMs: now))
        }
    }

    static func validate(_ event: ActivityEvent) throws(BadgeError) {
        try Validate.opaqueId(event.eventId, field: "event_id")
        try Validate.opaqueId(event.customerId, field: "customer_id")
        try Validate.opaqueId(event.type, field: "type")
        try Validate.fields(event.attributes, field: "attributes")
        if !event.amount.isFinite { throw .invalidArgument("amount is not a finite number", reason: "out_of_range") }
        if event.occurredAtMs < 0 { throw .invalidArgument("occurred_at_ms is negative", reason: "out_of_range") }
        if event.occurredAtMs > Timestamps.latestMs {
            // Adding a zone's offset to a time near Int64.max trapped (and took the server down).
            throw .invalidArgument(
                "occurred_at_ms \(event.occurredAtMs) is after \(Timestamps.iso(Timestamps.latestMs))",
                reason: "out_of_range")
        }
        if !event.timeZone.isEmpty { _ = try LocalTime(utcMs: 0, timeZone: event.timeZone) }
    }

    /// The original outcome of an event id seen before.
    static func replay<M>(
        _ event: ActivityEvent, store: BadgeStore, txn: borrowing Transaction<M>
    ) throws(BadgeError)
        -> EvaluateResult?
    {
        guard let record = try store.eventRecord(txn, eventId: event.eventId) else { return nil }
        // By bytes, as the store keys them: canonically equivalent ids are two customers.
        guard record.customerId.isSameId(event.customerId) else {
            throw BadgeError(
                .failedPrecondition,
                "event_id \(event.eventId) was already used for customer \(record.customerId)\(event.customerId.differingBytesNote(from: record.customerId))",
                reason: "event_id_reused")
        }
        var result =
            record.progressPacked.isEmpty
            ? try EvaluateResult(decoding: record.response)
            : EvaluateResult(
                awarded: [],
                progress: try EvaluateResult.unpackProgress(record.progressPacked))
        if record.awardsById || !record.progressPacked.isEmpty {
            result.awarded = try record.awardedIds.map { (id) throws(BadgeError) in
                guard var award = try store.award(txn, id: id) else {
                    throw BadgeError(
                        .dataLoss, "award \(id) of event \(event.eventId) is missing", reason: "index_corrupt")
                }
                // As it was returned then: a revocation is the only change an award ever sees.
                award.revokedAtMs = 0
                award.revokeReason = ""
                award.revokedBy = ""
                return award
            }
        }
        result.replayed = true
        return result
    }

    /// Reads the customer's progress, evaluates `event` against `rules` and decides its awards. With
    /// `storing` (all but dry runs) it also encodes what the writer will store and send back.
    static func plan<M>(
        _ event: ActivityEvent, rules: EventRules, store: BadgeStore, txn: borrowing Transaction<M>, now: Int64,
        storing: Bool = true
    ) throws(BadgeError) -> EvaluatePlan {
        let badges = rules.badges
        var plan = EvaluatePlan(result: EvaluateResult(awarded: [], progress: []))
        let customerZone = try store.customerTimeZone(txn, customerId: event.customerId)
        if !event.timeZone.isEmpty, event.timeZone != customerZone { plan.newTimeZone = event.timeZone }
        guard !badges.isEmpty else { return plan }

        // The customer's awards are tallied per badge and only when needed (a prerequisite to check,
        // a badge completed): a loyal customer's whole award history is not read for every event.
        var tallies: [String: AwardTally] = [:]
        var awardedNow: Set<String> = []
        func tally(_ badgeId: String) throws(BadgeError) -> AwardTally {
            if let known = tallies[badgeId] { return known }
            let loaded = try store.awardTally(txn, customerId: event.customerId, badgeId: badgeId, nowMs: now)
            tallies[badgeId] = loaded
            plan.decidedUntilMs = min(plan.decidedUntilMs, loaded.changesAtMs)
            return loaded
        }
        // Prerequisites only need to be held: their tallies stop at the first award held, so they
        // are kept apart from the full ones the award decisions use.
        var held: [String: Bool] = [:]
        func holdsAll(_ badgeIds: [String]) throws(BadgeError) -> Bool {
            for badgeId in badgeIds where !awardedNow.contains(badgeId) {
                if let known = tallies[badgeId]?.holds ?? held[badgeId] {
                    if !known { return false }
                    continue
                }
                let loaded = try store.awardTally(
                    txn, customerId: event.customerId, badgeId: badgeId, nowMs: now, untilHeld: true)
                plan.decidedUntilMs = min(plan.decidedUntilMs, loaded.changesAtMs)
                held[badgeId] = loaded.holds
                if !loaded.holds { return false }
            }
            return true
        }

        // Display order, so a prerequisite earned by this event counts for the badges after it.
        // The event's or the customer's zone, when there is one, is every badge's.
        let sharedZone = !event.timeZone.isEmpty ? event.timeZone : customerZone
        var sharedLocal: LocalTime?
        var badgeZoneLocals = [LocalTime?](repeating: nil, count: sharedZone.isEmpty ? rules.zones.count : 0)
        func localTime(in zone: String, knownAs known: inout LocalTime?) throws(BadgeError) -> LocalTime {
            if let known { return known }
            let local = try LocalTime(utcMs: event.occurredAtMs, timeZone: zone)
            known = local
            return local
        }
        // About one change per listening badge; growing the array one badge at a time was 4% of a plan.
        plan.result.progress.reserveCapacity(badges.count)
        var storedStates = try store.criterionStateList(txn, customerId: event.customerId, rules.stateReads)
        var stateOffset = 0
        let customerPart = KeyPart(event.customerId)
        for (position, rule) in badges.enumerated() {
            // Through the rule (a class), not copied out: a copy retained each of its strings.
            let criteria = rule.criteria
            // Handed over, not shared, so that the evaluator changes the states in place.
            var states = SmallList<CriterionState?>()
            for index in stateOffset..<(stateOffset + criteria.criteria.count) {
                // Moved, not copied (a copy retains each of the state's arrays and strings).
                var state: CriterionState? = nil
                swap(&state, &storedStates[index])
                states.append(state)
            }
            stateOffset += criteria.criteria.count
            let zone: String
            let local: LocalTime
            if !sharedZone.isEmpty {
                zone = sharedZone
                local = try localTime(in: zone, knownAs: &sharedLocal)
            } else {
                let zoneIndex = rules.zoneIndices[position]
                zone = rules.zones[zoneIndex]
                local = try localTime(in: zone, knownAs: &badgeZoneLocals[zoneIndex])
            }
            var outcome = try BadgeEvaluator.evaluate(
                criteria, fingerprints: rule.fingerprints,
                states: consume states,
                event: event, timeZone: zone, prerequisitesHeld: try holdsAll(criteria.prerequisites), local: local)
            outcome.forEachProgress {
                plan.result.progress.append(ProgressChange(badgeId: rule.badge.id, progress: $0))
            }
            if outcome.complete {
                if !rule.badge.repeatable, let heldUntilMs = BadgeEvaluator.heldUntil(outcome, now: now) {
                    // Held by an award its rules made (a revocation clears the mark): refused as
                    // already held without reading the customer's awards. Aged, most completions
                    // are of these: the reads were ~9 of ~125 µs per event.
                    plan.decidedUntilMs = min(plan.decidedUntilMs, heldUntilMs)
                } else {
                    let decision = try award(
                        rule.badge, criteria, outcome, event,
                        IssuePolicy.needsTally(rule.badge) ? try tally(rule.badge.id) : AwardTally(), store, txn, now)
                    plan.readGlobalCount = plan.readGlobalCount || decision.readGlobalCount
                    plan.decidedUntilMs = min(plan.decidedUntilMs, decision.decidedUntilMs)
                    if let award = decision.award {
                        plan.awards.append((award, rule.badge))
                        awardedNow.insert(rule.badge.id)
                        if rule.badge.repeatable {
                            BadgeEvaluator.startNewRound(&outcome)
                        } else {
                            // The commit dates the award a little later: its expiry is at or after this.
                            BadgeEvaluator.markHeld(&outcome, until: award.expiresAtMs == 0 ? .max : award.expiresAtMs)
                        }
                    }
                }
            }
            if storing {
                outcome.forEachChanged { index, state in
                    plan.states.append(
                        customer: customerPart, badge: rule.keyPart, criterionKey: criteria.criteria[index].key, state)
                }
            }
        }
        plan.result.awarded = plan.awards.map(\.award)
        if storing {
            plan.encodedProgress = EvaluateResult.encodedProgress(plan.result.progress)
            plan.packedProgress = EvaluateResult.packedProgress(plan.result.progress)
        }
        return plan
    }

    /// What the issuing rules say about awarding `badge` to an event's customer now.
    struct AwardDecision {
        /// Nil when the rules refuse it (already held, cap reached, outside the window): criteria
        /// met is not a right to a badge the rules forbid.
        var award: Award?
        /// The decision read the badge's global count, which any customer's write changes.
        var readGlobalCount: Bool
        /// The decision stands until this instant (the badge's next window boundary).
        var decidedUntilMs: Int64
    }

    private static func award<M>(
        _ badge: BadgeDefinition, _ criteria: Criteria, _ outcome: BadgeEvaluator.Outcome, _ event: ActivityEvent,
        _ tally: AwardTally, _ store: BadgeStore, _ txn: borrowing Transaction<M>, _ now: Int64
    ) throws(BadgeError) -> AwardDecision {
        // The earliest of the badge's instants still ahead (one at a time: an array of them was
        // an allocation per completed badge).
        var decidedUntilMs = Int64.max
        if badge.validFromMs > now { decidedUntilMs = badge.validFromMs }
        if badge.validUntilMs > now { decidedUntilMs = min(decidedUntilMs, badge.validUntilMs) }
        if badge.expiresAtMs > now { decidedUntilMs = min(decidedUntilMs, badge.expiresAtMs) }
        var decision = AwardDecision(
            award: nil, readGlobalCount: badge.globalCap != 0, decidedUntilMs: decidedUntilMs)
        // Only a capped badge's decision depends on its global count (so only then is it read).
        let context = IssuePolicy.Context(
            badge: badge, customerId: event.customerId, tally: tally,
            globalCount: badge.globalCap != 0 ? try store.unrevokedCount(txn, badgeId: badge.id) : 0, nowMs: now)
        // Most completions on a busy customer are of badges already held: no refusal text for them.
        if IssuePolicy.refusal(context) != nil { return decision }
        decision.award = Award(
            awardId: 0, customerId: event.customerId, badgeId: badge.id, earnedAtMs: now,
            expiresAtMs: IssuePolicy.expiry(of: badge, earnedAtMs: now), source: .rule,
            evidence: outcome.evidence(for: criteria),
            evidenceFields: ["event_id": event.eventId, "event_type": event.type],
            requestId: ruleRequestId(eventId: event.eventId, badgeId: badge.id))
        return decision
    }

    static func commit(
        _ plan: EvaluatePlan, event: ActivityEvent, store: BadgeStore, txn: borrowing WriteTransaction, now: Int64
    ) throws(BadgeError) -> (result: EvaluateResult, encoded: [UInt8]) {
        var result = plan.result
        result.awarded = []
        var awardRecords: [[UInt8]] = []
        for (award, badge) in plan.awards {
            // Dated when stored (a plan made ahead was decided a little earlier, see `decidedUntilMs`).
            var dated = award
            dated.earnedAtMs = now
            dated.expiresAtMs = IssuePolicy.expiry(of: badge, earnedAtMs: now)
            // Not entered in `requests`: the event record answers a retry (for as long as it is
            // kept; after `--event-retention-days` a retry counts as a new event either way), and
            // Issue refuses request ids with the rule prefix, so nothing would look the entry up.
            let (stored, record) = try store.insertAwardRecord(txn, dated, indexingRequest: false)
            result.awarded.append(stored)
            awardRecords.append(record)
        }
        try store.putCriterionStates(txn, customerId: event.customerId, plan.states)
        if let zone = plan.newTimeZone { try store.setCustomerTimeZone(txn, customerId: event.customerId, zone) }
        let encoded = EvaluateResult.encoded(
            awardRecords: awardRecords, encodedProgress: plan.encodedProgress, replayed: false)
        // The awards are stored once, as award records: a replay reads them back by id.
        let record = EventRecord(
            customerId: event.customerId, type: event.type, occurredAtMs: event.occurredAtMs, recordedAtMs: now,
            awardedIds: result.awarded.map(\.awardId), response: [], awardsById: true,
            progressPacked: plan.packedProgress)
        try store.putEventRecord(txn, eventId: event.eventId, record)
        return (result, encoded)
    }
}

extension ActivityEvent {
    fileprivate func at(_ ms: Int64) -> ActivityEvent {
        var event = self
        event.occurredAtMs = ms
        return event
    }
}

extension Result where Failure == BadgeError {
    init(_ body: () throws(BadgeError) -> Success) {
        do throws(BadgeError) {
            self = .success(try body())
        } catch {
            self = .failure(error)
        }
    }
}
