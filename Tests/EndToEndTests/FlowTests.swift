import BadgeClient
import BadgeCodec
import BadgeModel
import BadgeWire
import Foundation
import Testing

@Suite("End to end: the full flow over real sockets")
struct FlowTests {
    @Test("define, issue, retry, list, revoke, list again", arguments: Transport.allCases)
    func fullFlow(transport: Transport) async throws {
        try await TestServer.with { server in
            let client = try await server.client(transport)
            defer { Task { await client.close() } }
            try await Fixtures.define(client)

            let catalogue = try await client.badges()
            #expect(catalogue.map(\.id) == ["founders", "new-member", "gold-elite", "night-owl", "milestone-maker"])

            let issued = try await client.issue(
                IssueRequest(customerId: "c-42", badgeId: "new-member", requestId: "r-1", evidence: "registered"))
            #expect(!issued.replayed)
            #expect(issued.award.awardId > 0)
            #expect(issued.award.evidence == "registered")

            let retried = try await client.issue(
                IssueRequest(customerId: "c-42", badgeId: "new-member", requestId: "r-1"))
            #expect(retried.replayed)
            #expect(retried.award == issued.award)

            _ = try await client.issue(IssueRequest(customerId: "c-42", badgeId: "gold-elite", requestId: "r-2"))
            var trophyCase = try await client.list(customerId: "c-42")
            #expect(trophyCase.entries.filter { $0.state == .earned }.map(\.badge.id) == ["new-member", "gold-elite"])
            #expect(
                trophyCase.entries.filter { $0.state == .locked }.map(\.badge.id) == [
                    "founders", "night-owl", "milestone-maker",
                ])
            #expect(trophyCase.entries.first?.awards.count == 1)

            let revoked = try await client.revoke(
                RevokeRequest(customerId: "c-42", awardId: issued.award.awardId, reason: "fraud", actor: "agent-7"))
            #expect(revoked.count == 1)
            #expect(revoked[0].revokeReason == "fraud")
            #expect(revoked[0].revokedBy == "agent-7")
            #expect(revoked[0].revokedAtMs > 0)

            trophyCase = try await client.list(customerId: "c-42")
            #expect(trophyCase.entries.filter { $0.state == .earned }.map(\.badge.id) == ["gold-elite"])
            #expect(trophyCase.entries.contains { $0.badge.id == "new-member" && $0.state == .locked })

            // The revoked award is kept, with its history, and a retry still returns it.
            let replay = try await client.issue(
                IssueRequest(customerId: "c-42", badgeId: "new-member", requestId: "r-1"))
            #expect(replay.replayed)
            #expect(replay.award.isRevoked)

            let health = try await client.health()
            #expect(health.badges == 5)
            #expect(health.awards == 2)
            #expect(health.protocolVersion == 1)
        }
    }

    @Test("restarting on the same data folder keeps badges and awards", arguments: Transport.allCases)
    func restartKeepsEverything(transport: Transport) async throws {
        let server = try await TestServer.start()
        do {
            var client = try await server.client(transport)
            try await Fixtures.define(client)
            var awards: [Award] = []
            for index in 0..<20 {
                awards.append(
                    try await client.issue(
                        IssueRequest(customerId: "c-\(index)", badgeId: "new-member", requestId: "restart-\(index)")
                    ).award)
            }
            _ = try await client.revoke(RevokeRequest(customerId: "c-3", badgeId: "new-member", reason: "test"))
            _ = try await client.deactivateBadge(id: "night-owl")
            await client.close()

            try await server.restart()
            client = try await server.client(transport)
            #expect(try await client.badges(includeInactive: true).count == 5)
            #expect(try await client.badge(id: "night-owl").status == .inactive)
            for (index, award) in awards.enumerated() {
                let trophyCase = try await client.list(customerId: "c-\(index)")
                let earned = trophyCase.entries.filter { $0.state == .earned }.flatMap(\.awards)
                #expect(earned == (index == 3 ? [] : [award]))
            }
            // Idempotency survives the restart, and award ids keep growing.
            let replay = try await client.issue(
                IssueRequest(customerId: "c-0", badgeId: "new-member", requestId: "restart-0"))
            #expect(replay.replayed)
            let fresh = try await client.issue(
                IssueRequest(customerId: "c-99", badgeId: "new-member", requestId: "after"))
            #expect(fresh.award.awardId > awards.map(\.awardId).max()!)
            await client.close()
        } catch {
            await server.finish()
            throw error
        }
        await server.finish()
    }

    @Test("200 concurrent issues on one connection are all acknowledged and stored", arguments: Transport.allCases)
    func concurrentIssues(transport: Transport) async throws {
        try await TestServer.with { server in
            let client = try await server.client(transport)
            try await Fixtures.define(client, [Fixtures.newMember])
            let results = try await withThrowingTaskGroup(of: IssueResult.self) { group in
                for index in 0..<200 {
                    group.addTask {
                        try await client.issue(
                            IssueRequest(customerId: "cust-\(index)", badgeId: "new-member", requestId: "req-\(index)"))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.count == 200)
            #expect(Set(results.map(\.award.awardId)).count == 200)
            #expect(results.allSatisfy { !$0.replayed })
            for index in 0..<200 {
                let trophyCase = try await client.list(customerId: "cust-\(index)")
                #expect(trophyCase.entries.first?.state == .earned)
            }
            #expect(try await client.health().awards == 200)
            // Group commit: the writer batched them into fewer transactions than writes.
            let stats = server.service.writerStatistics
            #expect(stats.commits < stats.writes)
            await client.close()
        }
    }

    @Test("List shows a badge's newest awards and how many there are in all", arguments: Transport.allCases)
    func listBoundsAwardsPerBadge(transport: Transport) async throws {
        try await TestServer.with { server in
            let client = try await server.client(transport)
            defer { Task { await client.close() } }
            try await Fixtures.define(client, [BadgeDefinition(id: "visit", name: "Visit", repeatable: true)])
            var awardIds: [UInt64] = []
            for index in 0..<150 {
                awardIds.append(
                    try await client.issue(
                        IssueRequest(customerId: "regular", badgeId: "visit", requestId: "visit-\(index)")
                    ).award.awardId)
            }
            let byDefault = try #require(try await client.list(customerId: "regular").entries.first)
            #expect(byDefault.awardCount == 150)
            #expect(byDefault.awards.map(\.awardId) == Array(awardIds.suffix(100)))
            let five = try #require(try await client.list(customerId: "regular", awardsPerBadge: 5).entries.first)
            #expect(five.awardCount == 150)
            #expect(five.awards.map(\.awardId) == Array(awardIds.suffix(5)))
            let all = try #require(try await client.list(customerId: "regular", awardsPerBadge: 1000).entries.first)
            #expect(all.awards.map(\.awardId) == awardIds)

            let error = await #expect(throws: BadgeError.self) {
                try await client.list(customerId: "regular", awardsPerBadge: 1001)
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.reason == "out_of_range")
            #expect(error?.message.contains("awards_per_badge") == true)
        }
    }

    @Test(
        "A reply larger than the server's reply limit fails its call with reply_too_large; the connection goes on",
        arguments: Transport.allCases)
    func replyTooLargeFailsOnlyItsCall(transport: Transport) async throws {
        try await TestServer.with(configure: { $0.maxReplyFrameSize = 8_000 }) { server in
            let client = try await server.client(transport)
            defer { Task { await client.close() } }
            try await Fixtures.define(client, [BadgeDefinition(id: "visit", name: "Visit", repeatable: true)])
            for index in 0..<60 {
                _ = try await client.issue(
                    IssueRequest(
                        customerId: "regular", badgeId: "visit", requestId: "visit-\(index)",
                        evidence: String(repeating: "e", count: 200)))
            }
            // 60 awards of ~250 bytes pass 8,000 bytes; 5 of them do not.
            let error = await #expect(throws: BadgeError.self) {
                try await client.list(customerId: "regular", awardsPerBadge: 60)
            }
            #expect(error?.code == .resourceExhausted)
            #expect(error?.reason == "reply_too_large")
            #expect(error?.message.contains("8000") == true)
            #expect(error?.message.contains("awards_per_badge") == true)
            let small = try #require(try await client.list(customerId: "regular", awardsPerBadge: 5).entries.first)
            #expect(small.awardCount == 60)
            #expect(small.awards.count == 5)

            // A stream whose chunk would pass the limit ends with the same error; smaller chunks go through.
            var received: [UInt64] = []
            let streamError = await #expect(throws: BadgeError.self) {
                for try await chunk in client.exportAwards(chunkSize: 60) { received += chunk.awards.map(\.awardId) }
            }
            #expect(streamError?.reason == "reply_too_large")
            #expect(received.isEmpty)
            var fitting: [UInt64] = []
            for try await chunk in client.exportAwards(chunkSize: 10) { fitting += chunk.awards.map(\.awardId) }
            #expect(fitting.count == 60)
            #expect(try await client.health().awards == 60)
        }
    }

    @Test("ExportAwards chunks stop at about 1 MiB, however many awards chunk_size allows")
    func exportChunksAreBoundedInBytes() async throws {
        try await TestServer.with { server in
            let client = try await server.client(.unix)
            try await Fixtures.define(client, [Fixtures.newMember])
            try await Fixtures.issueNewMembers(
                client, count: 600, prefix: "big", evidence: String(repeating: "e", count: 4_000))
            var chunks: [[Award]] = []
            for try await chunk in client.exportAwards(chunkSize: 4_096) { chunks.append(chunk.awards) }
            #expect(chunks.flatMap { $0.map(\.awardId) } == Array(1...600))
            // 600 awards of ~4 KB are ~2.4 MB: three chunks, none much past 1 MiB of evidence.
            #expect(chunks.count == 3)
            for chunk in chunks {
                #expect(chunk.reduce(0) { $0 + $1.evidence.utf8.count } <= (1 << 20) + 4_000)
            }
            await client.close()
        }
    }

    @Test("ExportAwards streams every award in id order, in chunks")
    func exportStreams() async throws {
        try await TestServer.with { server in
            let client = try await server.client(.unix)
            try await Fixtures.define(client, [Fixtures.newMember])
            try await Fixtures.issueNewMembers(client, count: 450, prefix: "e")
            var chunks = 0
            var ids: [UInt64] = []
            for try await chunk in client.exportAwards(chunkSize: 100) {
                chunks += 1
                ids += chunk.awards.map(\.awardId)
            }
            #expect(chunks == 5)
            #expect(ids == Array(1...450))
            var tail: [UInt64] = []
            for try await chunk in client.exportAwards(after: 440) { tail += chunk.awards.map(\.awardId) }
            #expect(tail == Array(441...450))
            await client.close()
        }
    }

    @Test("an export cancelled mid-stream and started again under the same call id sends each award once, in order")
    func exportRestartedUnderSameCallId() async throws {
        try await TestServer.with { server in
            // 1,000 awards of ~1 KB, one per chunk: more than one pass of the stream's pump, and
            // more than the socket and channel buffers hold.
            let count = 1000
            let client = try await server.client(.unix)
            try await Fixtures.define(client, [Fixtures.newMember])
            try await Fixtures.issueNewMembers(
                client, count: count, prefix: "x", evidence: String(repeating: "e", count: 1000))
            await client.close()

            let raw = try RawConnection(server, .unix)
            raw.sendPreface()
            #expect(raw.readPreface() != nil)
            let export = RawConnection.frame(
                RequestHeader(callId: 1, method: Method.exportAwards.rawValue),
                payload: ExportAwardsRequest(chunkSize: 1).encoded())
            // In one write, so the server reads them together: the first export's next pass is
            // already scheduled (under call id 1) when it is cancelled and the id is reused.
            raw.send(export + RawConnection.frame(RequestHeader(callId: 1, kind: .cancel), payload: []) + export)

            // The first call's frames end with CANCELLED; everything after it is the second call's.
            var first: [UInt64] = []
            var second: [UInt64] = []
            var ends: [BadgeError.Code] = []
            while ends.count < 2 {
                let (header, payload) = try #require(raw.readFrame())
                #expect(header.callId == 1)
                if header.endOfCall {
                    ends.append(header.status)
                } else if ends.isEmpty {
                    first += try ExportAwardsChunk(decoding: payload).awards.map(\.awardId)
                } else {
                    second += try ExportAwardsChunk(decoding: payload).awards.map(\.awardId)
                }
            }
            #expect(ends == [.cancelled, .ok])
            #expect(first == Array(1...UInt64(first.count)))
            #expect(second == Array(1...UInt64(count)))
        }
    }
}
