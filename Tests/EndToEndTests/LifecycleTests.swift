import BadgeClient
import BadgeCodec
import BadgeModel
import BadgeWire
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

    @Test("a stream in flight when the drain starts gets all its chunks and its final frame, even to a slow reader")
    func drainFlushesTheLastReplyBeforeClosing() async throws {
        let server = try await TestServer.start()
        do {
            // ~1.2 MB of awards.
            try await Fixtures.storeLargeAwards(server, count: 300, prefix: "d")

            let raw = try RawConnection(server, .unix)
            raw.sendPreface()
            #expect(raw.readPreface() != nil)
            raw.sendCall(
                callId: 1, method: Method.exportAwards.rawValue, payload: ExportAwardsRequest(chunkSize: 4).encoded())
            // The stream fills the buffers and waits for the client to read.
            try await Task.sleep(for: .milliseconds(300))
            let stopping = Task { await server.stop() }
            try await Task.sleep(for: .milliseconds(100))

            // Read slowly, so the socket stays full while the stream ends.
            var ids: [UInt64] = []
            var end: ResponseHeader?
            while end == nil, let (header, payload) = raw.readFrame() {
                #expect(header.callId == 1)
                if header.endOfCall {
                    end = header
                } else {
                    ids += try ExportAwardsChunk(decoding: payload).awards.map(\.awardId)
                    usleep(2_000)
                }
            }
            #expect(ids.count == 300 && ids == Array(1...UInt64(ids.count)), "awards 1-\(ids.last ?? 0) received")
            #expect(end?.status == .ok)
            // Then the connection is closed.
            #expect(raw.readsEOF())
            await stopping.value
        } catch {
            await server.finish()
            throw error
        }
        await server.finish()
    }
}
