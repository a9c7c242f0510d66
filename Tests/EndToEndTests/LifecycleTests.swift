import BadgeClient
import BadgeModel
import Foundation
import Testing

@Suite("End to end: graceful shutdown")
struct LifecycleTests {
    @Test("shutdown finishes calls in flight, commits them, and refuses new connections")
    func gracefulShutdown() async throws {
        let server = try await TestServer.start()
        let client = try await server.client(.unix)
        try await Fixtures.define(client, [Fixtures.newMember])
        // Start many writes, then shut down while they are in flight.
        let calls = Task {
            await withTaskGroup(of: Result<IssueResult, BadgeError>.self) { group in
                for index in 0..<300 {
                    group.addTask {
                        do throws(BadgeError) {
                            return .success(
                                try await client.issue(
                                    IssueRequest(
                                        customerId: "s-\(index)", badgeId: "new-member", requestId: "s-\(index)")))
                        } catch {
                            return .failure(error)
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
        }
        try await Task.sleep(for: .milliseconds(5))
        await server.stop()
        let results = await calls.value
        let acknowledged = results.compactMap { try? $0.get() }
        // Anything not acknowledged failed with a clear status rather than hanging.
        for case .failure(let error) in results {
            #expect(error.code == .unavailable, "unexpected \(error)")
        }
        #expect(await refusal { () async throws(BadgeError) in try await server.client(.unix) as BadgeClient } != nil)

        // Every acknowledged award was committed.
        try await server.restart()
        let reader = try await server.client(.tcp)
        for result in acknowledged {
            let trophyCase = try await reader.list(customerId: result.award.customerId)
            let stored = trophyCase.entries.first?.awards ?? []
            #expect(stored == [result.award])
        }
        await reader.close()
        await server.finish()
    }
}
