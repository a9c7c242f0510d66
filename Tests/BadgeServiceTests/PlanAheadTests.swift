import BadgeCodec
import BadgeModel
import BadgeStore
import BadgeTestSupport
import CoreMetrics
import Dispatch
import Foundation
import Logging
import Synchronization
import Testing

@testable import BadgeService

/// Evaluate plans on the caller's thread and the writer stores the plan only if nothing it read has
/// been written since. These tests hold the writer so that plans are made against a store that
/// then changes under them.
@Suite("Evaluate plans made outside the writer")
struct PlanAheadTests {
    static let counter = BadgeDefinition(
        id: "counter", name: "Counter",
        criteria: Criteria(
            combine: .any,
            criteria: [
                Criterion(key: "n", eventType: "purchase", target: 1_000),
                Criterion(key: "spend", eventType: "purchase", aggregate: .sum, target: 1_000_000),
            ]))

    /// A badge earned by `target` purchases, shaped by `configure` (windows, caps, expiry).
    static func onPurchases(
        _ id: String, target: Double = 1, _ configure: (inout BadgeDefinition) -> Void = { _ in }
    ) -> BadgeDefinition {
        var badge = BadgeDefinition(
            id: id, name: id, criteria: Criteria(criteria: [Criterion(key: "n", eventType: "purchase", target: target)])
        )
        configure(&badge)
        return badge
    }

    func purchase(_ id: String, _ customer: String, amount: Double = 10) -> ActivityEvent {
        ActivityEvent(
            eventId: id, customerId: customer, type: "purchase", occurredAtMs: ServiceHarness.startMs, amount: amount)
    }

    /// Queues a write that keeps the writer busy until the returned gate is opened.
    func holdWriter(_ service: BadgeService) -> DispatchSemaphore {
        let gate = DispatchSemaphore(value: 0)
        let held = DispatchSemaphore(value: 0)
        service.enqueue(deadline: nil, completion: { (_: Result<Int, BadgeError>) in }) { _, _, _ in
            held.signal()
            gate.wait()
            return 0
        }
        held.wait()
        return gate
    }

    /// Starts an Evaluate (planned at once, on this thread) and returns a way to wait for it.
    func start(_ service: BadgeService, _ event: ActivityEvent) -> () async throws -> EvaluateResult {
        let box = Mutex<Result<EvaluateResult, BadgeError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        service.evaluate(event) { result in
            box.withLock { $0 = result }
            done.signal()
        }
        return {
            await withCheckedContinuation { continuation in
                DispatchQueue.global().async {
                    done.wait()
                    continuation.resume()
                }
            }
            return try box.withLock { $0! }.get()
        }
    }

    func count(_ harness: ServiceHarness, _ customer: String) throws -> (count: Double, sum: Double) {
        let states = try harness.store.read { txn throws(BadgeError) in
            try harness.store.criterionStates(txn, customerId: customer, badgeId: "counter")
        }
        return (states["n"]?.count ?? 0, states["spend"]?.sum ?? 0)
    }

    @Test("a dry run's plan decides the same as a stored one and encodes nothing for the writer")
    func dryRunPlanEncodesNothing() async throws {
        let harness = try ServiceHarness()
        defer { harness.close() }
        try await harness.putBadge(Self.counter)
        try await harness.putBadge(Self.onPurchases("first"))
        _ = try await harness.service.evaluate(purchase("e0", "c", amount: 3))
        let event = purchase("e1", "c", amount: 25)
        let (stored, dry) = try harness.store.read { txn throws(BadgeError) in
            let rules = WriterCatalogue.build(try harness.store.allBadges(txn))[ExactText("purchase")] ?? .empty
            let now = ServiceHarness.startMs
            return (
                try BadgeService.plan(event, rules: rules, store: harness.store, txn: txn, now: now),
                try BadgeService.plan(event, rules: rules, store: harness.store, txn: txn, now: now, storing: false)
            )
        }
        #expect(dry.result == stored.result)
        #expect(stored.result.progress.count == 3)
        #expect(!stored.states.isEmpty && !stored.encodedProgress.isEmpty && !stored.packedProgress.isEmpty)
        #expect(dry.states.isEmpty && dry.encodedProgress.isEmpty && dry.packedProgress.isEmpty)
    }

    @Test("a second plan of the same customer in one batch is made again, so no event is lost")
    func sameCustomerSameBatch() async throws {
        let harness = try ServiceHarness()
        defer { harness.close() }
        try await harness.putBadge(Self.counter)
        let gate = holdWriter(harness.service)
        let first = start(harness.service, purchase("e1", "c", amount: 5))
        let second = start(harness.service, purchase("e2", "c", amount: 7))
        let other = start(harness.service, purchase("e3", "d", amount: 11))
        gate.signal()
        let results = try await [first(), second(), other()]
        #expect(results.map(\.progress.count) == [2, 2, 2])
        // Both of c's events were planned from a store with neither: storing the second plan as made
        // would have lost the first.
        #expect(results[1].progress.first { $0.progress.key == "n" }?.progress.current == 2)
        #expect(try count(harness, "c") == (2, 12))
        #expect(try count(harness, "d") == (1, 11))
        #expect(harness.service.evaluatePlanStatistics == EvaluatePlanStatistics(used: 2, redone: 1))
    }

    @Test("a plan overtaken by an earlier commit for its customer is made again")
    func overtakenByCommit() async throws {
        // One write per transaction: the two plans land in different commits.
        let harness = try ServiceHarness(maxBatch: 1)
        defer { harness.close() }
        let service = harness.service
        _ = try await service.putBadge(PutBadgeRequest(badge: Self.counter))
        let gate = holdWriter(service)
        let first = start(service, purchase("e1", "c"))
        let second = start(service, purchase("e2", "c"))
        gate.signal()
        _ = try await (first(), second())
        #expect(try count(harness, "c") == (2, 20))
        #expect(service.evaluatePlanStatistics == EvaluatePlanStatistics(used: 1, redone: 1))
        #expect(service.writerStatistics.commits >= 3)
    }

    @Test("a badge write after the plan makes it again, under the new criteria")
    func overtakenByCatalogue() async throws {
        let harness = try ServiceHarness()
        defer { harness.close() }
        try await harness.putBadge(Self.counter)
        let gate = holdWriter(harness.service)
        var easier = Self.counter
        easier.criteria = Criteria(criteria: [Criterion(key: "n", eventType: "purchase", target: 1)])
        let service = harness.service
        let replacement = easier
        let put = Task { try await service.putBadge(PutBadgeRequest(badge: replacement, replace: true)) }
        while service.writer.queued < 1 { try await Task.sleep(for: .milliseconds(1)) }
        // Planned against the old criteria (the put is queued, not committed), applied after it.
        let planned = start(service, purchase("e1", "c"))
        gate.signal()
        _ = try await put.value
        let result = try await planned()
        #expect(result.awarded.map(\.badgeId) == ["counter"])
        #expect(harness.service.evaluatePlanStatistics == EvaluatePlanStatistics(used: 0, redone: 1))
    }

    @Test("a capped badge's award is decided by the writer: the cap holds for plans made together")
    func globalCapDecidedByWriter() async throws {
        let harness = try ServiceHarness()
        defer { harness.close() }
        try await harness.putBadge(Self.onPurchases("first-two") { $0.globalCap = 2 })
        let gate = holdWriter(harness.service)
        let calls = (0..<4).map { start(harness.service, purchase("e\($0)", "c\($0)")) }
        gate.signal()
        var awarded = 0
        for call in calls { awarded += try await call().awarded.count }
        #expect(awarded == 2)
        #expect(harness.service.evaluatePlanStatistics.redone == 4)
    }

    @Test("an Issue of the badge committed before the plan is stored: the plan is made again, no second award")
    func issueBetweenPlanAndWriter() async throws {
        let harness = try ServiceHarness()
        defer { harness.close() }
        try await harness.putBadge(Self.onPurchases("member"))
        let service = harness.service
        let gate = holdWriter(service)
        let issue = Task {
            try await service.issue(IssueRequest(customerId: "c", badgeId: "member", requestId: "manual-1"))
        }
        while service.writer.queued < 1 { try await Task.sleep(for: .milliseconds(1)) }
        // Planned from a store where c holds nothing: the plan awards "member".
        let planned = start(service, purchase("e1", "c"))
        gate.signal()
        _ = try await issue.value
        let result = try await planned()
        #expect(result.awarded.isEmpty)
        let held = try harness.store.read { txn throws(BadgeError) in
            try harness.store.awards(txn, customerId: "c")
        }
        #expect(held.map(\.badgeId) == ["member"])
        #expect(service.evaluatePlanStatistics == EvaluatePlanStatistics(used: 0, redone: 1))
    }

    @Test("an award revoked between the plan and the writer no longer blocks earning the badge again")
    func revokeBetweenPlanAndWriter() async throws {
        for maxBatch in [4096, 1] {  // the revocation in the plan's batch, then in an earlier commit
            let harness = try ServiceHarness(maxBatch: maxBatch)
            defer { harness.close() }
            try await harness.putBadge(Self.onPurchases("member"))
            let service = harness.service
            let first = try await service.evaluate(purchase("e1", "c")).awarded
            #expect(first.count == 1)
            let gate = holdWriter(service)
            let revoke = Task {
                try await service.revoke(RevokeRequest(customerId: "c", badgeId: "member", reason: "mistake"))
            }
            while service.writer.queued < 1 { try await Task.sleep(for: .milliseconds(1)) }
            // Planned while c holds "member": the plan awards nothing.
            let planned = start(service, purchase("e2", "c"))
            gate.signal()
            #expect(try await revoke.value.map(\.awardId) == first.map(\.awardId))
            let result = try await planned()
            #expect(result.awarded.map(\.badgeId) == ["member"])
            #expect(try harness.unrevokedCount("member") == 1)
            let listed = try TrophyCase(decoding: service.encodedTrophyCase(customerId: "c"))
            #expect(listed.entries.first?.awards == result.awarded)
            #expect(service.evaluatePlanStatistics.redone == 1)
        }
    }

    @Test("a badge window that closes between the plan and the writer is judged at the writer's time")
    func windowClosesBeforeTheWriter() async throws {
        let harness = try ServiceHarness()
        defer { harness.close() }
        let closesAt = ServiceHarness.startMs + 1_000
        try await harness.putBadge(Self.onPurchases("launch") { $0.validUntilMs = closesAt })
        let service = harness.service
        let gate = holdWriter(service)
        let late = start(service, purchase("e1", "c"))  // planned while the window is open
        var browse = purchase("e2", "d")
        browse.type = "browse"  // no badge listens: nothing time-bound decided
        let untouched = start(service, browse)
        harness.clock.advance(by: 5_000)
        gate.signal()
        #expect(try await late().awarded.isEmpty)
        // d's plan decided nothing time-bound: it is stored as made, and dated by the writer.
        _ = try await untouched()
        #expect(service.evaluatePlanStatistics == EvaluatePlanStatistics(used: 1, redone: 1))
        let history = try harness.store.read { txn throws(BadgeError) in
            try harness.store.eventRecord(txn, eventId: "e2")
        }
        #expect(history?.recordedAtMs == ServiceHarness.startMs + 5_000)
    }

    @Test("an award that expires between the plan and the writer no longer blocks earning the badge again")
    func heldAwardExpiresBeforeTheWriter() async throws {
        let harness = try ServiceHarness()
        defer { harness.close() }
        try await harness.putBadge(Self.onPurchases("monthly") { $0.expiresAfterMs = 1_000 })
        let first = try await harness.service.evaluate(purchase("e1", "c"))
        #expect(first.awarded.count == 1)
        let service = harness.service
        let gate = holdWriter(service)
        let again = start(service, purchase("e2", "c"))  // planned while the first award is held
        harness.clock.advance(by: 2_000)
        gate.signal()
        let result = try await again()
        #expect(result.awarded.map(\.badgeId) == ["monthly"])
        #expect(result.awarded.first?.earnedAtMs == ServiceHarness.startMs + 2_000)
        #expect(service.evaluatePlanStatistics.redone == 1)
    }

    @Test("a retry answered from a plan sees the first outcome; one racing the first is answered by the writer")
    func retries() async throws {
        let harness = try ServiceHarness()
        defer { harness.close() }
        try await harness.putBadge(Self.counter)
        let gate = holdWriter(harness.service)
        let first = start(harness.service, purchase("e1", "c"))
        let racing = start(harness.service, purchase("e1", "c"))
        gate.signal()
        let (original, raced) = try await (first(), racing())
        #expect(!original.replayed)
        #expect(raced.replayed)
        let later = try await harness.service.evaluate(purchase("e1", "c"))
        #expect(later.replayed)
        #expect(later.progress == original.progress)
        #expect(try count(harness, "c") == (1, 10))
    }

    @Test("retries of an Issue and an Evaluate in the batch of their originals store each once")
    func retriesInTheOriginalsBatch() async throws {
        let harness = try ServiceHarness()
        defer { harness.close() }
        try await harness.putBadge(Self.onPurchases("member"))
        try await harness.putBadge(BadgeDefinition(id: "stamp", name: "Stamp", repeatable: true))
        let service = harness.service
        let gate = holdWriter(service)
        let issues = (0..<2).map { _ in
            Task { try await service.issue(IssueRequest(customerId: "c", badgeId: "stamp", requestId: "r1")) }
        }
        while service.writer.queued < 2 { try await Task.sleep(for: .milliseconds(1)) }
        let events = [start(service, purchase("e1", "c")), start(service, purchase("e1", "c"))]
        #expect(service.writer.queued == 4)
        gate.signal()
        let issued = [try await issues[0].value, try await issues[1].value]
        let evaluated = [try await events[0](), try await events[1]()]
        #expect(service.writerStatistics.largestBatch >= 4, "the four were committed together")
        #expect(issued.filter(\.replayed).count == 1)
        #expect(issued[0].award == issued[1].award)
        #expect(evaluated.filter(\.replayed).count == 1)
        #expect(evaluated[0].awarded == evaluated[1].awarded)
        #expect(evaluated[0].awarded.map(\.badgeId) == ["member"])
        #expect(try harness.allAwards().map(\.badgeId).sorted() == ["member", "stamp"])
        #expect(try harness.unrevokedCount("stamp") == 1)
        #expect(try harness.unrevokedCount("member") == 1)
    }

    @Test("with plans ahead off, the writer plans every event")
    func off() async throws {
        let harness = try ServiceHarness(writerPlanPercent: 100)
        defer { harness.close() }
        let service = harness.service
        _ = try await service.putBadge(PutBadgeRequest(badge: Self.counter))
        _ = try await service.evaluate(purchase("e1", "c"))
        #expect(service.evaluatePlanStatistics == EvaluatePlanStatistics(onWriter: 1))
        #expect(try count(harness, "c") == (1, 10))
    }

    @Test("with a writer share of 30%, 30 of every 100 events are planned by the writer, the rest ahead")
    func writerShare() async throws {
        let harness = try ServiceHarness(writerPlanPercent: 30)
        defer { harness.close() }
        let service = harness.service
        _ = try await service.putBadge(PutBadgeRequest(badge: Self.counter))
        for index in 0..<100 { _ = try await service.evaluate(purchase("e\(index)", "c\(index % 7)")) }
        let statistics = service.evaluatePlanStatistics
        #expect(statistics.onWriter == 30)
        #expect(statistics.used + statistics.redone == 70)
        #expect(statistics.used > 0)
    }

    // MARK: Gathering announced writes

    /// A writer over `harness`'s store with a long gathering window, and a way to submit a write
    /// that records when it was applied.
    func gatheringWriter(
        _ harness: ServiceHarness, gap: Duration, bound: WriteQueue.GatherBound = .none
    ) -> WriteQueue {
        WriteQueue(
            store: harness.store, clock: harness.clock.function, maxBatch: 64, logger: Logger(label: "test"),
            metrics: WriterMetrics(factory: NOOPMetricsHandler.instance), gatherWindow: .seconds(30), gatherGap: gap,
            gatherBound: bound)
    }

    func write(_ done: DispatchSemaphore) -> PendingWrite {
        PendingWrite(deadline: nil, apply: { _, _ in { done.signal() } }, fail: { _ in done.signal() })
    }

    @Test("a batch waits for announced writes and commits them together")
    func announcedWritesShareACommit() throws {
        let harness = try ServiceHarness()
        defer { harness.close() }
        let writer = gatheringWriter(harness, gap: .milliseconds(50))
        defer { writer.stop() }
        let first = DispatchSemaphore(value: 0)
        let second = DispatchSemaphore(value: 0)
        writer.announce()
        writer.announce()
        writer.submit(write(first), announced: true)
        // The other announced write is still coming: the first waits for it.
        #expect(first.wait(timeout: .now() + .milliseconds(200)) == .timedOut)
        writer.submit(write(second), announced: true)
        #expect(first.wait(timeout: .now() + .seconds(10)) == .success)
        #expect(second.wait(timeout: .now() + .seconds(10)) == .success)
        #expect(writer.stats.commits == 1)
        #expect(writer.stats.writes == 2)
    }

    @Test("a batch waiting for announced writes stops in time for a queued write's deadline")
    func gatherStopsAtDeadlines() throws {
        let harness = try ServiceHarness()
        defer { harness.close() }
        let writer = gatheringWriter(harness, gap: .seconds(30))
        defer { writer.stop() }
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<BadgeError?>(nil)
        writer.announce()  // never submitted: the batch would wait the whole 30 s window
        writer.submit(
            PendingWrite(
                deadline: .now + .seconds(2), apply: { _, _ in { done.signal() } },
                fail: { error in
                    outcome.withLock { $0 = error }
                    done.signal()
                }))
        #expect(done.wait(timeout: .now() + .seconds(10)) == .success)
        // Held only until shortly before its deadline, then applied.
        #expect(outcome.withLock { $0 } == nil)
        #expect(writer.stats.commits == 1)
        writer.withdraw()
    }

    @Test("a withdrawn announcement, or none, does not hold a batch back")
    func withdrawnAnnouncement() throws {
        let harness = try ServiceHarness()
        defer { harness.close() }
        let writer = gatheringWriter(harness, gap: .milliseconds(50))
        defer { writer.stop() }
        let alone = DispatchSemaphore(value: 0)
        writer.submit(write(alone))
        #expect(alone.wait(timeout: .now() + .seconds(10)) == .success)
        let waiting = DispatchSemaphore(value: 0)
        writer.announce()
        writer.announce()
        writer.submit(write(waiting), announced: true)
        #expect(waiting.wait(timeout: .now() + .milliseconds(200)) == .timedOut)
        // Nothing else is coming: the batch goes once the gap after the last write has passed.
        writer.withdraw()
        #expect(waiting.wait(timeout: .now() + .seconds(10)) == .success)
        #expect(writer.stats.commits == 2)
    }

    @Test("a batch waits for announced writes no longer than its bound, however long the window")
    func gatherStopsAtItsBound() throws {
        let harness = try ServiceHarness()
        defer { harness.close() }
        let writer = gatheringWriter(harness, gap: .seconds(30), bound: .fixed(.milliseconds(300)))
        defer { writer.stop() }
        let done = DispatchSemaphore(value: 0)
        writer.announce()
        writer.announce()  // never submitted: without the bound the batch would wait 30 s
        let start = ContinuousClock.now
        writer.submit(write(done), announced: true)
        #expect(done.wait(timeout: .now() + .seconds(10)) == .success)
        // It did wait, for the bound.
        #expect(ContinuousClock.now - start >= .milliseconds(250))
        writer.withdraw()
    }

    @Test("by default a batch waits for announced writes no longer than the last commits took")
    func gatherBoundedByMeasuredCommits() throws {
        let harness = try ServiceHarness()
        defer { harness.close() }
        let writer = gatheringWriter(harness, gap: .seconds(30), bound: .measuredCommits)
        defer { writer.stop() }
        let first = DispatchSemaphore(value: 0)
        writer.submit(write(first))
        #expect(first.wait(timeout: .now() + .seconds(10)) == .success)
        #expect(harness.store.environment.lastCommitNanoseconds > 0)
        let second = DispatchSemaphore(value: 0)
        writer.announce()
        writer.announce()  // never submitted: the 30 s window would hold the batch
        writer.submit(write(second), announced: true)
        #expect(second.wait(timeout: .now() + .seconds(10)) == .success)
        #expect(writer.stats.commits == 2)
        writer.withdraw()
    }

    // MARK: The log's own rules

    @Test("the commit log: same ticket, other customers, the customer itself, the catalogue, too old")
    func commitLog() {
        let log = CommitLog()
        let a = Array("a".utf8)
        let b = Array("b".utf8)
        let start = log.ticket()
        #expect(log.unchanged(a, since: start))
        log.committed(TrophyCaseChanges())  // nothing changed: no new generation
        #expect(log.ticket() == start)
        log.committed(TrophyCaseChanges(customers: ["b"]))
        #expect(log.unchanged(a, since: start))
        #expect(!log.unchanged(b, since: start))
        let afterB = log.ticket()
        #expect(log.unchanged(b, since: afterB))
        log.committed(TrophyCaseChanges(catalogue: true))
        #expect(!log.unchanged(a, since: afterB))
        let recent = log.ticket()
        for _ in 0..<CommitLog.remembered { log.committed(TrophyCaseChanges(customers: ["b"])) }
        #expect(log.unchanged(a, since: recent))
        log.committed(TrophyCaseChanges(customers: ["b"]))
        // The commit right after `recent` is forgotten: nothing can be said about it.
        #expect(!log.unchanged(a, since: recent))
    }
}

/// Plans made ahead must give exactly what the writer alone gives for the same operations in the
/// same order: random Evaluates, Issues, Revokes and badge rewrites, submitted without waiting (so
/// plans are made against stores the writer has since moved past) to a service that plans ahead,
/// and one at a time to a service that does not.
@Suite("Evaluate plans made ahead: same results as the writer alone")
struct PlanAheadEquivalenceTests {
    enum Operation: Sendable {
        case evaluate(ActivityEvent)
        case issue(IssueRequest)
        case revoke(RevokeRequest)
        case putBadge(BadgeDefinition)
    }

    static let customers = ["c0", "c1", "c2", "c3"]

    static func catalogue(target: Double) -> [BadgeDefinition] {
        [
            BadgeDefinition(
                id: "regular", name: "Regular", repeatable: true, maxPerCustomer: 3,
                criteria: Criteria(criteria: [Criterion(key: "n", eventType: "purchase", target: target)])),
            BadgeDefinition(
                id: "spender", name: "Spender",
                criteria: Criteria(criteria: [
                    Criterion(key: "s", eventType: "purchase", aggregate: .sum, target: 300)
                ])),
            BadgeDefinition(
                id: "first-three", name: "First three", globalCap: 3,
                criteria: Criteria(criteria: [Criterion(key: "v", eventType: "visit", target: 2)])),
            BadgeDefinition(
                id: "loyal", name: "Loyal",
                criteria: Criteria(
                    criteria: [Criterion(key: "v", eventType: "visit", target: 3)], prerequisites: ["spender"])),
        ]
    }

    static func operations(seed: UInt64) -> [Operation] {
        var random = SplitMix64(state: seed)
        var operations: [Operation] = []
        for index in 0..<160 {
            let customer = customers[Int.random(in: 0..<customers.count, using: &random)]
            switch Int.random(in: 0..<20, using: &random) {
            case 0..<14:
                // Some ids repeat: retries, and now and then an id another customer used.
                let id = Int.random(in: 0..<10, using: &random) == 0 ? "e\(index / 2)" : "e\(index)"
                operations.append(
                    .evaluate(
                        ActivityEvent(
                            eventId: id, customerId: customer,
                            type: Bool.random(using: &random) ? "purchase" : "visit",
                            occurredAtMs: ServiceHarness.startMs - Int64.random(in: 0..<5, using: &random) * 86_400_000,
                            amount: Double(Int.random(in: 10...150, using: &random)))))
            case 14..<17:
                operations.append(
                    .issue(
                        IssueRequest(
                            customerId: customer,
                            badgeId: ["spender", "first-three", "regular"].randomElement(
                                using: &random)!, requestId: "r\(index)")))
            case 17..<19:
                operations.append(
                    .revoke(
                        RevokeRequest(
                            customerId: customer,
                            badgeId: ["spender", "first-three", "regular"].randomElement(
                                using: &random)!, reason: "test")))
            default:
                // A rewrite of the repeatable badge's criteria (its progress restarts).
                operations.append(.putBadge(catalogue(target: Double(Int.random(in: 2...4, using: &random)))[0]))
            }
        }
        return operations
    }

    /// What a caller sees of an operation.
    enum Outcome: Sendable, Equatable {
        case evaluated(EvaluateResult)
        case issued(IssueResult)
        case revoked([Award])
        case put(PutBadgeResult)
        case failed(BadgeError.Code, String)
        case missing
    }

    static func submit(_ operation: Operation, to service: BadgeService, _ done: @escaping @Sendable (Outcome) -> Void)
    {
        @Sendable func outcome<T>(_ result: Result<T, BadgeError>, _ success: (T) -> Outcome) -> Outcome {
            switch result {
            case .success(let value): success(value)
            case .failure(let error): .failed(error.code, error.message)
            }
        }
        switch operation {
        case .evaluate(let event): service.evaluate(event) { done(outcome($0, Outcome.evaluated)) }
        case .issue(let request): service.issue(request) { done(outcome($0, Outcome.issued)) }
        case .revoke(let request): service.revoke(request) { done(outcome($0, Outcome.revoked)) }
        case .putBadge(let badge):
            service.putBadge(PutBadgeRequest(badge: badge, replace: true)) { done(outcome($0, Outcome.put)) }
        }
    }

    /// Runs `operations` on a fresh service; `together` submits them all before waiting.
    static func run(
        _ operations: [Operation], writerPlanPercent: Int, maxBatch: Int, together: Bool
    ) async throws
        -> (outcomes: [Outcome], trophyCases: [[UInt8]], plans: EvaluatePlanStatistics)
    {
        let harness = try ServiceHarness(maxBatch: maxBatch, writerPlanPercent: writerPlanPercent)
        defer { harness.close() }
        let service = harness.service
        for badge in catalogue(target: 3) { _ = try await service.putBadge(PutBadgeRequest(badge: badge)) }
        let outcomes = Mutex<[Int: Outcome]>([:])
        if together {
            let all = DispatchSemaphore(value: 0)
            let left = Atomic<Int>(operations.count)
            for (index, operation) in operations.enumerated() {
                submit(operation, to: service) { outcome in
                    outcomes.withLock { $0[index] = outcome }
                    if left.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue == 0 { all.signal() }
                }
            }
            await withCheckedContinuation { continuation in
                DispatchQueue.global().async {
                    all.wait()
                    continuation.resume()
                }
            }
        } else {
            for (index, operation) in operations.enumerated() {
                let outcome = await withCheckedContinuation { continuation in
                    submit(operation, to: service) { continuation.resume(returning: $0) }
                }
                outcomes.withLock { $0[index] = outcome }
            }
        }
        let trophyCases = try customers.map { customer throws(BadgeError) in
            try service.encodedTrophyCase(customerId: customer)
        }
        let collected = outcomes.withLock { map in (0..<operations.count).map { map[$0] ?? .missing } }
        return (collected, trophyCases, service.evaluatePlanStatistics)
    }

    @Test("random operations submitted together give what they give one by one on the writer", arguments: 0..<6)
    func sameResults(seed: UInt64) async throws {
        let operations = Self.operations(seed: seed)
        let expected = try await Self.run(operations, writerPlanPercent: 100, maxBatch: 4096, together: false)
        var plansUsed = 0
        // All planned ahead, in small and large batches; and a share planned by the writer.
        for (maxBatch, writerPlanPercent) in [(3, 0), (4096, 0), (4096, 30)] {
            let actual = try await Self.run(
                operations, writerPlanPercent: writerPlanPercent, maxBatch: maxBatch, together: true)
            for index in operations.indices where actual.outcomes[index] != expected.outcomes[index] {
                Issue.record(
                    "seed \(seed), batch \(maxBatch), writer share \(writerPlanPercent)%, operation \(index) \(operations[index]): \(actual.outcomes[index]) != \(expected.outcomes[index])"
                )
                break
            }
            #expect(actual.trophyCases == expected.trophyCases, "seed \(seed), batch \(maxBatch)")
            #expect((actual.plans.onWriter > 0) == (writerPlanPercent > 0), "seed \(seed)")
            plansUsed += actual.plans.used
        }
        // The operations did something: rules awarded badges and some calls were refused.
        #expect(
            expected.outcomes.contains {
                if case .evaluated(let result) = $0 { !result.awarded.isEmpty } else { false }
            })
        #expect(expected.outcomes.contains { if case .failed = $0 { true } else { false } })
        // Somewhere plans were stored as made (with small batches most are).
        #expect(plansUsed > 0)
    }
}
