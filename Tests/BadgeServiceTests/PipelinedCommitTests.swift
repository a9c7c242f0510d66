import BadgeModel
import BadgeStore
import BadgeTestSupport
import Foundation
import Synchronization
import Testing

@testable import BadgeService

/// The writer commits a batch before its journal sync is done (pipelined commits): nobody may
/// hear of the batch, from its own reply or from a read, until the sync is done. The writer
/// pipelines only while more work is on its way, so each test announces a write that never comes.
@Suite("Pipelined commits: nothing is answered before it is durable")
struct PipelinedCommitTests {
    /// Waits (polling) until `customerId` holds an award in the store, durable or not.
    static func waitUntilStored(_ h: ServiceHarness, _ customerId: String) throws {
        for _ in 0..<3_000 {
            let stored = try h.store.read { txn throws(BadgeError) in
                try h.store.awards(txn, customerId: customerId)
            }
            if !stored.isEmpty { return }
            Thread.sleep(forTimeInterval: 0.01)
        }
        Issue.record("the award of \(customerId) was never committed")
    }

    /// An issue's result, once it has one.
    final class Outcome: Sendable {
        let result = Mutex<Result<IssueResult, BadgeError>?>(nil)
        var value: Result<IssueResult, BadgeError>? { result.withLock { $0 } }
    }

    /// Starts an issue; its result lands in the outcome returned.
    static func startIssue(_ h: ServiceHarness, _ customerId: String) -> Outcome {
        let outcome = Outcome()
        h.service.issue(IssueRequest(customerId: customerId, badgeId: "gold", requestId: "r-\(customerId)")) {
            result in outcome.result.withLock { $0 = result }
        }
        return outcome
    }

    @Test("an award's reply and every read that would show it wait for its sync; other reads do not")
    func heldUntilDurable() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "gold", name: "Gold"))
            try await h.issue("c2", "gold")
            let hold = SyncHold()
            hold.install(on: h.store.environment)
            h.service.writer.announce()
            defer { h.service.writer.withdraw() }

            let issued = Self.startIssue(h, "c1")
            try Self.waitUntilStored(h, "c1")
            // Committed and visible in the store, but not durable: not answered, not shown.
            #expect(issued.value == nil)
            #expect(!h.service.isDurable(.customer("c1")))
            #expect(!h.service.isDurable(.everything))
            #expect(h.service.isDurable(.customer("c2")))
            #expect(h.service.isDurable(.catalogue))
            let listed = Finished()
            #expect(!h.service.whenDurable(.customer("c1")) { error in if error == nil { listed.set() } })
            let blockingList = Finished()
            let service = h.service
            let lister = Thread {
                if (try? service.trophyCase(customerId: "c1"))?.entries.first?.state == .earned {
                    blockingList.set()
                }
            }
            lister.start()
            // Another customer's trophy case answers at once.
            #expect(try h.service.trophyCase(customerId: "c2").entries.map(\.state) == [.earned])
            try await Task.sleep(for: .milliseconds(100))
            #expect(!listed.isSet)
            #expect(!blockingList.isSet)
            #expect(issued.value == nil)

            hold.release(on: h.store.environment)
            #expect(listed.wait(seconds: 30))
            #expect(blockingList.wait(seconds: 30))
            await h.service.flush()
            let award = try #require(try issued.value?.get()).award
            #expect(award.customerId == "c1")
            #expect(h.service.isDurable(.everything))
            #expect(hold.entered.load(ordering: .relaxed) == 1)
        }
    }

    @Test("a write with nothing else waiting is synced in place: answered without the sync thread")
    func quietWriteSyncsInPlace() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "gold", name: "Gold"))
            let hold = SyncHold()
            hold.install(on: h.store.environment)
            try await h.issue("c1", "gold")
            #expect(h.service.isDurable(.everything))
            #expect(try h.service.trophyCase(customerId: "c1").entries.map(\.state) == [.earned])
            #expect(hold.entered.load(ordering: .relaxed) == 0)
            hold.release(on: h.store.environment)
        }
    }

    @Test("an event that changes no trophy case is neither replayed nor dry-run before its sync")
    func eventOutcomeHeldUntilDurable() async throws {
        try await withHarness { h throws in
            // No badge listens to "visit": the event's batch stores only its outcome (event record).
            let hold = SyncHold()
            hold.install(on: h.store.environment)
            h.service.writer.announce()
            defer { h.service.writer.withdraw() }
            let event = ActivityEvent(eventId: "e1", customerId: "c1", type: "visit")
            let first = Finished()
            h.service.evaluate(event) { result in if (try? result.get()) != nil { first.set() } }
            for _ in 0..<3_000 {
                let stored = try h.store.read { txn throws(BadgeError) in
                    try h.store.eventRecord(txn, eventId: "e1")
                }
                if stored != nil { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(hold.entered.load(ordering: .relaxed) == 1)
            // A retry (replayed from the stored outcome, on the caller's thread) and a dry run
            // would tell of an event that a crash could still lose.
            let retried = Finished()
            h.service.evaluate(event) { result in if (try? result.get())?.replayed == true { retried.set() } }
            var dry = event
            dry.dryRun = true
            let dryRun = Finished()
            h.service.evaluate(dry) { result in if (try? result.get())?.replayed == true { dryRun.set() } }
            try await Task.sleep(for: .milliseconds(100))
            #expect(!first.isSet)
            #expect(!retried.isSet)
            #expect(!dryRun.isSet)
            #expect(!h.service.isDurable(.everything))

            hold.release(on: h.store.environment)
            #expect(first.wait(seconds: 30))
            #expect(retried.wait(seconds: 30))
            #expect(dryRun.wait(seconds: 30))
        }
    }

    @Test("a failed sync fails its batch's callers and the reads that would see it; then writes are refused")
    func failedSync() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "gold", name: "Gold"))
            try await h.issue("c2", "gold")
            SyncHold.failSyncs(of: h.store.environment, with: EIO)
            h.service.writer.announce()

            let failed = await callback {
                h.service.issue(IssueRequest(customerId: "c1", badgeId: "gold", requestId: "r1"), completion: $0)
            }
            #expect(failed.failure?.code == .unavailable)
            #expect(failed.failure?.reason == "storage_sync_failed")
            // c1's award may be lost: nobody may see it, now or later.
            await expectAsyncBadgeError(.unavailable, reason: "storage_sync_failed") {
                try h.service.trophyCase(customerId: "c1")
            }
            await expectAsyncBadgeError(.unavailable, reason: "storage_sync_failed") {
                try h.service.exportAwards(after: 0, limit: 10)
            }
            // c2's award was durable before the failure.
            #expect(try h.service.trophyCase(customerId: "c2").entries.map(\.state) == [.earned])
            let refused = await callback {
                h.service.issue(IssueRequest(customerId: "c3", badgeId: "gold", requestId: "r3"), completion: $0)
            }
            #expect(refused.failure != nil)

            // A restart recovers from the journal: c2's award is there, and writes work again.
            h.service.writer.withdraw()
            try h.reopen()
            #expect(try h.service.trophyCase(customerId: "c2").entries.map(\.state) == [.earned])
            try await h.issue("c4", "gold")
            #expect(try h.service.trophyCase(customerId: "c4").entries.map(\.state) == [.earned])
        }
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
