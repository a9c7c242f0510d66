import BadgeCodec
import BadgeModel
import BadgeTestSupport
import BadgeWireC
import Glibc
import Testing

/// The envelope is read and written by hand; protobuf-c (generated from rpc.proto) is the reference
/// for what those bytes mean. Random headers go both ways: ours into protobuf-c, protobuf-c into ours.
@Suite("Envelope conformance with protobuf-c")
struct EnvelopeConformanceTests {
    static let methods = Method.allCases.map(\.rawValue) + ["", "x/Unknown", "badges.v1.Badges/Lis", "é/ü"]
    static let texts = ["", "badge gold is inactive — désolé", "a", String(repeating: "long ", count: 40)]

    func randomPayload(_ random: inout SplitMix64) -> [UInt8] {
        (0..<Int.random(in: 0...300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
    }

    func randomRequest(_ random: inout SplitMix64) -> RequestHeader {
        var metadata: [String: String] = [:]
        for index in 0..<Int.random(in: 0...3, using: &random) {
            metadata["key-\(index)"] = Self.texts.randomElement(using: &random)!
        }
        return RequestHeader(
            callId: [0, 1, 127, 128, 300, UInt64.max].randomElement(using: &random)!,
            kind: Bool.random(using: &random) ? .call : .cancel, method: Self.methods.randomElement(using: &random)!,
            timeoutMicros: [0, 1, 5_000_000, UInt64(UInt32.max)].randomElement(using: &random)!, metadata: metadata)
    }

    @Test("requests: ours decode in protobuf-c and protobuf-c's decode in ours", arguments: 1...4)
    func requests(seed: UInt64) throws {
        var random = SplitMix64(state: seed)
        for _ in 0..<200 {
            let header = randomRequest(&random)
            let payload = randomPayload(&random)
            // Ours → protobuf-c.
            let ours = payload.withUnsafeBytes { payload in
                var bytes = [UInt8](repeating: 0, count: Envelope.requestSize(header, payloadCount: payload.count))
                bytes.withUnsafeMutableBytes { Envelope.encodeRequest(header, payload: payload, into: $0) }
                return bytes
            }
            let unpacked = try #require(
                ours.withUnsafeBufferPointer { badges__v1__request_frame__unpack(nil, $0.count, $0.baseAddress) })
            defer { badges__v1__request_frame__free_unpacked(unpacked, nil) }
            let c = unpacked.pointee
            #expect(c.call_id == header.callId)
            #expect((c.kind == BADGES__V1__REQUEST_FRAME__KIND__CANCEL) == (header.kind == .cancel))
            #expect(String(cString: c.method) == header.method)
            #expect(c.timeout_micros == header.timeoutMicros)
            var metadata: [String: String] = [:]
            for index in 0..<c.n_metadata {
                metadata[String(cString: c.metadata[index]!.pointee.key)] = String(
                    cString: c.metadata[index]!.pointee.value)
            }
            #expect(metadata == header.metadata)
            #expect(Array(UnsafeRawBufferPointer(start: c.payload.data, count: c.payload.len)) == payload)
            // protobuf-c → ours: its packing of the same message decodes to the same header and payload.
            let size = badges__v1__request_frame__get_packed_size(unpacked)
            var theirs = [UInt8](repeating: 0, count: size)
            #expect(
                theirs.withUnsafeMutableBufferPointer { badges__v1__request_frame__pack(unpacked, $0.baseAddress) }
                    == size)
            let (decoded, decodedPayload) = try theirs.withUnsafeBytes { bytes in
                try Envelope.decodeRequest(bytes) { header, payload in (header, Array(payload)) }
            }
            #expect(decoded == header)
            #expect(decodedPayload == payload)
        }
    }

    @Test("responses: ours decode in protobuf-c and protobuf-c's decode in ours", arguments: 1...4)
    func responses(seed: UInt64) throws {
        var random = SplitMix64(state: seed)
        for _ in 0..<200 {
            let header = ResponseHeader(
                callId: [0, 1, 127, 128, 300, UInt64.max].randomElement(using: &random)!,
                endOfCall: Bool.random(using: &random), status: BadgeError.Code.allCases.randomElement(using: &random)!,
                message: Self.texts.randomElement(using: &random)!, reason: Self.texts.randomElement(using: &random)!)
            let payload = randomPayload(&random)
            let ours = payload.withUnsafeBytes { payload in
                var bytes = [UInt8](repeating: 0, count: Envelope.responseSize(header, payloadCount: payload.count))
                bytes.withUnsafeMutableBytes { Envelope.encodeResponse(header, payload: payload, into: $0) }
                return bytes
            }
            let unpacked = try #require(
                ours.withUnsafeBufferPointer { badges__v1__response_frame__unpack(nil, $0.count, $0.baseAddress) })
            defer { badges__v1__response_frame__free_unpacked(unpacked, nil) }
            let c = unpacked.pointee
            #expect(c.call_id == header.callId)
            #expect((c.end_of_call != 0) == header.endOfCall)
            #expect(Int32(bitPattern: c.status.rawValue) == header.status.rawValue)
            #expect(String(cString: c.message) == header.message)
            #expect(String(cString: c.reason) == header.reason)
            #expect(Array(UnsafeRawBufferPointer(start: c.payload.data, count: c.payload.len)) == payload)
            // protobuf-c packs fields in number order and leaves defaults out, as we do: same bytes.
            let size = badges__v1__response_frame__get_packed_size(unpacked)
            var theirs = [UInt8](repeating: 0, count: size)
            _ = theirs.withUnsafeMutableBufferPointer { badges__v1__response_frame__pack(unpacked, $0.baseAddress) }
            #expect(theirs == ours)
            let (decoded, decodedPayload) = try theirs.withUnsafeBytes { bytes in
                try Envelope.decodeResponse(bytes) { header, payload in (header, Array(payload)) }
            }
            #expect(decoded == header)
            #expect(decodedPayload == payload)
        }
    }

    @Test("a frame cut anywhere, or with a wrong wire type, is malformed, never misread")
    func truncatedAndMistyped() {
        let frame = [UInt8](
            repeating: 0, count: Envelope.requestSize(RequestHeader(callId: 300, method: "m"), payloadCount: 3))
        var full = frame
        [UInt8]([1, 2, 3]).withUnsafeBytes { payload in
            full.withUnsafeMutableBytes {
                Envelope.encodeRequest(RequestHeader(callId: 300, method: "m"), payload: payload, into: $0)
            }
        }
        for cut in 1..<full.count {
            let prefix = Array(full.prefix(cut))
            let fine = (try? prefix.withUnsafeBytes { try Envelope.decodeRequest($0) { header, _ in header } }) != nil
            let cFine = prefix.withUnsafeBufferPointer { bytes in
                guard let message = badges__v1__request_frame__unpack(nil, bytes.count, bytes.baseAddress) else {
                    return false
                }
                badges__v1__request_frame__free_unpacked(message, nil)
                return true
            }
            #expect(fine == cFine, "cut at \(cut): ours \(fine), protobuf-c \(cFine)")
        }
        // call_id (field 1) sent as a length-delimited field.
        expectBadgeError(.invalidArgument, reason: "malformed_message") {
            _ = try [UInt8]([0x0A, 0x01, 0x00]).withUnsafeBytes {
                try Envelope.decodeRequest($0) { header, _ in header }
            }
        }
        // Field number 0 does not exist.
        expectBadgeError(.invalidArgument, reason: "malformed_message") {
            _ = try [UInt8]([0x00, 0x01]).withUnsafeBytes { try Envelope.decodeResponse($0) { header, _ in header } }
        }
    }
}
