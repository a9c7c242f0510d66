import BadgeClient
import BadgeModel
import Foundation
import Testing

@Suite("End to end: every refusal has its own status, and nothing stored is harmed")
struct RefusalTests {
    @Test("issue refusals", arguments: Transport.allCases)
    func issueRefusals(transport: Transport) async throws {
        try await TestServer.with { server in
            let client = try await server.client(transport)
            try await Fixtures.define(client)
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            _ = try await client.putBadge(
                BadgeDefinition(id: "future", name: "Future", validFromMs: now + 86_400_000))
            _ = try await client.putBadge(
                BadgeDefinition(
                    id: "past", name: "Past", validFromMs: now - 2 * 86_400_000, validUntilMs: now - 86_400_000))

            func issue(_ customer: String, _ badge: String, _ request: String) async -> BadgeError? {
                await refusal { () async throws(BadgeError) in
                    try await client.issue(IssueRequest(customerId: customer, badgeId: badge, requestId: request))
                }
            }

            var error = await issue("c1", "no-such-badge", "x1")
            #expect(error?.code == .notFound)
            #expect(error?.reason == "badge_not_found")

            _ = try await client.deactivateBadge(id: "night-owl")
            error = await issue("c1", "night-owl", "x2")
            #expect(error?.code == .failedPrecondition)
            #expect(error?.reason == "badge_inactive")

            error = await issue("c1", "future", "x3")
            #expect(error?.reason == "badge_not_yet_valid")
            error = await issue("c1", "past", "x4")
            #expect(error?.reason == "badge_window_closed")

            _ = try await client.issue(IssueRequest(customerId: "c1", badgeId: "new-member", requestId: "x5"))
            error = await issue("c1", "new-member", "x6")
            #expect(error?.code == .alreadyExists)
            #expect(error?.reason == "already_held")

            _ = try await client.issue(IssueRequest(customerId: "c1", badgeId: "milestone-maker", requestId: "m1"))
            _ = try await client.issue(IssueRequest(customerId: "c1", badgeId: "milestone-maker", requestId: "m2"))
            error = await issue("c1", "milestone-maker", "m3")
            #expect(error?.code == .resourceExhausted)
            #expect(error?.reason == "customer_limit_reached")

            _ = try await client.issue(IssueRequest(customerId: "a", badgeId: "founders", requestId: "f1"))
            _ = try await client.issue(IssueRequest(customerId: "b", badgeId: "founders", requestId: "f2"))
            error = await issue("c", "founders", "f3")
            #expect(error?.code == .resourceExhausted)
            #expect(error?.reason == "global_cap_reached")

            error = await issue("c1", "gold-elite", "x5")
            #expect(error?.code == .failedPrecondition)
            #expect(error?.reason == "request_id_reused")

            error = await issue("", "new-member", "x7")
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.contains("customer_id") == true)
            error = await issue(String(repeating: "c", count: 129), "new-member", "x8")
            #expect(error?.code == .invalidArgument)
            #expect(error?.reason == "id_too_long")
            error = await issue("c1", "new-member", "")
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.contains("request_id") == true)
            error = await issue("c1", "bad id!", "x9")
            #expect(error?.reason == "invalid_id")

            // None of the refusals changed what was stored.
            let trophyCase = try await client.list(customerId: "c1")
            #expect(
                trophyCase.entries.filter { $0.state == .earned }.map(\.badge.id) == ["new-member", "milestone-maker"])
            #expect(try await client.health().awards == 5)
            await client.close()
        }
    }

    @Test("catalogue and revoke refusals", arguments: Transport.allCases)
    func catalogueAndRevokeRefusals(transport: Transport) async throws {
        try await TestServer.with { server in
            let client = try await server.client(transport)
            try await Fixtures.define(client, [Fixtures.newMember])

            var error = await refusal { () async throws(BadgeError) in try await client.putBadge(Fixtures.newMember) }
            #expect(error?.code == .alreadyExists)
            #expect(error?.reason == "badge_exists")
            // List caches the catalogue; a replaced badge must show at once.
            #expect(try await client.list(customerId: "c1").entries.first?.badge.name == "New Member")
            var renamed = Fixtures.newMember
            renamed.name = "Newcomer"
            let replaced = try await client.putBadge(renamed, replace: true)
            #expect(!replaced.created)
            #expect(try await client.badge(id: "new-member").name == "Newcomer")
            #expect(try await client.list(customerId: "c1").entries.first?.badge.name == "Newcomer")

            error = await refusal { () async throws(BadgeError) in
                try await client.putBadge(BadgeDefinition(id: "x", name: ""))
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.contains("badge.name") == true)

            error = await refusal { () async throws(BadgeError) in try await client.badge(id: "missing") }
            #expect(error?.code == .notFound)
            error = await refusal { () async throws(BadgeError) in try await client.deactivateBadge(id: "missing") }
            #expect(error?.code == .notFound)

            error = await refusal { () async throws(BadgeError) in
                try await client.revoke(RevokeRequest(customerId: "c1", awardId: 12345, reason: "never issued"))
            }
            #expect(error?.code == .notFound)
            #expect(error?.reason == "award_not_found")
            error = await refusal { () async throws(BadgeError) in
                try await client.revoke(RevokeRequest(customerId: "c1", badgeId: "new-member", reason: "never issued"))
            }
            #expect(error?.code == .notFound)

            let award = try await client.issue(IssueRequest(customerId: "c1", badgeId: "new-member", requestId: "r"))
                .award
            error = await refusal { () async throws(BadgeError) in
                try await client.revoke(RevokeRequest(customerId: "someone-else", awardId: award.awardId, reason: "x"))
            }
            #expect(error?.code == .notFound)
            error = await refusal { () async throws(BadgeError) in
                try await client.revoke(RevokeRequest(customerId: "c1", awardId: award.awardId, reason: ""))
            }
            #expect(error?.code == .invalidArgument)
            _ = try await client.revoke(RevokeRequest(customerId: "c1", awardId: award.awardId, reason: "once"))
            error = await refusal { () async throws(BadgeError) in
                try await client.revoke(RevokeRequest(customerId: "c1", awardId: award.awardId, reason: "twice"))
            }
            #expect(error?.code == .failedPrecondition)
            #expect(error?.reason == "already_revoked")

            // An event no badge listens to is recorded and earns nothing; it is not an error.
            let quiet = try await client.evaluate(ActivityEvent(eventId: "e1", customerId: "c1", type: "purchase"))
            #expect(quiet.awarded.isEmpty && quiet.progress.isEmpty)
            await client.close()
        }
    }

    @Test("the in-flight limit refuses the excess calls and keeps the connection")
    func inFlightLimit() async throws {
        try await TestServer.with(configure: { $0.maxInFlightPerConnection = 2 }) { server in
            let client = try await server.client(.unix)
            try await Fixtures.define(client, [Fixtures.newMember])
            let outcomes = await withTaskGroup(of: BadgeError?.self) { group in
                for index in 0..<100 {
                    group.addTask {
                        await refusal { () async throws(BadgeError) in
                            try await client.issue(
                                IssueRequest(customerId: "l-\(index)", badgeId: "new-member", requestId: "l-\(index)"))
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            let refused = outcomes.compactMap { $0 }
            #expect(refused.allSatisfy { $0.code == .resourceExhausted && $0.reason == "too_many_calls" })
            let accepted = outcomes.count - refused.count
            #expect(accepted >= 2)
            #expect(try await client.health().awards == UInt64(accepted))
            await client.close()
        }
    }

    @Test("the connection limit refuses the extra connection with RESOURCE_EXHAUSTED")
    func connectionLimit() async throws {
        try await TestServer.with(configure: { $0.maxConnections = 1 }) { server in
            let first = try await server.client(.unix)
            let error = await refusal { () async throws(BadgeError) in try await server.client(.tcp) as BadgeClient }
            #expect(error?.code == .resourceExhausted)
            #expect(error?.reason == "too_many_connections")
            #expect(try await first.health().version.isEmpty == false)
            await first.close()
            // The slot is free again once the first client leaves.
            try await Task.sleep(for: .milliseconds(100))
            let second = try await server.client(.tcp)
            #expect(try await second.health().protocolVersion == 1)
            await second.close()
        }
    }

    @Test("a token-protected server refuses calls without the token")
    func authentication() async throws {
        try await TestServer.with(configure: { $0.authToken = "s3cret" }) { server in
            let anonymous = try await server.client(.unix)
            let error = await refusal { () async throws(BadgeError) in try await anonymous.health() }
            #expect(error?.code == .unauthenticated)
            await anonymous.close()
            let wrong = try await server.client(.unix, metadata: ["authorization": "Bearer nope"])
            #expect(await refusal { () async throws(BadgeError) in try await wrong.health() }?.code == .unauthenticated)
            await wrong.close()
            let authorized = try await server.client(.tcp, metadata: ["authorization": "Bearer s3cret"])
            #expect(try await authorized.health().protocolVersion == 1)
            await authorized.close()
        }
    }

    @Test("a call whose deadline passes gets DEADLINE_EXCEEDED")
    func deadline() async throws {
        try await TestServer.with { server in
            let client = try await server.client(.unix)
            try await Fixtures.define(client, [Fixtures.newMember])
            let error = await refusal { () async throws(BadgeError) in
                try await client.issue(
                    IssueRequest(customerId: "d1", badgeId: "new-member", requestId: "d1"), timeout: .nanoseconds(1000))
            }
            #expect(error?.code == .deadlineExceeded)
            // The connection is still good, and a retry with the same request id is safe.
            let retry = try await client.issue(IssueRequest(customerId: "d1", badgeId: "new-member", requestId: "d1"))
            #expect(retry.award.customerId == "d1")
            #expect(try await client.health().awards == 1)
            await client.close()
        }
    }
}
