import BadgeModel
import BadgeService
import BadgeStore
import BadgeTestSupport
import LMDB
import Testing

@Suite("BadgeService storage limits and batching")
struct StorageLimitTests {
    @Test func fullStorageIsReportedAndCommittedAwardsSurvive() async throws {
        let h = try ServiceHarness(options: .init(mapSize: 256 * 1024))
        defer { h.close() }
        try await h.putBadge(BadgeDefinition(id: "visit", name: "Visit", repeatable: true))
        let evidence = String(repeating: "e", count: 3_000)
        var issued: [Award] = []
        var failure: BadgeError?
        for index in 0..<10_000 {
            do {
                issued.append(try await h.issue("c\(index)", "visit", requestId: "r\(index)", evidence: evidence).award)
            } catch let error as BadgeError {
                failure = error
                break
            }
        }
        #expect(failure?.code == .resourceExhausted)
        #expect(failure?.reason == "storage_full")
        #expect(issued.count > 5)
        // The writer is still alive and answers refusals.
        await expectAsyncBadgeError(.notFound, reason: "badge_not_found") { try await h.issue("c1", "ghost") }
        #expect(try h.allAwards() == issued)

        try h.reopen()
        #expect(try h.allAwards() == issued)
        #expect(try h.unrevokedCount("visit") == UInt64(issued.count))
    }

    @Test func aFailedBatchIsRetriedOneByOne() async throws {
        let h = try ServiceHarness(options: .init(mapSize: 256 * 1024))
        defer { h.close() }
        try await h.putBadge(BadgeDefinition(id: "visit", name: "Visit", repeatable: true))
        let service = h.service
        let evidence = String(repeating: "e", count: 3_000)
        // Far more than fits: batches overflow the map and are retried write by write.
        let results = await withTaskGroup(of: Result<IssueResult, BadgeError>.self) { group in
            for index in 0..<200 {
                group.addTask {
                    await callback { completion in
                        service.issue(
                            IssueRequest(
                                customerId: "c\(index)", badgeId: "visit", requestId: "r\(index)", evidence: evidence),
                            completion: completion)
                    }
                }
            }
            var results: [Result<IssueResult, BadgeError>] = []
            for await result in group { results.append(result) }
            return results
        }
        #expect(results.count == 200)
        let successes = results.compactMap { try? $0.get().award }
        let failures = results.compactMap { result -> BadgeError? in
            if case .failure(let error) = result { return error }
            return nil
        }
        #expect(!successes.isEmpty)
        #expect(!failures.isEmpty)
        #expect(failures.allSatisfy { $0.reason == "storage_full" }, "\(failures.prefix(3))")
        let stored = try h.allAwards()
        #expect(Set(stored) == Set(successes))
        #expect(try h.unrevokedCount("visit") == UInt64(successes.count))
    }

    @Test func aStoreThatOutgrowsItsMapGrowsAndLosesNothing() async throws {
        // As badged runs it: the map may grow (here from 256 KiB to at most 64 MiB).
        let h = try ServiceHarness(options: .init(mapSize: 256 * 1024, maxMapSize: 64 << 20))
        defer { h.close() }
        try await h.putBadge(BadgeDefinition(id: "visit", name: "Visit", repeatable: true))
        let service = h.service
        let evidence = String(repeating: "e", count: 3_000)
        // One at a time (grown between batches, when nearly full), then 200 at once (a batch that
        // finds the map full grows it and is applied whole).
        var issued: [Award] = []
        for index in 0..<150 {
            issued.append(try await h.issue("c\(index)", "visit", requestId: "r\(index)", evidence: evidence).award)
        }
        let concurrent = try await withThrowingTaskGroup(of: Award.self) { group in
            for index in 150..<350 {
                group.addTask {
                    try await service.issue(
                        IssueRequest(
                            customerId: "c\(index)", badgeId: "visit", requestId: "r\(index)", evidence: evidence)
                    ).award
                }
            }
            var awards: [Award] = []
            for try await award in group { awards.append(award) }
            return awards
        }
        issued += concurrent
        #expect(issued.count == 350)
        #expect(h.store.environment.mapSize > 1 << 20)
        // In one chunk (an export chunk stops at 1 MiB; these awards take ~1.1 MB).
        func stored() throws -> Set<Award> { Set(try h.service.exportAwards(after: 0, limit: 1_000, maxBytes: .max)) }
        #expect(try stored() == Set(issued))

        try h.reopen()
        #expect(try stored() == Set(issued))
        #expect(try h.unrevokedCount("visit") == 350)
    }

    @Test func batchesRespectMaxBatch() async throws {
        let h = try ServiceHarness(maxBatch: 8)
        defer { h.close() }
        let service = h.service
        _ = try await service.putBadge(PutBadgeRequest(badge: BadgeDefinition(id: "gold", name: "Gold")))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                group.addTask {
                    let request = IssueRequest(customerId: "c\(index)", badgeId: "gold", requestId: "r\(index)")
                    _ = try await service.issue(request)
                }
            }
            try await group.waitForAll()
        }
        let stats = service.writerStatistics
        #expect(stats.writes == 201)
        #expect(stats.largestBatch <= 8, "\(stats)")
        #expect(stats.commits >= 201 / 8, "\(stats)")
        #expect(try service.exportAwards(after: 0, limit: 1_000).count == 200)
    }
}
