import BadgeClient
import BadgeModel
import BadgeStore
import BadgeTestSupport
import Foundation
import Synchronization
import Testing

@testable import BadgeService

/// Over a socket: the server commits a batch before its journal sync is done, and neither the
/// batch's replies nor any read that would show it go out before the sync.
@Suite("End to end: answers wait for durability")
struct DurableAnswerTests {
    /// Polls the store until `customerId` holds an award (committed, durable or not).
    static func waitUntilStored(_ store: BadgeStore, _ customerId: String) async throws {
        for _ in 0..<3_000 {
            let stored = try store.read { txn throws(BadgeError) in try store.awards(txn, customerId: customerId) }
            if !stored.isEmpty { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("the award of \(customerId) was never committed")
    }

    /// Whether a task has finished, without awaiting it.
    final class Done: Sendable {
        private let flag = Atomic<Bool>(false)
        func set() { flag.store(true, ordering: .sequentiallyConsistent) }
        var isSet: Bool { flag.load(ordering: .sequentiallyConsistent) }
    }

    @Test(
        "Issue, List, Health and ExportAwards of a batch still syncing are answered after its sync",
        arguments: Transport.allCases)
    func answersWaitForTheSync(transport: Transport) async throws {
        try await TestServer.with { server in
            let client = try await server.client(transport)
            try await Fixtures.define(client, [Fixtures.newMember])
            _ = try await client.issue(IssueRequest(customerId: "other", badgeId: "new-member", requestId: "o-1"))
            let environment = server.service.store.environment
            let hold = SyncHold()
            hold.install(on: environment)
            // The writer pipelines only while more work is on its way: a write that never comes.
            server.service.writer.announce()
            defer { server.service.writer.withdraw() }

            let issueDone = Done()
            let issue = Task {
                defer { issueDone.set() }
                return try await client.issue(IssueRequest(customerId: "held", badgeId: "new-member", requestId: "h-1"))
            }
            try await Self.waitUntilStored(server.service.store, "held")
            let listDone = Done()
            let list = Task {
                defer { listDone.set() }
                return try await client.list(customerId: "held")
            }
            let healthDone = Done()
            let health = Task {
                defer { healthDone.set() }
                return try await client.health()
            }
            let exportDone = Done()
            let export = Task {
                defer { exportDone.set() }
                var ids: [UInt64] = []
                for try await chunk in client.exportAwards() { ids += chunk.awards.map(\.awardId) }
                return ids
            }
            // Answered at once: another customer's trophy case and the catalogue.
            #expect(try await client.list(customerId: "other").entries.first?.state == .earned)
            #expect(try await client.badge(id: "new-member").id == "new-member")
            try await Task.sleep(for: .milliseconds(200))
            #expect(!issueDone.isSet)
            #expect(!listDone.isSet)
            #expect(!healthDone.isSet)
            #expect(!exportDone.isSet)

            hold.release(on: environment)
            let award = try await issue.value.award
            #expect(try await list.value.entries.first?.awards.map(\.awardId) == [award.awardId])
            #expect(try await health.value.awards == 2)
            #expect(try await export.value == [1, award.awardId])
            await client.close()
        }
    }
}
