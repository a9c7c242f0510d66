import BadgeCodec
import BadgeModel
import BadgeWire
import NIOCore
import NIOEmbedded
import Testing

@Suite("WireFrameDecoder")
struct FrameDecoderTests {
    func channel(maxFrameSize: Int = 64) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(WireFrameDecoder(maxFrameSize: maxFrameSize)))
        return channel
    }

    func buffer(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }

    func frames(_ channel: EmbeddedChannel) throws -> [WireInbound] {
        var result: [WireInbound] = []
        while let item = try channel.readInbound(as: WireInbound.self) { result.append(item) }
        return result
    }

    @Test("reads the preface, then frames split across reads and several per read")
    func prefaceAndFrames() throws {
        let channel = try channel()
        var bytes = WireProtocol.preface()
        bytes += [0, 0, 0, 3, 0xA, 0xB, 0xC]
        bytes += [0, 0, 0, 0]
        bytes += [0, 0, 0, 2, 0x1, 0x2]
        // Deliver one byte at a time: the decoder must wait for whole frames.
        for byte in bytes { try channel.writeInbound(buffer([byte])) }
        let items = try frames(channel)
        #expect(items.count == 4)
        guard case .preface(let version) = items[0] else { Issue.record("no preface"); return }
        #expect(version == 1)
        var lengths: [Int] = []
        for case .frame(let frame) in items.dropFirst() { lengths.append(frame.readableBytes) }
        #expect(lengths == [3, 0, 2])
        #expect(try channel.finish().isClean)
    }

    @Test("garbage is refused at the first byte that cannot be the magic")
    func garbage() throws {
        let channel = try channel()
        #expect(throws: WireError.badPreface([UInt8(ascii: "B"), UInt8(ascii: "X")])) {
            try channel.writeInbound(buffer([UInt8(ascii: "B"), UInt8(ascii: "X")]))
        }
    }

    @Test("a frame over the limit is refused from its length prefix alone")
    func tooLarge() throws {
        let channel = try channel(maxFrameSize: 64)
        try channel.writeInbound(buffer(WireProtocol.preface()))
        _ = try frames(channel)
        #expect(throws: WireError.frameTooLarge(size: 65, limit: 64)) {
            try channel.writeInbound(buffer([0, 0, 0, 65]))
        }
    }

    @Test("a frame exactly at the limit is accepted")
    func atLimit() throws {
        let channel = try channel(maxFrameSize: 4)
        try channel.writeInbound(buffer(WireProtocol.preface() + [0, 0, 0, 4, 1, 2, 3, 4]))
        #expect(try frames(channel).count == 2)
    }

    @Test("EOF inside a frame is reported as truncated")
    func truncated() throws {
        let channel = try channel()
        try channel.writeInbound(buffer(WireProtocol.preface() + [0, 0, 0, 9, 1, 2]))
        #expect(throws: WireError.truncatedFrame(have: 6)) { try channel.finish() }
    }

    @Test("a response frame written by writeResponseFrame decodes back")
    func writeAndRead() throws {
        var out = ByteBuffer()
        let award = Award(awardId: 7, customerId: "c", badgeId: "b", earnedAtMs: 5)
        out.writeResponseFrame(ResponseHeader(callId: 9), message: award)
        out.writeErrorFrame(callId: 10, BadgeError(.notFound, "nope", reason: "badge_not_found"))
        let channel = try channel(maxFrameSize: 1024)
        try channel.writeInbound(buffer(WireProtocol.preface()))
        try channel.writeInbound(out)
        var decoded: [(ResponseHeader, [UInt8])] = []
        for case .frame(let frame) in try frames(channel) {
            decoded.append(
                try frame.withUnsafeReadableBytes { bytes throws(BadgeError) in
                    try Envelope.decodeResponse(bytes) { header, payload in (header, Array(payload)) }
                })
        }
        #expect(decoded.count == 2)
        #expect(decoded[0].0 == ResponseHeader(callId: 9))
        #expect(try Award(decoding: decoded[0].1) == award)
        #expect(decoded[1].0.status == .notFound)
        #expect(decoded[1].0.reason == "badge_not_found")
        #expect(decoded[1].1.isEmpty)
    }

    @Test("every method name is namespaced and only ExportAwards streams")
    func methods() {
        #expect(Method.allCases.allSatisfy { $0.rawValue.hasPrefix("badges.v1.Badges/") })
        #expect(Method.allCases.filter(\.isServerStreaming) == [.exportAwards])
        #expect(Set(Method.allCases.map(\.rawValue)).count == Method.allCases.count)
    }
}
