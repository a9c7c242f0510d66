import BadgeModel
import BadgeTestSupport
import Testing

@testable import BadgeCodec

/// `Progress` is encoded by hand; protobuf-c (generated from badges.proto) is the reference.
@Suite("Progress codec conformance with protobuf-c")
struct ProgressCodecTests {
    static let texts = ["", "buys", "2 / 3 referrals", "é/ü — ok", String(repeating: "long ", count: 40)]
    static let doubles: [Double] = [0, -0.0, 1, -1, 0.5, 1_240.75, 3e-9, 1e300, .infinity, -.infinity]

    @Test("ours and protobuf-c's give the same bytes, and protobuf-c reads ours back", arguments: 1...3)
    func sameBytes(seed: UInt64) throws {
        var random = SplitMix64(state: seed)
        func pick<T>(_ values: [T]) -> T { values.randomElement(using: &random)! }
        for _ in 0..<500 {
            let progress = Progress(
                key: pick(Self.texts), current: pick(Self.doubles), target: pick(Self.doubles),
                complete: Bool.random(using: &random), text: pick(Self.texts))
            let ours = progress.encoded()
            #expect(ours == progress.protobufCEncoded(), "\(progress)")
            let decoded = try ours.withUnsafeBytes { try Progress(protobufC: $0) }
            // -0.0 is not written (proto3 zero), so it reads back as 0.
            #expect(decoded.key == progress.key && decoded.text == progress.text)
            #expect(decoded.current == progress.current && decoded.target == progress.target)
            #expect(decoded.complete == progress.complete)
        }
    }

    @Test("the generic WireMessage path uses the hand encoder")
    func genericPath() {
        func encode<T: WireMessage>(_ value: T) -> [UInt8] { value.encoded() }
        // A NUL inside a string tells them apart: protobuf-c's C strings stop at it.
        let progress = Progress(key: "a\u{0}b", current: 1, target: 2, complete: false, text: "")
        #expect(encode(progress) == [1 << 3 | 2, 3, 0x61, 0x00, 0x62] + progress.encoded().dropFirst(5))
        #expect(encode(progress) != progress.protobufCEncoded())
    }

    @Test("Evaluate replies: the same bytes as protobuf-c's, awards and progress changes included", arguments: 1...3)
    func evaluateReplies(seed: UInt64) throws {
        var random = SplitMix64(state: seed)
        func pick<T>(_ values: [T]) -> T { values.randomElement(using: &random)! }
        for _ in 0..<200 {
            let awards = (0..<Int.random(in: 0...2, using: &random)).map { index in
                Award(
                    awardId: random.next() % 1_000, customerId: "c-\(index)", badgeId: pick(Self.texts),
                    earnedAtMs: 1_700_000_000_000, expiresAtMs: pick([0, 1_800_000_000_000]), source: .rule,
                    evidence: pick(Self.texts), evidenceFields: ["event_id": "e-\(index)", "event_type": "purchase"],
                    requestId: "event:e-\(index):b")
            }
            let changes = (0..<Int.random(in: 0...12, using: &random)).map { _ in
                ProgressChange(
                    badgeId: pick(Self.texts),
                    progress: Progress(
                        key: pick(Self.texts), current: pick(Self.doubles), target: pick(Self.doubles),
                        complete: Bool.random(using: &random), text: pick(Self.texts)))
            }
            let result = EvaluateResult(awarded: awards, progress: changes, replayed: Bool.random(using: &random))
            #expect(result.encoded() == result.protobufCEncoded(), "\(result)")
            // A reply put together from its progress part (how the writer answers a new event).
            let progress = EvaluateResult.encodedProgress(changes)
            let stored = EvaluateResult(awarded: [], progress: changes, replayed: false)
            #expect(
                EvaluateResult.encoded(awardRecords: [], encodedProgress: progress, replayed: false)
                    == stored.protobufCEncoded())
        }
    }

    @Test("packed for an event record, progress changes unpack to the same values, bit for bit", arguments: 1...3)
    func packedRoundTrip(seed: UInt64) throws {
        var random = SplitMix64(state: seed)
        func pick<T>(_ values: [T]) -> T { values.randomElement(using: &random)! }
        let numbers = Self.doubles + [.nan, 2, 1_000, -7, 9_007_199_254_740_994, 9.3e18, Double(Int64.min)]
        for _ in 0..<300 {
            let changes = (0..<Int.random(in: 0...12, using: &random)).map { _ in
                ProgressChange(
                    badgeId: pick(Self.texts),
                    progress: Progress(
                        key: pick(Self.texts), current: pick(numbers), target: pick(numbers),
                        complete: Bool.random(using: &random), text: pick(Self.texts)))
            }
            let unpacked = try EvaluateResult.unpackProgress(EvaluateResult.packedProgress(changes))
            #expect(unpacked.count == changes.count)
            for (back, original) in zip(unpacked, changes) {
                #expect(back.badgeId == original.badgeId && back.progress.key == original.progress.key)
                #expect(
                    back.progress.text == original.progress.text && back.progress.complete == original.progress.complete
                )
                #expect(back.progress.current.bitPattern == original.progress.current.bitPattern)
                #expect(back.progress.target.bitPattern == original.progress.target.bitPattern)
            }
        }
    }

    @Test("a typical change packs in about half its reply encoding")
    func packedSize() {
        let changes = (0..<10).map { index in
            ProgressChange(
                badgeId: "rule-\(index)",
                progress: Progress(key: "count", current: 2, target: 9, complete: false, text: "2 / 9 purchase"))
        }
        let packed = EvaluateResult.packedProgress(changes).count
        let reply = EvaluateResult.encodedProgress(changes).count
        // Per change: flags 1, badge id 1 + 6, key 1 + 5, 2 and 9 as one-byte varints, text 1 + 14.
        #expect(packed == 1 + 10 * 31, "\(packed)")
        #expect(Double(packed) < 0.6 * Double(reply), "\(packed) against \(reply)")
    }

    @Test("a packed form that is cut short, of another format or with unknown flags is refused as data loss")
    func packedCorrupt() {
        let good = EvaluateResult.packedProgress([
            ProgressChange(
                badgeId: "b", progress: Progress(key: "k", current: 1.5, target: 3, complete: false, text: "t"))
        ])
        var badFlags = good
        badFlags[1] = 8
        var otherFormat = good
        otherFormat[0] = 2
        for bytes in [Array(good.dropLast()), Array(good.prefix(5)), badFlags, otherFormat] {
            let error = expectBadgeError(.dataLoss, reason: "record_corrupt") {
                _ = try EvaluateResult.unpackProgress(bytes)
            }
            #expect(error?.message.contains("does not decode") == true)
        }
        #expect((try? EvaluateResult.unpackProgress(EvaluateResult.packedProgress([]))) == [])
    }
}
