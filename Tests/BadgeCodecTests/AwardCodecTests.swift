import BadgeModel
import BadgeTestSupport
import Testing

@testable import BadgeCodec

/// `Award` is encoded by hand; protobuf-c (generated from badges.proto) is the reference. Stored
/// awards are replayed byte for byte, so the bytes must match exactly.
@Suite("Award codec conformance with protobuf-c")
struct AwardCodecTests {
    @Test("ours and protobuf-c's: the same bytes, and protobuf-c decodes ours", arguments: 1...3)
    func sameBytes(seed: UInt64) throws {
        var random = SplitMix64(state: seed)
        let texts = EdgeValues.texts
        let times = EdgeValues.int64s
        func text() -> String { texts.randomElement(using: &random)! }
        func time() -> Int64 { times.randomElement(using: &random)! }
        for _ in 0..<400 {
            var fields: [String: String] = [:]
            // Keys and values drawn from the texts, "" included, and one key a digit longer.
            for index in 0..<Int.random(in: 0...4, using: &random) {
                fields[index == 3 ? "\(text())3" : text()] = text()
            }
            let award = Award(
                awardId: [0, 1, 300, UInt64.max].randomElement(using: &random)!, customerId: text(), badgeId: text(),
                earnedAtMs: time(), expiresAtMs: time(), source: AwardSource.allCases.randomElement(using: &random)!,
                evidence: text(), evidenceFields: fields, requestId: text(), revokedAtMs: time(),
                revokeReason: text(), revokedBy: text())
            let ours = award.encoded()
            #expect(ours == award.protobufCEncoded(), "\(award)")
            let decoded = try ours.withUnsafeBytes { try Award(protobufC: $0) }
            #expect(decoded == award)
        }
    }
}
