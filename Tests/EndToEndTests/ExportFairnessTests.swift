import BadgeCodec
import BadgeModel
import BadgeWire
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("End to end: a stream whose client reads as fast as it is sent shares its event loop")
struct ExportFairnessTests {
    @Test(
        "exports read as fast as they are sent let another connection's List through, and a cancel ends them midway",
        arguments: [1, 2])
    func fastReadExportsYield(exports: Int) async throws {
        // One event loop, shared by the exports and the List.
        try await TestServer.with(configure: { $0.eventLoopThreads = 1 }) { server in
            // Small awards, one per chunk: over a thousand bursts of 16 chunks per export, and
            // bytes the readers below take faster than the server sends them, so the socket never
            // fills and the streams never park (a parked stream lets the loop read in any case).
            let count = 20_000
            _ = try await server.service.putBadge(PutBadgeRequest(badge: Fixtures.newMember))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<count {
                    group.addTask {
                        _ = try await server.service.issue(
                            IssueRequest(customerId: "f-\(index)", badgeId: "new-member", requestId: "f-\(index)"))
                    }
                }
                try await group.waitForAll()
            }

            // Connected first, so every preface is answered before the exports start.
            let streams = try (0..<exports).map { _ in try RawConnection(server, .unix) }
            let other = try RawConnection(server, .unix)
            for raw in streams + [other] {
                raw.sendPreface()
                #expect(raw.readPreface() != nil)
                // Were the loop not to read between bursts, an answer would wait for the exports
                // before it to end: the cancels below say which came first, not a read timing out.
                raw.setReadTimeout(seconds: 60)
            }
            var drains: [ExportDrain] = []
            for raw in streams {
                raw.sendCall(
                    callId: 1, method: Method.exportAwards.rawValue,
                    payload: ExportAwardsRequest(chunkSize: 1).encoded())
                // Under way: what is sent below arrives in a later read than the export.
                let (header, payload) = try #require(raw.readFrame())
                #expect(!header.endOfCall)
                #expect(try ExportAwardsChunk(decoding: payload).awards.map(\.awardId) == [1])
                drains.append(ExportDrain(raw))
            }

            other.sendCall(callId: 1, method: Method.list.rawValue, payload: ListRequest(customerId: "f-0").encoded())
            #expect(other.readFrame()?.0.status == .ok)

            // Sent once the List was answered: a stream still running then ends CANCELLED, after
            // a few bursts; one that had run to its end ends OK with every award.
            let cancel = RawConnection.frame(RequestHeader(callId: 1, kind: .cancel), payload: [])
            for drain in drains { drain.raw.send(cancel) }
            for drain in drains {
                let (ids, end) = await drain.result()
                #expect(end == .cancelled)
                #expect(ids.count < count - 1)
                #expect(ids == Array(2..<2 + UInt64(ids.count)))
            }
        }
    }
}

/// Reads an export's frames on a thread of its own as they come, keeping up with the server (one
/// large `recv` for many frames), until the frame that ends the call.
private final class ExportDrain: @unchecked Sendable {
    // @unchecked: only the thread reads from `raw` (the test may write to it); `outcome` is
    // written before `done` is signalled and read after.
    let raw: RawConnection
    private var outcome: (ids: [UInt64], end: BadgeError.Code?) = ([], nil)
    private let done = DispatchSemaphore(value: 0)

    init(_ raw: RawConnection) {
        self.raw = raw
        Thread { [self] in
            outcome = drain()
            done.signal()
        }.start()
    }

    /// The award ids received (in order) and how the call ended (nil: the connection ended first).
    func result() async -> (ids: [UInt64], end: BadgeError.Code?) {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { [self] in
                done.wait()
                continuation.resume(returning: outcome)
            }
        }
    }

    private func drain() -> (ids: [UInt64], end: BadgeError.Code?) {
        var payloads: [[UInt8]] = []
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var end: BadgeError.Code?
        reading: while true {
            let got = buffer.withUnsafeMutableBytes { recv(raw.fd, $0.baseAddress, $0.count, 0) }
            if got <= 0 { break }
            pending += buffer[0..<got]
            var start = 0
            while pending.count - start >= 4 {
                let length = pending[start..<start + 4].reduce(0) { $0 << 8 | Int($1) }
                guard pending.count - start - 4 >= length else { break }
                let frame = Array(pending[start + 4..<start + 4 + length])
                start += 4 + length
                let header = try? frame.withUnsafeBytes { bytes throws(BadgeError) in
                    try Envelope.decodeResponse(bytes) { header, _ in header }
                }
                guard let header else { break reading }
                if header.endOfCall {
                    end = header.status
                    break reading
                }
                // Decoded afterwards, so as to keep up.
                payloads.append(frame)
            }
            pending.removeFirst(start)
        }
        let ids = payloads.flatMap { frame in
            (try? frame.withUnsafeBytes { bytes throws(BadgeError) in
                try Envelope.decodeResponse(bytes) { _, payload throws(BadgeError) in
                    try ExportAwardsChunk(decoding: payload).awards.map(\.awardId)
                }
            }) ?? []
        }
        return (ids, end)
    }
}
