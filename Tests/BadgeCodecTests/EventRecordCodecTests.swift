import BadgeModel
import BadgeTestSupport
import Testing

@testable import BadgeCodec

/// `EventRecord` is encoded by hand; protobuf-c (generated from storage.proto) is the reference.
@Suite("EventRecord codec conformance with protobuf-c")
struct EventRecordCodecTests {
    @Test("ours and protobuf-c's: the same bytes, and protobuf-c decodes ours", arguments: 1...3)
    func sameBytes(seed: UInt64) throws {
        var random = SplitMix64(state: seed)
        let texts = EdgeValues.texts
        let times = EdgeValues.int64s
        for _ in 0..<300 {
            let record = EventRecord(
                customerId: texts.randomElement(using: &random)!, type: texts.randomElement(using: &random)!,
                occurredAtMs: times.randomElement(using: &random)!, recordedAtMs: times.randomElement(using: &random)!,
                awardedIds: (0..<Int.random(in: 0...4, using: &random)).map { _ in
                    [0, 1, 300, UInt64.max].randomElement(using: &random)!
                },
                response: (0..<[0, 1, 200, 3000].randomElement(using: &random)!).map { _ in
                    UInt8.random(in: 0...255, using: &random)
                }, awardsById: Bool.random(using: &random),
                progressPacked: (0..<[0, 1, 300].randomElement(using: &random)!).map { _ in
                    UInt8.random(in: 0...255, using: &random)
                })
            let ours = record.encoded()
            #expect(ours == record.protobufCEncoded(), "\(record.customerId) \(record.awardedIds)")
            let decoded = try ours.withUnsafeBytes { try EventRecord(protobufC: $0) }
            #expect(decoded == record)
        }
    }
}
