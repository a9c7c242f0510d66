import BadgeCodec
import BadgeModel
import BadgeTestSupport
import Testing

/// Encodes a request frame into a new array of the size `requestSize` announced.
private func packRequest(_ header: RequestHeader, payload: [UInt8]) -> [UInt8] {
    payload.withUnsafeBytes { payload in
        packFrame(size: Envelope.requestSize(header, payloadCount: payload.count)) {
            Envelope.encodeRequest(header, payload: payload, into: $0)
        }
    }
}

private func packResponse(_ header: ResponseHeader, payload: [UInt8]) -> [UInt8] {
    payload.withUnsafeBytes { payload in
        packFrame(size: Envelope.responseSize(header, payloadCount: payload.count)) {
            Envelope.encodeResponse(header, payload: payload, into: $0)
        }
    }
}

private func packFrame(size: Int, _ pack: (UnsafeMutableRawBufferPointer) -> Void) -> [UInt8] {
    // One spare byte so the buffer is never empty and an overrun past `size` would be visible.
    var buffer = [UInt8](repeating: 0xAA, count: size + 1)
    buffer.withUnsafeMutableBytes { pack(UnsafeMutableRawBufferPointer(rebasing: $0[0..<size])) }
    #expect(buffer[size] == 0xAA, "pack wrote past the announced size")
    return Array(buffer.prefix(size))
}

private func unpackRequest(_ frame: [UInt8]) throws -> (RequestHeader, [UInt8]) {
    try frame.withUnsafeBytes { bytes in
        try Envelope.decodeRequest(bytes) { header, payload in (header, Array(payload)) }
    }
}

private func unpackResponse(_ frame: [UInt8]) throws -> (ResponseHeader, [UInt8]) {
    try frame.withUnsafeBytes { bytes in
        try Envelope.decodeResponse(bytes) { header, payload in (header, Array(payload)) }
    }
}

@Suite("Envelope")
struct EnvelopeTests {
    @Test func requestFrameRoundTrips() throws {
        let payload = IssueRequest(customerId: "c1", badgeId: "gold", requestId: "r1").encoded()
        let header = RequestHeader(
            callId: 0xDEAD_BEEF_0000_0001, kind: .call, method: "badges.v1.Badges/Issue", timeoutMicros: 250_000,
            metadata: ["authorization": "Bearer t0k3n", "x-request-origin": "pos-17", "unicode": "ünï 🏷"])
        let (decoded, decodedPayload) = try unpackRequest(packRequest(header, payload: payload))
        #expect(decoded == header)
        #expect(decoded.callId == 0xDEAD_BEEF_0000_0001)
        #expect(decoded.kind == .call)
        #expect(decoded.method == "badges.v1.Badges/Issue")
        #expect(decoded.timeoutMicros == 250_000)
        #expect(decoded.metadata["authorization"] == "Bearer t0k3n")
        #expect(decodedPayload == payload)
        #expect(try IssueRequest(decoding: decodedPayload).requestId == "r1")
    }

    @Test func cancelFrameRoundTrips() throws {
        let header = RequestHeader(callId: 7, kind: .cancel)
        let (decoded, payload) = try unpackRequest(packRequest(header, payload: []))
        #expect(decoded.kind == .cancel)
        #expect(decoded.callId == 7)
        #expect(decoded.method == "")
        #expect(decoded.timeoutMicros == 0)
        #expect(decoded.metadata.isEmpty)
        #expect(payload.isEmpty)
    }

    @Test func emptyRequestFrameRoundTrips() throws {
        let header = RequestHeader(callId: 0)
        let frame = packRequest(header, payload: [])
        #expect(frame.isEmpty)
        let (decoded, payload) = try unpackRequest(frame)
        #expect(decoded == header)
        #expect(payload.isEmpty)
    }

    @Test func binaryPayloadIsCarriedByteForByte() throws {
        let payload: [UInt8] = (0..<1_000).map { UInt8(truncatingIfNeeded: $0 &* 37) } + [0, 0, 0xFF]
        let request = packRequest(RequestHeader(callId: 1, method: "m"), payload: payload)
        let (_, requestPayload) = try unpackRequest(request)
        #expect(requestPayload == payload)
        let (_, responsePayload) = try unpackResponse(packResponse(ResponseHeader(callId: 1), payload: payload))
        #expect(responsePayload == payload)
    }

    @Test func requestMetadataEncodingIsDeterministic() {
        var small: [String: String] = [:]
        var large = [String: String](minimumCapacity: 512)
        for index in 0..<20 { small["k\(index)"] = "v\(index)" }
        for index in (0..<20).reversed() { large["k\(index)"] = "v\(index)" }
        let first = packRequest(RequestHeader(callId: 3, method: "m", metadata: small), payload: [1, 2, 3])
        let second = packRequest(RequestHeader(callId: 3, method: "m", metadata: large), payload: [1, 2, 3])
        #expect(first == second)
    }

    @Test func successResponseRoundTrips() throws {
        let payload = IssueResult(award: fullAward(), replayed: true).encoded()
        let header = ResponseHeader(callId: 99, endOfCall: false, status: .ok)
        let (decoded, decodedPayload) = try unpackResponse(packResponse(header, payload: payload))
        #expect(decoded == header)
        #expect(decoded.endOfCall == false)
        #expect(try IssueResult(decoding: decodedPayload) == IssueResult(award: fullAward(), replayed: true))
    }

    @Test(arguments: BadgeError.Code.allCases)
    func everyStatusCodeRoundTrips(code: BadgeError.Code) throws {
        let header = ResponseHeader(callId: 5, endOfCall: true, status: code, message: "msg", reason: "why")
        let (decoded, payload) = try unpackResponse(packResponse(header, payload: []))
        #expect(decoded.status == code)
        #expect(decoded == header)
        #expect(payload.isEmpty)
    }

    @Test func errorResponseCarriesMessageAndReason() throws {
        let error = BadgeError(.failedPrecondition, "badge gold is inactive — désolé", reason: "badge_inactive")
        let header = ResponseHeader(callId: 12, error: error)
        #expect(header.endOfCall)
        #expect(header.status == .failedPrecondition)
        let (decoded, _) = try unpackResponse(packResponse(header, payload: []))
        #expect(decoded.callId == 12)
        #expect(decoded.endOfCall)
        #expect(decoded.status == .failedPrecondition)
        #expect(decoded.message == "badge gold is inactive — désolé")
        #expect(decoded.reason == "badge_inactive")
    }

    @Test func unknownStatusNumberReadsAsUnknown() throws {
        // ResponseFrame: call_id = 4 (field 1), status = 99 (field 3), end_of_call = true (field 2).
        let (header, payload) = try unpackResponse([0x08, 0x04, 0x10, 0x01, 0x18, 99])
        #expect(header.callId == 4)
        #expect(header.endOfCall)
        #expect(header.status == .unknown)
        #expect(payload.isEmpty)
    }

    @Test func garbageFramesAreMalformed() {
        let garbage: [UInt8] = [0xFF, 0xFF, 0xFF]
        expectBadgeError(.invalidArgument, reason: "malformed_message") { _ = try unpackRequest(garbage) }
        expectBadgeError(.invalidArgument, reason: "malformed_message") { _ = try unpackResponse(garbage) }
    }

    @Test func decodeBodyErrorsPropagate() {
        let frame = packRequest(RequestHeader(callId: 1, method: "m"), payload: [0xFF, 0xFF, 0xFF])
        // The payload is garbage for IssueRequest; the error from inside the body comes out unchanged.
        expectBadgeError(.invalidArgument, reason: "malformed_message") {
            _ = try frame.withUnsafeBytes { bytes in
                try Envelope.decodeRequest(bytes) { _, payload throws(BadgeError) -> IssueRequest in
                    try IssueRequest(decoding: payload)
                }
            }
        }
    }
}
