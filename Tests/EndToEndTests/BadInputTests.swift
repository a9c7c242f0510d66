import BadgeClient
import BadgeCodec
import BadgeModel
import BadgeTestSupport
import BadgeWire
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("End to end: malformed input gets a clear status and the server survives")
struct BadInputTests {
    /// After each abuse, a well-behaved client must still be served and the data intact.
    func assertServerHealthy(_ server: TestServer, awards: UInt64) async throws {
        for transport in Transport.allCases {
            let client = try await server.client(transport)
            #expect(try await client.health().awards == awards)
            await client.close()
        }
    }

    func seed(_ server: TestServer) async throws {
        let client = try await server.client(.unix)
        try await Fixtures.define(client, [Fixtures.newMember])
        _ = try await client.issue(IssueRequest(customerId: "keep", badgeId: "new-member", requestId: "keep"))
        await client.close()
    }

    @Test("random bytes instead of the preface are refused at once", arguments: Transport.allCases)
    func garbagePreface(transport: Transport) async throws {
        try await TestServer.with { server in
            try await seed(server)
            let raw = try RawConnection(server, transport)
            raw.send(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            #expect(raw.readPreface() == WireProtocol.preface())
            let (header, _) = try #require(raw.readFrame())
            #expect(header.callId == 0)
            #expect(header.status == .invalidArgument)
            #expect(header.reason == "bad_preface")
            #expect(raw.readsEOF())
            try await assertServerHealthy(server, awards: 1)
        }
    }

    @Test("an unsupported protocol version is refused with FAILED_PRECONDITION")
    func wrongVersion() async throws {
        try await TestServer.with { server in
            let raw = try RawConnection(server, .unix)
            raw.sendPreface(version: 7)
            #expect(raw.readPreface() == WireProtocol.preface())
            let (header, _) = try #require(raw.readFrame())
            #expect(header.status == .failedPrecondition)
            #expect(header.reason == "unsupported_version")
            #expect(header.message.contains("7"))
            #expect(raw.readsEOF())
            try await assertServerHealthy(server, awards: 0)
        }
    }

    @Test(
        "a frame over the size limit gets RESOURCE_EXHAUSTED and the connection closes", arguments: Transport.allCases)
    func oversizedFrame(transport: Transport) async throws {
        try await TestServer.with(configure: { $0.maxFrameSize = 1024 }) { server in
            try await seed(server)
            let raw = try RawConnection(server, transport)
            raw.sendPreface()
            #expect(raw.readPreface() == WireProtocol.preface())
            // Only the length prefix is needed: the server must refuse before buffering the body.
            raw.send([0x00, 0x10, 0x00, 0x00])
            let (header, _) = try #require(raw.readFrame())
            #expect(header.callId == 0)
            #expect(header.status == .resourceExhausted)
            #expect(header.reason == "frame_too_large")
            #expect(header.message.contains("1048576"))
            #expect(raw.readsEOF())
            try await assertServerHealthy(server, awards: 1)
        }
    }

    @Test("a truncated frame followed by EOF harms nothing", arguments: Transport.allCases)
    func truncatedFrame(transport: Transport) async throws {
        try await TestServer.with { server in
            try await seed(server)
            let raw = try RawConnection(server, transport)
            raw.sendPreface()
            let issue = IssueRequest(customerId: "half", badgeId: "new-member", requestId: "half").encoded()
            let frame = RawConnection.frame(RequestHeader(callId: 1, method: Method.issue.rawValue), payload: issue)
            raw.send(Array(frame.prefix(frame.count - 5)))
            raw.shutdownWrite()
            #expect(raw.readPreface() == WireProtocol.preface())
            // Whatever the server says last, it closes, and the half-sent issue is not applied.
            while raw.readFrame() != nil {}
            try await assertServerHealthy(server, awards: 1)
        }
    }

    @Test("ids in invalid UTF-8 are refused by name, not merged into one customer")
    func invalidUTF8Ids() async throws {
        try await TestServer.with { server in
            try await seed(server)
            let raw = try RawConnection(server, .unix)
            raw.sendPreface()
            #expect(raw.readPreface() == WireProtocol.preface())
            // IssueRequest{customer_id: 1, badge_id: 2, request_id: 3}, customer ids "\xFF" then
            // "\xFE": read as C strings, both became "\u{FFFD}", so the second Issue replayed the
            // first customer's award instead of awarding its own customer.
            func issue(customer: UInt8) -> [UInt8] {
                [0x0A, 0x01, customer] + [0x12, 0x0A] + Array("new-member".utf8) + [0x1A, 0x02] + Array("r1".utf8)
            }
            for (callId, customer) in [(UInt64(1), UInt8(0xFF)), (2, 0xFE)] {
                raw.sendCall(callId: callId, method: Method.issue.rawValue, payload: issue(customer: customer))
                let (header, _) = try #require(raw.readFrame())
                #expect(header.callId == callId)
                #expect(header.status == .invalidArgument)
                #expect(header.reason == "invalid_id")
                #expect(header.message.contains("customer_id is not valid UTF-8"))
            }
            try await assertServerHealthy(server, awards: 1)
        }
    }

    @Test("two map keys that are the same text in other Unicode bytes are refused, not merged")
    func ambiguousMapKeys() async throws {
        try await TestServer.with { server in
            try await seed(server)
            let raw = try RawConnection(server, .unix)
            raw.sendPreface()
            #expect(raw.readPreface() == WireProtocol.preface())
            // A map entry: key (field 1) and value (field 2), inside field `number` of the request.
            func entry(_ number: UInt8, _ key: String, _ value: String) -> [UInt8] {
                let body: [UInt8] =
                    [0x0A, UInt8(key.utf8.count)] + Array(key.utf8) + [0x12, UInt8(value.utf8.count)]
                    + Array(value.utf8)
                return [number << 3 | 2, UInt8(body.count)] + body
            }
            // IssueRequest{customer_id "c2", badge_id, request_id, then `fields` (evidence_fields, 6)}.
            func issue(requestId: String, _ fields: [UInt8]) -> [UInt8] {
                [0x0A, 0x02] + Array("c2".utf8) + [0x12, 0x0A] + Array("new-member".utf8)
                    + [0x1A, UInt8(requestId.utf8.count)] + Array(requestId.utf8) + fields
            }
            let (nfc, nfd) = ("k\u{E9}", "ke\u{301}")
            // Both keys: a `String` dictionary kept one entry, the first key's bytes with the
            // second's value.
            let ambiguous = issue(requestId: "r2", entry(6, nfc, "nfc") + entry(6, nfd, "nfd"))
            // EvaluateRequest{event_id, customer_id, type, attributes (7): both keys}.
            let evaluate: [UInt8] =
                [0x0A, 0x02] + Array("e1".utf8) + [0x12, 0x02] + Array("c2".utf8) + [0x1A, 0x05] + Array("visit".utf8)
                + entry(7, nfc, "nfc") + entry(7, nfd, "nfd")
            for (callId, method, payload, field) in [
                (UInt64(1), Method.issue, ambiguous, "evidence_fields"), (2, .evaluate, evaluate, "attributes"),
            ] {
                raw.sendCall(callId: callId, method: method.rawValue, payload: payload)
                let (header, _) = try #require(raw.readFrame())
                #expect(header.callId == callId)
                #expect(header.status == .invalidArgument)
                #expect(header.reason == "ambiguous_key")
                #expect(header.message.contains(field))
            }
            // Keys in invalid UTF-8 ("\xFF" and "\xFE") both read as U+FFFD: refused, not merged.
            func rawEntry(_ key: UInt8) -> [UInt8] { [6 << 3 | 2, 7, 0x0A, 0x01, key, 0x12, 0x02, 0x76, 0x31] }
            let invalid = issue(requestId: "r4", rawEntry(0xFF) + rawEntry(0xFE))
            raw.sendCall(callId: 4, method: Method.issue.rawValue, payload: invalid)
            let (refused, _) = try #require(raw.readFrame())
            #expect(refused.status == .invalidArgument)
            #expect(refused.reason == "invalid_text")
            #expect(refused.message.contains("evidence_fields has a key that is not valid UTF-8"))
            // The same key twice, byte for byte, is a repeated protobuf map key: the last value wins.
            let repeated = issue(requestId: "r3", entry(6, nfc, "first") + entry(6, nfc, "last"))
            raw.sendCall(callId: 3, method: Method.issue.rawValue, payload: repeated)
            let (header, payload) = try #require(raw.readFrame())
            #expect(header.status == .ok)
            let award = try IssueResult(decoding: payload).award
            #expect(award.evidenceFields.count == 1)
            #expect(award.evidenceFields.first.map { $0.key.isSameId(nfc) && $0.value == "last" } == true)
            try await assertServerHealthy(server, awards: 2)
        }
    }

    @Test("an unknown method and an undecodable payload fail that call only", arguments: Transport.allCases)
    func perCallErrors(transport: Transport) async throws {
        try await TestServer.with { server in
            try await seed(server)
            let raw = try RawConnection(server, transport)
            raw.sendPreface()
            #expect(raw.readPreface() == WireProtocol.preface())

            raw.sendCall(callId: 1, method: "badges.v1.Badges/Teleport", payload: [])
            var (header, _) = try #require(raw.readFrame())
            #expect(header.callId == 1)
            #expect(header.status == .unimplemented)
            #expect(header.message.contains("Teleport"))

            raw.sendCall(callId: 2, method: Method.issue.rawValue, payload: [0xFF, 0xFF, 0xFF, 0xFF])
            (header, _) = try #require(raw.readFrame())
            #expect(header.callId == 2)
            #expect(header.status == .invalidArgument)
            #expect(header.reason == "malformed_message")

            // The same connection still serves a good call.
            raw.sendCall(callId: 3, method: Method.list.rawValue, payload: ListRequest(customerId: "keep").encoded())
            let (okHeader, payload) = try #require(raw.readFrame())
            #expect(okHeader.callId == 3)
            #expect(okHeader.status == .ok)
            let trophyCase = try TrophyCase(decoding: payload)
            #expect(trophyCase.entries.first?.state == .earned)
        }
    }

    @Test("calls split across reads at every boundary are all answered, in any chunking", arguments: Transport.allCases)
    func framesSplitAcrossReads(transport: Transport) async throws {
        try await TestServer.with { server in
            let raw = try RawConnection(server, transport)
            var stream = WireProtocol.preface()
            for callId in 1...200 {
                stream += RawConnection.frame(
                    RequestHeader(callId: UInt64(callId), method: Method.list.rawValue),
                    payload: ListRequest(customerId: "c-\(callId)").encoded())
            }
            // Chunks of 1 to 40 bytes, each its own write; the odd pause lets the server read a chunk alone.
            var random = SplitMix64(state: 7)
            var offset = 0
            while offset < stream.count {
                let size = min(stream.count - offset, 1 + Int(random.next() % 40))
                raw.send(Array(stream[offset..<offset + size]))
                offset += size
                if random.next() % 8 == 0 { usleep(200) }
            }
            #expect(raw.readPreface() != nil)
            var answered = Set<UInt64>()
            for _ in 1...200 {
                let (header, payload) = try #require(raw.readFrame())
                #expect(header.status == .ok)
                let trophyCase = try TrophyCase(decoding: payload)
                #expect(trophyCase.customerId == "c-\(header.callId)")
                answered.insert(header.callId)
            }
            #expect(answered == Set(1...200))
        }
    }

    @Test("a frame larger than a read, arriving in pieces, is read whole", arguments: Transport.allCases)
    func largeFrameInPieces(transport: Transport) async throws {
        try await TestServer.with { server in
            let raw = try RawConnection(server, transport)
            raw.sendPreface()
            // 300 KB of metadata the server does not use: far more than one read, below the limit.
            let header = RequestHeader(
                callId: 7, method: Method.health.rawValue,
                metadata: ["x-padding": String(repeating: "p", count: 300_000)])
            let frame = RawConnection.frame(header, payload: [])
            for start in stride(from: 0, to: frame.count, by: 50_000) {
                raw.send(Array(frame[start..<min(start + 50_000, frame.count)]))
                usleep(2_000)
            }
            #expect(raw.readPreface() != nil)
            let (reply, _) = try #require(raw.readFrame())
            #expect(reply.callId == 7)
            #expect(reply.status == .ok)
        }
    }

    @Test("a client that sends without reading is paused, not buffered without bound, and gets every reply")
    func clientThatDoesNotRead() async throws {
        try await TestServer.with { server in
            // Four locked badges per trophy case: ~20,000 replies of a few hundred bytes each.
            let client = try await server.client(.unix)
            try await Fixtures.define(
                client, [Fixtures.newMember, Fixtures.goldElite, Fixtures.nightOwl, Fixtures.milestone])
            await client.close()
            let raw = try RawConnection(server, .unix)
            raw.sendPreface()
            // Far more replies than the socket buffers hold, sent before reading any of them. The
            // sends happen on a thread of their own: once the server pauses reading, they block.
            let calls = 20_000
            let frames = (1...calls).map {
                RawConnection.frame(
                    RequestHeader(callId: UInt64($0), method: Method.list.rawValue),
                    payload: ListRequest(customerId: "c-\($0 % 50)").encoded())
            }
            let fd = raw.fd
            let bytes = frames.flatMap { $0 }
            let sender = Thread { RawConnection.send(bytes, to: fd) }
            sender.start()
            try await Task.sleep(for: .milliseconds(300))
            #expect(raw.readPreface() != nil)
            var answered = 0
            while answered < calls, let (header, _) = raw.readFrame() {
                #expect(header.status == .ok)
                answered += 1
            }
            #expect(answered == calls)
        }
    }

    @Test("an envelope that is not protobuf closes the connection with INVALID_ARGUMENT")
    func malformedEnvelope() async throws {
        try await TestServer.with { server in
            try await seed(server)
            let raw = try RawConnection(server, .unix)
            raw.sendPreface()
            #expect(raw.readPreface() == WireProtocol.preface())
            raw.send([0, 0, 0, 4, 0xFF, 0xFF, 0xFF, 0xFF])
            let (header, _) = try #require(raw.readFrame())
            #expect(header.callId == 0)
            #expect(header.status == .invalidArgument)
            #expect(header.reason == "malformed_envelope")
            #expect(raw.readsEOF())
            try await assertServerHealthy(server, awards: 1)
        }
    }

    @Test("call id 0 and a duplicate in-flight call id are protocol errors")
    func callIdErrors() async throws {
        try await TestServer.with { server in
            let raw = try RawConnection(server, .unix)
            raw.sendPreface()
            #expect(raw.readPreface() == WireProtocol.preface())
            raw.sendCall(callId: 0, method: Method.health.rawValue, payload: [])
            let (header, _) = try #require(raw.readFrame())
            #expect(header.callId == 0)
            #expect(header.reason == "invalid_call_id")
            #expect(raw.readsEOF())
        }
    }

    @Test("a client that disconnects mid-call leaves the server and the data consistent", arguments: Transport.allCases)
    func disconnectMidCall(transport: Transport) async throws {
        try await TestServer.with { server in
            try await seed(server)
            do {
                let raw = try RawConnection(server, transport)
                raw.sendPreface()
                for index in 1...50 {
                    raw.sendCall(
                        callId: UInt64(index), method: Method.issue.rawValue,
                        payload: IssueRequest(
                            customerId: "gone-\(index)", badgeId: "new-member", requestId: "gone-\(index)"
                        )
                        .encoded())
                }
            }  // closed here, replies unread
            try await Task.sleep(for: .milliseconds(200))
            let client = try await server.client(transport)
            // Every write that was acknowledged to the store is whole: each customer has 0 or 1 award,
            // and retrying all of them converges to exactly one each.
            for index in 1...50 {
                let result = try await client.issue(
                    IssueRequest(customerId: "gone-\(index)", badgeId: "new-member", requestId: "gone-\(index)"))
                #expect(result.award.customerId == "gone-\(index)")
            }
            #expect(try await client.health().awards == 51)
            await client.close()
        }
    }

    @Test("after a connection error the server sends nothing more for the calls in flight")
    func connectionErrorEndsCallsInFlight() async throws {
        try await TestServer.with { server in
            try await Fixtures.storeLargeAwards(server, count: 400, prefix: "s")

            let raw = try RawConnection(server, .unix)
            raw.sendPreface()
            #expect(raw.readPreface() == WireProtocol.preface())
            // Chunks of ~256 KB: the first fills the socket and the stream waits. Then, in the same
            // write, a length over the limit: a connection error while the stream is in flight.
            var length = UInt32(WireProtocol.defaultMaxFrameSize + 1).bigEndian
            let tooLarge = withUnsafeBytes(of: &length) { Array($0) }
            let export = RawConnection.frame(
                RequestHeader(callId: 1, method: Method.exportAwards.rawValue),
                payload: ExportAwardsRequest(chunkSize: 64).encoded())
            // A write in between, answered by the writer after the error.
            let issue = RawConnection.frame(
                RequestHeader(callId: 2, method: Method.issue.rawValue),
                payload: IssueRequest(customerId: "late", badgeId: "new-member", requestId: "late").encoded())
            raw.send(export + issue + tooLarge)
            try await Task.sleep(for: .milliseconds(300))
            // Chunks written before the error come first; after it, only the close.
            var error: ResponseHeader?
            while error == nil, let (header, _) = raw.readFrame() {
                if header.callId == 0 {
                    error = header
                } else {
                    #expect(header.callId == 1 && !header.endOfCall)
                }
            }
            #expect(error?.reason == "frame_too_large")
            if let (header, _) = raw.readFrame() {
                Issue.record("call \(header.callId) answered (\(header.status)) after the connection error")
            }
            #expect(raw.readsEOF())
        }
    }
}
