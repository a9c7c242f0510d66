import BadgeModel
import BadgeService
import BadgeStore
import Foundation
import LMDB
import Synchronization
import Testing

/// A clock tests can move: Unix milliseconds behind a mutex.
final class TestClock: Sendable {
    private let current: Mutex<Int64>

    init(_ startMs: Int64) { current = Mutex(startMs) }

    var nowMs: Int64 { current.withLock { $0 } }

    func advance(by ms: Int64) { current.withLock { $0 += ms } }

    func set(_ ms: Int64) { current.withLock { $0 = ms } }

    var function: @Sendable () -> Int64 { { self.nowMs } }
}

/// A service over a store in a fresh temporary directory, with a movable clock.
final class ServiceHarness {
    static let startMs: Int64 = 1_700_000_000_000

    let path: String
    let clock: TestClock
    let options: Environment.Options
    private(set) var store: BadgeStore
    private(set) var service: BadgeService
    private var closed = false

    let eventRetentionMs: Int64
    let pruneInterval: Duration
    let maxBatch: Int
    let listCacheBytes: Int
    let writerPlanPercent: Int

    init(
        clockMs: Int64 = ServiceHarness.startMs, options: Environment.Options = .init(mapSize: 64 << 20),
        eventRetentionMs: Int64 = 0, pruneInterval: Duration = .seconds(60), maxBatch: Int = 4096,
        listCacheBytes: Int = BadgeService.defaultListCacheBytes, writerPlanPercent: Int = 0
    ) throws {
        self.eventRetentionMs = eventRetentionMs
        self.pruneInterval = pruneInterval
        self.maxBatch = maxBatch
        self.listCacheBytes = listCacheBytes
        self.writerPlanPercent = writerPlanPercent
        let name = "badge-service-tests-\(UUID().uuidString)"
        path = FileManager.default.temporaryDirectory.appendingPathComponent(name).path
        clock = TestClock(clockMs)
        self.options = options
        store = try BadgeStore(path: path, options: options)
        service = Self.makeService(
            store: store, clock: clock, eventRetentionMs: eventRetentionMs, pruneInterval: pruneInterval,
            maxBatch: maxBatch, listCacheBytes: listCacheBytes, writerPlanPercent: self.writerPlanPercent)
    }

    private static func makeService(
        store: BadgeStore, clock: TestClock, eventRetentionMs: Int64, pruneInterval: Duration, maxBatch: Int,
        listCacheBytes: Int, writerPlanPercent: Int
    ) -> BadgeService {
        BadgeService(
            store: store, clock: clock.function, maxBatch: maxBatch, listCacheBytes: listCacheBytes,
            eventRetentionMs: eventRetentionMs, pruneInterval: pruneInterval, writerPlanPercent: writerPlanPercent)
    }

    /// Shuts the service down, closes the store, and opens both again on the same folder.
    func reopen() throws {
        service.shutdown()
        store.close()
        store = try BadgeStore(path: path, options: options)
        service = Self.makeService(
            store: store, clock: clock, eventRetentionMs: eventRetentionMs, pruneInterval: pruneInterval,
            maxBatch: maxBatch, listCacheBytes: listCacheBytes, writerPlanPercent: self.writerPlanPercent)
    }

    func close() {
        guard !closed else { return }
        closed = true
        service.shutdown()
        store.close()
        try? FileManager.default.removeItem(atPath: path)
    }

    deinit { close() }

    // MARK: Conveniences

    @discardableResult
    func putBadge(_ badge: BadgeDefinition, replace: Bool = false) async throws -> PutBadgeResult {
        try await service.putBadge(PutBadgeRequest(badge: badge, replace: replace))
    }

    @discardableResult
    func issue(
        _ customerId: String, _ badgeId: String, requestId: String? = nil, source: AwardSource = .api,
        evidence: String = "", evidenceFields: [String: String] = [:]
    ) async throws -> IssueResult {
        try await service.issue(
            IssueRequest(
                customerId: customerId, badgeId: badgeId, requestId: requestId ?? "req-\(UUID().uuidString)",
                source: source, evidence: evidence, evidenceFields: evidenceFields))
    }

    /// Every award in the store, in id order.
    func allAwards() throws -> [Award] {
        try service.exportAwards(after: 0, limit: 1_000_000)
    }

    func storedAward(_ id: UInt64) throws -> Award? {
        try store.read { txn throws(BadgeError) in try store.award(txn, id: id) }
    }

    func storedBadge(_ id: String) throws -> BadgeDefinition? {
        try store.read { txn throws(BadgeError) in try store.badge(txn, id: id) }
    }

    func unrevokedCount(_ badgeId: String) throws -> UInt64 {
        try store.read { txn throws(BadgeError) in try store.unrevokedCount(txn, badgeId: badgeId) }
    }
}

/// Runs `body` with a fresh harness, closing it (and removing its folder) afterwards.
@discardableResult
func withHarness<T>(
    clockMs: Int64 = ServiceHarness.startMs, _ body: (ServiceHarness) async throws -> T
) async throws -> T {
    let harness = try ServiceHarness(clockMs: clockMs)
    defer { harness.close() }
    return try await body(harness)
}

/// Calls a callback-style service method and awaits its result.
func callback<R: Sendable>(
    _ start: (@escaping @Sendable (Result<R, BadgeError>) -> Void) -> Void
) async -> Result<R, BadgeError> {
    await withCheckedContinuation { continuation in
        start { continuation.resume(returning: $0) }
    }
}
