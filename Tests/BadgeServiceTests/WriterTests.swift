import BadgeModel
import BadgeService
import BadgeStore
import BadgeTestSupport
import Foundation
import Synchronization
import Testing

@Suite("BadgeService writer")
struct WriterTests {
    @Test func concurrentIssuesAreGroupCommitted() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "gold", name: "Gold"))
            let service = h.service
            let count = 500
            let results = await withTaskGroup(of: Result<IssueResult, BadgeError>.self) { group in
                for index in 0..<count {
                    group.addTask {
                        await callback { completion in
                            service.issue(
                                IssueRequest(customerId: "c\(index)", badgeId: "gold", requestId: "r\(index)"),
                                completion: completion)
                        }
                    }
                }
                var results: [Result<IssueResult, BadgeError>] = []
                for await result in group { results.append(result) }
                return results
            }
            let awards = results.compactMap { try? $0.get().award }
            #expect(awards.count == count, "failures: \(results.filter { (try? $0.get()) == nil }.prefix(3))")
            #expect(Set(awards.map(\.awardId)) == Set(1...UInt64(count)))
            #expect(Set(awards.map(\.customerId)).count == count)

            let stored = try h.allAwards()
            #expect(stored.count == count)
            #expect(Set(stored) == Set(awards))
            #expect(try h.unrevokedCount("gold") == UInt64(count))

            let stats = service.writerStatistics
            #expect(stats.writes == count + 1)
            #expect(stats.commits < count, "\(stats)")
            #expect(stats.largestBatch > 1, "\(stats)")
        }
    }

    @Test func refusalsInABatchDoNotSpoilTheOthers() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "gold", name: "Gold"))
            let service = h.service
            // Every customer is issued the non-repeatable badge twice, concurrently: one of each pair must fail.
            let results = await withTaskGroup(of: Result<IssueResult, BadgeError>.self) { group in
                for index in 0..<100 {
                    group.addTask {
                        await callback { completion in
                            service.issue(
                                IssueRequest(customerId: "c\(index / 2)", badgeId: "gold", requestId: "r\(index)"),
                                completion: completion)
                        }
                    }
                }
                var results: [Result<IssueResult, BadgeError>] = []
                for await result in group { results.append(result) }
                return results
            }
            let failures = results.compactMap { result -> BadgeError? in
                if case .failure(let error) = result { return error }
                return nil
            }
            #expect(failures.count == 50)
            #expect(failures.allSatisfy { $0.reason == "already_held" })
            #expect(try h.allAwards().count == 50)
            #expect(Set(try h.allAwards().map(\.customerId)).count == 50)
        }
    }

    @Test func writesAfterShutdownAreUnavailable() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "gold", name: "Gold"))
            h.service.shutdown()
            await expectAsyncBadgeError(.unavailable, reason: "shutting_down") { try await h.issue("c1", "gold") }
            await expectAsyncBadgeError(.unavailable, reason: "shutting_down") {
                try await h.putBadge(BadgeDefinition(id: "silver", name: "Silver"))
            }
            await expectAsyncBadgeError(.unavailable, reason: "shutting_down") {
                try await h.service.revoke(RevokeRequest(customerId: "c1", badgeId: "gold", reason: "r"))
            }
            await expectAsyncBadgeError(.unavailable, reason: "shutting_down") {
                try await h.service.deactivateBadge(id: "gold")
            }
            // Reads still work.
            #expect(try h.service.badge(id: "gold").name == "Gold")
            #expect(try h.allAwards().isEmpty)
            h.service.shutdown()  // idempotent
        }
    }

    @Test func shutdownCommitsWhatIsQueued() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "gold", name: "Gold"))
            let completed = Completions()
            for index in 0..<50 {
                h.service.issue(IssueRequest(customerId: "c\(index)", badgeId: "gold", requestId: "r\(index)")) {
                    completed.record($0)
                }
            }
            h.service.shutdown()
            #expect(completed.successes == 50)
            #expect(completed.failures == 0)
            #expect(try h.allAwards().count == 50)
        }
    }

    @Test func reopeningAfterShutdownFindsEveryAward() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "gold", name: "Gold", rank: 1))
            try await h.putBadge(BadgeDefinition(id: "visit", name: "Visit", rank: 2, repeatable: true))
            var issued: [Award] = []
            for index in 0..<20 {
                let badge = index < 5 ? "gold" : "visit"
                issued.append(try await h.issue("c\(index % 5)", badge, requestId: "r\(index)").award)
            }
            let revoked = try await h.service.revoke(RevokeRequest(customerId: "c0", badgeId: "visit", reason: "r"))
            try h.reopen()

            let stored = try h.allAwards()
            #expect(stored.count == 20)
            #expect(stored.map(\.awardId) == Array(1...20))
            let revokedIds = Set(revoked.map(\.awardId))
            #expect(Set(stored.filter(\.isRevoked).map(\.awardId)) == revokedIds)
            #expect(try h.service.badges(includeInactive: true).map(\.id) == ["gold", "visit"])
            let trophyCase = try h.service.trophyCase(customerId: "c1")
            #expect(trophyCase.entries.map(\.badge.id) == ["gold", "visit"])
            let visits = issued.filter { $0.customerId == "c1" && $0.badgeId == "visit" }
            #expect(visits.count == 3)
            #expect(trophyCase.entries[1].awards == visits)
            // Idempotency survives the restart, and new ids continue.
            let replay = try await h.issue("c3", "gold", requestId: "r3")
            #expect(replay.replayed)
            #expect(replay.award == issued[3])
            #expect(try await h.issue("c9", "gold").award.awardId == 21)
        }
    }

    @Test func pastDeadlineIsRefusedAndNothingIsWritten() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "gold", name: "Gold"))
            let service = h.service
            let issue = await callback { completion in
                service.issue(
                    IssueRequest(customerId: "c1", badgeId: "gold", requestId: "late"), deadline: .now - .seconds(1),
                    completion: completion)
            }
            #expect(throws: BadgeError.self) { try issue.get() }
            if case .failure(let error) = issue {
                #expect(error.code == .deadlineExceeded)
                #expect(error.reason == "deadline_exceeded")
            }
            let put = await callback { completion in
                service.putBadge(
                    PutBadgeRequest(badge: BadgeDefinition(id: "late", name: "Late")), deadline: .now - .seconds(1),
                    completion: completion)
            }
            #expect(throws: BadgeError.self) { try put.get() }
            if case .failure(let error) = put { #expect(error.code == .deadlineExceeded) }

            #expect(try h.allAwards().isEmpty)
            #expect(try h.store.read { txn throws(BadgeError) in try h.store.awardId(txn, forRequest: "late") } == nil)
            #expect(try h.storedBadge("late") == nil)
            // A request id refused for its deadline can be used again.
            let retry = try await h.issue("c1", "gold", requestId: "late")
            #expect(retry.replayed == false)
        }
    }

    @Test func futureDeadlineIsHonoured() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "gold", name: "Gold"))
            let service = h.service
            let result = await callback { completion in
                service.issue(
                    IssueRequest(customerId: "c1", badgeId: "gold", requestId: "r1"), deadline: .now + .seconds(60),
                    completion: completion)
            }
            #expect(try result.get().award.awardId == 1)
        }
    }
}

/// Counts callback results from the writer thread.
final class Completions: Sendable {
    private let counts = Mutex((successes: 0, failures: 0))

    func record<T>(_ result: Result<T, BadgeError>) {
        counts.withLock {
            switch result {
            case .success: $0.successes += 1
            case .failure: $0.failures += 1
            }
        }
    }

    var successes: Int { counts.withLock { $0.successes } }
    var failures: Int { counts.withLock { $0.failures } }
}
