import BadgeCodec
import BadgeModel
import BadgeRules
import BadgeStore
import CoreMetrics
import Foundation
import LMDB
import Logging
import Synchronization

/// The badge domain operations over the store and the rules.
///
/// Reads run on the caller's thread in one short read transaction. Writes go through the single
/// writer thread (group commit): their completion runs on that thread after the commit, so it must
/// be quick (hop to an event loop, resume a continuation).
///
/// Call `shutdown()` before dropping a service: it commits what is queued and stops the writer.
public final class BadgeService: Sendable {
    public let store: BadgeStore
    let writer: WriteQueue
    let clock: @Sendable () -> Int64
    let startedAtMs: Int64
    let logger: Logger
    /// The writer's decoded catalogue (Issue and Evaluate look badges up in it).
    let writerCatalogue = WriterCatalogue()
    let catalogueCache = CatalogueCache()
    /// Encoded List replies of customers nothing has changed for since.
    let trophyCases: TrophyCaseCache
    let storeMetrics: StoreMetrics
    let planMetrics: PlanMetrics
    /// How long evaluated events are kept for idempotency (0: forever); see `pruneExpiredEvents`.
    public let eventRetentionMs: Int64
    /// Of every 100 Evaluate events, how many the writer plans itself; the others are planned on
    /// the caller's thread, and the writer only checks and stores those plans.
    public let writerPlanPercent: Int
    /// Numbers events, to spread those the writer plans evenly among the others.
    let planTurns = Atomic<UInt>(0)
    let commitLog = CommitLog()
    let planCounters = PlanCounters()

    /// Wall-clock Unix milliseconds.
    public static let systemClock: @Sendable () -> Int64 = {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }

    /// - Parameters:
    ///   - clock: Unix milliseconds; injectable so tests can move time.
    ///   - maxBatch: most writes committed in one transaction.
    ///   - listCacheBytes: the most memory kept encoded List replies may use (0: none kept). A write
    ///     drops the replies it makes stale before its caller is answered.
    ///   - eventRetentionMs: how long evaluated events are kept so that a retry returns the original
    ///     outcome; older ones are deleted once a minute, and a retry of one counts as new. 0 keeps
    ///     them forever.
    ///   - pruneInterval: how often the writer looks for events past the retention.
    ///   - writerPlanPercent: of every 100 Evaluate events, how many the writer reads, evaluates
    ///     and encodes itself (0-100). The others are planned on the caller's thread, in parallel
    ///     with the writer, which then only checks that nothing read has changed and stores the
    ///     result (or plans again itself). A plan made by the writer costs less CPU (no second
    ///     look, no read transaction of its own) but is made on the one thread every write passes
    ///     through: worth it where the callers' threads are the busier ones (see `badged
    ///     --evaluate-writer-share`).
    ///   - metricsFactory: where the writer's and the store's metrics go; passed explicitly so that
    ///     tests need not bootstrap the process-wide `MetricsSystem`.
    public init(
        store: BadgeStore, clock: @escaping @Sendable () -> Int64 = BadgeService.systemClock, maxBatch: Int = 4096,
        listCacheBytes: Int = BadgeService.defaultListCacheBytes, eventRetentionMs: Int64 = 0,
        pruneInterval: Duration = .seconds(60), writerPlanPercent: Int = 0,
        logger: Logger = Logger(label: "badges.service"), metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.store = store
        let catalogueCache = self.catalogueCache
        let trophyCases = TrophyCaseCache(capacityBytes: listCacheBytes)
        self.trophyCases = trophyCases
        self.eventRetentionMs = max(eventRetentionMs, 0)
        self.writerPlanPercent = min(max(writerPlanPercent, 0), 100)
        let commitLog = self.commitLog
        self.clock = clock
        self.startedAtMs = clock()
        self.logger = logger
        self.storeMetrics = StoreMetrics(environment: store.environment, factory: metricsFactory)
        self.planMetrics = PlanMetrics(counters: planCounters, factory: metricsFactory)
        let writerCatalogue = self.writerCatalogue
        let growth = StoreGrowth(environment: store.environment, logger: logger)
        self.writer = WriteQueue(
            store: store, clock: clock, maxBatch: maxBatch, logger: logger,
            metrics: WriterMetrics(factory: metricsFactory),
            onRollback: { writerCatalogue.invalidate() },
            afterCommit: { changes in
                // The catalogue first: a List that sees the new trophy-case generation must also see
                // the new catalogue generation, or it could cache a reply built from the old badges.
                if changes.catalogue { catalogueCache.invalidate() }
                trophyCases.committed(changes)
                commitLog.committed(changes)
            },
            maintenance: eventRetentionMs > 0
                ? Self.pruneMaintenance(
                    store: store, retentionMs: eventRetentionMs, interval: max(pruneInterval, .milliseconds(10)),
                    logger: logger) : nil,
            makeRoom: { growth.makeRoom(whenFull: $0) })
    }

    /// 32 MiB: the trophy cases of ~20,000 customers with ten awards each.
    public static let defaultListCacheBytes = 32 << 20

    /// Commits everything already queued and stops the writer. Later writes fail with UNAVAILABLE.
    public func shutdown() {
        writer.stop()
    }

    /// True on the writer thread. Every completion of a write that reached the writer runs there,
    /// one committed batch at a time; completions can also run elsewhere (a write refused before it
    /// was queued, or during shutdown).
    public var isWriterThread: Bool { writer.isWriterThread }

    /// Runs `observer` on the writer thread after each batch, once all of that batch's completions
    /// have run. A front end that hands replies to other threads can gather them during the batch
    /// and hand them over together (one wake-up per batch instead of one per reply). Returns a
    /// token for `removeBatchObserver`.
    public func addBatchObserver(_ observer: @escaping @Sendable () -> Void) -> UInt64 {
        writer.addBatchObserver(observer)
    }

    public func removeBatchObserver(_ token: UInt64) {
        writer.removeBatchObserver(token)
    }

    public var writerStatistics: WriterStatistics { writer.stats }

    public var evaluatePlanStatistics: EvaluatePlanStatistics { planCounters.statistics }

    /// Samples the metrics that are not updated as they change (journal checkpoints, map usage,
    /// Evaluate plans); call it right before the metrics are read, e.g. on each scrape.
    public func refreshStoreMetrics() {
        storeMetrics.refresh()
        planMetrics.refresh()
    }

    // MARK: - Reads

    public func badge(id: String) throws(BadgeError) -> BadgeDefinition {
        try Validate.badgeId(id)
        guard let badge = try store.read({ txn throws(BadgeError) in try store.badge(txn, id: id) }) else {
            throw Self.badgeNotFound(id)
        }
        return badge
    }

    /// Stored badges that today's definition rules would refuse, each with the reason (the field
    /// named), in id order. Rules tighten over time: a badge stored before a rule existed stays as
    /// it was, and may not do what it says (a DISTINCT target above what is remembered never
    /// awards). `badged` logs them at start; replacing such a badge with a valid definition clears
    /// the entry.
    public func badgesFailingRules() throws(BadgeError) -> [(badgeId: String, problem: BadgeError)] {
        var failing: [(badgeId: String, problem: BadgeError)] = []
        for badge in try badges(includeInactive: true).sorted(by: { $0.id < $1.id }) {
            do throws(BadgeError) {
                try DefinitionRules.validate(badge)
            } catch {
                failing.append((badge.id, error))
            }
        }
        return failing
    }

    /// The catalogue in display order (rank, then id).
    public func badges(includeInactive: Bool) throws(BadgeError) -> [BadgeDefinition] {
        let all = try store.read { txn throws(BadgeError) in try store.allBadges(txn) }
        return all.filter { includeInactive || $0.status == .active }.sorted(by: BadgeDefinition.displayOrder)
    }

    /// A customer's trophy case: earned badges in rank order, then locked ones.
    /// - Parameter awardsPerBadge: List's `awards_per_badge`: how many of each badge's current
    ///   awards to list, the newest (0: the default, 100).
    public func trophyCase(customerId: String, awardsPerBadge: UInt32 = 0) throws(BadgeError) -> TrophyCase {
        try Validate.opaqueId(customerId, field: "customer_id")
        let shown = try Validate.awardsPerBadge(awardsPerBadge)
        let now = clock()
        let generation = catalogueCache.generation
        return try store.read { txn throws(BadgeError) in
            let catalogue = try catalogueCache.snapshot(store, txn, generation: generation)
            return TrophyCaseBuilder.build(
                customerId: customerId, catalogue: catalogue.badges,
                awards: try store.awards(txn, customerId: customerId),
                nowMs: now,
                states: catalogue.hasCriteria
                    ? try store.allCriterionStates(txn, customerId: customerId, currentKeys: catalogue.criterionKeys)
                    : [:],
                timeZone: catalogue.hasCriteria ? try store.customerTimeZone(txn, customerId: customerId) : "",
                awardsPerBadge: shown)
        }
    }

    /// Up to `limit` awards after `afterAwardId`, in award id order, and no more than about
    /// `maxBytes` of them (always at least one).
    public func exportAwards(
        after afterAwardId: UInt64, limit: Int, maxBytes: Int = BadgeService.exportChunkBytes
    ) throws(BadgeError) -> [Award] {
        try store.read { txn throws(BadgeError) in
            try store.awards(txn, after: afterAwardId, limit: limit, maxBytes: maxBytes)
        }
    }

    /// An export chunk stops growing past this many bytes of stored awards (1 MiB): 4,096 awards
    /// with long evidence and many evidence fields could otherwise make one reply of hundreds of
    /// MB, past what clients accept (the reference client's default limit is 64 MiB).
    public static let exportChunkBytes = 1 << 20

    public func health(version: String, protocolVersion: UInt32) throws(BadgeError) -> HealthInfo {
        let counts = try store.read { txn throws(BadgeError) in try store.counts(txn) }
        let now = clock()
        return HealthInfo(
            version: version, protocolVersion: protocolVersion, startedAtMs: startedAtMs, uptimeMs: now - startedAtMs,
            badges: UInt64(counts.badges), awards: UInt64(counts.awards))
    }

    // MARK: - Writes

    /// Creates a badge, or replaces it when `request.replace` is set.
    public func putBadge(
        _ request: PutBadgeRequest, deadline: ContinuousClock.Instant? = nil,
        completion: @escaping @Sendable (Result<PutBadgeResult, BadgeError>) -> Void
    ) {
        do throws(BadgeError) {
            try DefinitionRules.validate(request.badge)
        } catch {
            return completion(.failure(error))
        }
        let index = writerCatalogue
        enqueue(deadline: deadline, completion: completion) {
            store, txn, now throws(BadgeError) in
            var badge = request.badge
            let existing = try store.badge(txn, id: badge.id)
            if let existing, !request.replace {
                throw BadgeError(
                    .alreadyExists, "badge \(badge.id) already exists (\"\(existing.name)\"); set replace to update it",
                    reason: "badge_exists")
            }
            badge.createdAtMs = existing?.createdAtMs ?? now
            badge.updatedAtMs = now
            try store.putBadge(txn, badge)
            index.invalidate()
            return PutBadgeResult(badge: badge, created: existing == nil)
        }
    }

    /// Stops issuing a badge. Awards already earned stay. Deactivating an inactive badge succeeds.
    public func deactivateBadge(
        id: String, deadline: ContinuousClock.Instant? = nil,
        completion: @escaping @Sendable (Result<BadgeDefinition, BadgeError>) -> Void
    ) {
        do throws(BadgeError) {
            try Validate.badgeId(id)
        } catch {
            return completion(.failure(error))
        }
        let index = writerCatalogue
        enqueue(deadline: deadline, completion: completion) {
            store, txn, now throws(BadgeError) in
            guard var badge = try store.badge(txn, id: id) else { throw Self.badgeNotFound(id) }
            if badge.status != .inactive {
                badge.status = .inactive
                badge.updatedAtMs = now
                try store.putBadge(txn, badge)
                index.invalidate()
            }
            return badge
        }
    }

    /// Awards a badge. Idempotent on `requestId`: a retry returns the original award with `replayed`.
    public func issue(
        _ request: IssueRequest, deadline: ContinuousClock.Instant? = nil,
        completion: @escaping @Sendable (Result<IssueResult, BadgeError>) -> Void
    ) {
        submitIssue(request, deadline: deadline, completion: completion) { result, _ in result }
    }

    /// `issue`, answering with the reply already encoded as a `badges.v1.IssueResponse` (for the
    /// server): the award's bytes are the record just stored, not a second encoding.
    public func issueEncoded(
        _ request: IssueRequest, deadline: ContinuousClock.Instant? = nil,
        completion: @escaping @Sendable (Result<[UInt8], BadgeError>) -> Void
    ) {
        submitIssue(request, deadline: deadline, completion: completion) { result, record in
            IssueReplyWriter.encode(awardRecord: record, replayed: result.replayed)
        }
    }

    private func submitIssue<R: Sendable>(
        _ request: IssueRequest, deadline: ContinuousClock.Instant?,
        completion: @escaping @Sendable (Result<R, BadgeError>) -> Void,
        reply: @escaping @Sendable (IssueResult, [UInt8]) -> R
    ) {
        do throws(BadgeError) {
            try Validate.opaqueId(request.customerId, field: "customer_id")
            try Validate.badgeId(request.badgeId)
            try Validate.opaqueId(request.requestId, field: "request_id")
            if request.requestId.hasPrefix(Self.ruleRequestPrefix) {
                throw BadgeError.invalidArgument(
                    "request_id may not start with \"\(Self.ruleRequestPrefix)\": that prefix names awards made by Evaluate",
                    reason: "reserved_request_id")
            }
            try Validate.text(request.evidence, field: "evidence")
            try Validate.fields(request.evidenceFields, field: "evidence_fields")
        } catch {
            return completion(.failure(error))
        }
        let catalogue = writerCatalogue
        enqueue(deadline: deadline, completion: completion) { store, txn, now throws(BadgeError) in
            let (result, record) = try Self.applyIssue(request, catalogue: catalogue, store: store, txn: txn, now: now)
            return reply(result, record)
        }
    }

    /// Revokes one award, or every unrevoked award of a badge the customer holds. Records are kept.
    public func revoke(
        _ request: RevokeRequest, deadline: ContinuousClock.Instant? = nil,
        completion: @escaping @Sendable (Result<[Award], BadgeError>) -> Void
    ) {
        do throws(BadgeError) {
            try Validate.opaqueId(request.customerId, field: "customer_id")
            if request.awardId == 0 && request.badgeId.isEmpty {
                throw BadgeError.invalidArgument(
                    "set award_id or badge_id to say what to revoke", reason: "missing_field")
            }
            if !request.badgeId.isEmpty { try Validate.badgeId(request.badgeId) }
            if request.reason.isEmpty {
                throw BadgeError.invalidArgument(
                    "reason is empty; say why the award is revoked", reason: "missing_field")
            }
            try Validate.text(request.reason, field: "reason")
            try Validate.text(request.actor, field: "actor")
        } catch {
            return completion(.failure(error))
        }
        enqueue(deadline: deadline, completion: completion) { store, txn, now throws(BadgeError) in
            try Self.applyRevoke(request, store: store, txn: txn, now: now)
        }
    }

    /// Queues `apply` for the writer; `completion` gets its result after the batch commits.
    func enqueue<R: Sendable>(
        deadline: ContinuousClock.Instant?, announced: Bool = false,
        completion: @escaping @Sendable (Result<R, BadgeError>) -> Void,
        _ apply: @escaping @Sendable (BadgeStore, borrowing WriteTransaction, Int64) throws(BadgeError) -> R
    ) {
        let store = self.store
        writer.submit(
            PendingWrite(
                deadline: deadline,
                apply: { txn, now throws(BadgeError) in
                    let result = try apply(store, txn, now)
                    return { completion(.success(result)) }
                },
                fail: { completion(.failure($0)) }), announced: announced)
    }

    /// Request ids of awards made by Evaluate start with this; Issue refuses it.
    static let ruleRequestPrefix = "event:"

    /// The request id of an award made by Evaluate: `event:<event id>:<badge id>` (built by
    /// appending, in one allocation: interpolation took two for every award).
    static func ruleRequestId(eventId: String, badgeId: String) -> String {
        var id = ruleRequestPrefix
        id.reserveCapacity(ruleRequestPrefix.utf8.count + eventId.utf8.count + 1 + badgeId.utf8.count)
        id += eventId
        id += ":"
        id += badgeId
        return id
    }

    static func badgeNotFound(_ id: String) -> BadgeError {
        BadgeError(.notFound, "badge \(id) does not exist", reason: "badge_not_found")
    }
}
