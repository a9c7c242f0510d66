import BadgeModel
import BadgeTestSupport
import Testing

@testable import BadgeCodec

/// `CriterionState` is encoded and decoded by hand; protobuf-c (generated from storage.proto) is the
/// reference. Random states go both ways, and the bytes must match exactly (stored records are
/// compared and replayed byte for byte).
@Suite("CriterionState codec conformance with protobuf-c")
struct CriterionStateCodecTests {
    static let texts = EdgeValues.texts
    static let int64s = EdgeValues.int64s
    static let doubles: [Double] = [0, 1, -1, 0.5, 1_240.75, -3.25e-9, 1e300, Double.greatestFiniteMagnitude]

    func randomState(_ random: inout SplitMix64) -> CriterionState {
        func pick<T>(_ values: [T]) -> T { values.randomElement(using: &random)! }
        var state = CriterionState(fingerprint: pick([0, 1, 300, UInt64.max, 0x9E37_79B9_7F4A_7C15]))
        state.count = pick(Self.doubles)
        state.sum = pick(Self.doubles)
        for index in 0..<Int.random(in: 0...4, using: &random) {
            state.distinct[ExactText("\(pick(Self.texts))\(index)")] = pick(Self.int64s)
        }
        state.buckets = (0..<Int.random(in: 0...5, using: &random)).map { _ in
            CriterionState.Bucket(period: pick(Self.int64s), count: pick(Self.doubles), sum: pick(Self.doubles))
        }
        state.runs = (0..<Int.random(in: 0...4, using: &random)).map { _ in
            CriterionState.Run(start: pick(Self.int64s), end: pick(Self.int64s))
        }
        state.stateValue = pick(Self.texts)
        state.stateTimeMs = pick(Self.int64s)
        state.recent = RecentIds((0..<Int.random(in: 0...3, using: &random)).map { _ in pick(Self.texts) })
        state.rounds = pick([0, 1, 2, UInt32.max])
        state.heldUntilMs = pick(Self.int64s)
        return state
    }

    @Test("ours and protobuf-c's: the same bytes, and each decodes the other's", arguments: 1...4)
    func bothWays(seed: UInt64) throws {
        var random = SplitMix64(state: seed)
        for _ in 0..<300 {
            let state = randomState(&random)
            let ours = state.encoded()
            let theirs = state.protobufCEncoded()
            #expect(ours == theirs, "\(state)")
            #expect(try ours.withUnsafeBytes { try CriterionState(protobufC: $0) } == state)
            #expect(try theirs.withUnsafeBytes { try CriterionState(decoding: $0) } == state)
        }
    }

    @Test("DISTINCT values that are the same text in other Unicode bytes stay two values, both ways")
    func distinctValuesByBytes() throws {
        var state = CriterionState(fingerprint: 1)
        state.distinct = [ExactText("caf\u{E9}"): 3, ExactText("cafe\u{301}"): 4, "cafe": 5]
        #expect(state.distinct.count == 3)
        let ours = state.encoded()
        #expect(ours == state.protobufCEncoded())
        #expect(try ours.withUnsafeBytes { try CriterionState(decoding: $0) } == state)
        #expect(try ours.withUnsafeBytes { try CriterionState(protobufC: $0) } == state)
    }

    @Test("cut anywhere, ours refuses exactly what protobuf-c refuses, and reads the same otherwise")
    func truncated() throws {
        var random = SplitMix64(state: 99)
        for _ in 0..<40 {
            let full = randomState(&random).encoded()
            for cut in 0..<full.count {
                let prefix = Array(full.prefix(cut))
                let ours = try? prefix.withUnsafeBytes { try CriterionState(decoding: $0) }
                let theirs = try? prefix.withUnsafeBytes { try CriterionState(protobufC: $0) }
                #expect(ours == theirs, "cut at \(cut) of \(full.count)")
            }
        }
    }

    /// The store decodes through the `WireMessage` requirement: the hand codec must be what that
    /// finds. A NUL inside a string tells them apart (protobuf-c's C strings stop at it).
    @Test("the generic WireMessage path uses the hand codec")
    func genericPathUsesTheHandCodec() throws {
        func decode<T: WireMessage>(_ type: T.Type, _ bytes: [UInt8]) throws -> T {
            try bytes.withUnsafeBytes { try T(decoding: $0) }
        }
        func encode<T: WireMessage>(_ value: T) -> [UInt8] { value.encoded() }
        let bytes: [UInt8] = [11 << 3 | 2, 3, 0x61, 0x00, 0x62]  // state_value "a\0b"
        #expect(try decode(CriterionState.self, bytes).stateValue == "a\u{0}b")
        #expect(try bytes.withUnsafeBytes { try CriterionState(protobufC: $0) }.stateValue == "a")
        var state = CriterionState(fingerprint: 1)
        state.stateValue = "a\u{0}b"
        #expect(encode(state) == [1 << 3, 1] + bytes)
    }

    @Test("repeated scalars written unpacked (as older writers may) and unknown fields are read as protobuf does")
    func unpackedAndUnknown() throws {
        var bytes: [UInt8] = []
        bytes += [5 << 3 | 0, 0x05]  // distinct_days 5, unpacked
        bytes += [4 << 3 | 2, 0x01, 0x61]  // distinct_values "a"
        bytes += [6 << 3 | 0, 0x07]  // bucket_periods 7, unpacked
        bytes += [7 << 3 | 1] + [0, 0, 0, 0, 0, 0, 0xF0, 0x3F]  // bucket_counts 1.0, unpacked
        bytes += [0x98, 0x06, 0x01]  // unknown field 99 (tag 99 << 3 as a varint), skipped
        let decoded = try bytes.withUnsafeBytes { try CriterionState(decoding: $0) }
        #expect(decoded == (try bytes.withUnsafeBytes { try CriterionState(protobufC: $0) }))
        // A known field with the wrong wire type (sum, field 3, as fixed32) is refused by both.
        let mistyped = bytes + [3 << 3 | 5, 1, 2, 3, 4]
        #expect((try? mistyped.withUnsafeBytes { try CriterionState(decoding: $0) }) == nil)
        #expect((try? mistyped.withUnsafeBytes { try CriterionState(protobufC: $0) }) == nil)
        #expect(decoded.distinct == ["a": 5])
        #expect(decoded.buckets == [CriterionState.Bucket(period: 7, count: 1, sum: 0)])
    }

    @Test("bucket and run fields in any order, split and of unequal lengths, are paired as protobuf-c pairs them")
    func fieldsInAnyOrder() throws {
        func double(_ value: Double) -> [UInt8] {
            (0..<8).map { UInt8(truncatingIfNeeded: value.bitPattern >> (8 * $0)) }
        }
        var bytes: [UInt8] = []
        bytes += [8 << 3 | 2, 24] + double(1.5) + double(2.5) + double(3.5)  // sums before everything
        bytes += [7 << 3 | 1] + double(4)  // one count, unpacked
        bytes += [10 << 3 | 2, 3, 9, 10, 11]  // run ends before starts, one more than the starts
        bytes += [6 << 3 | 2, 2, 20, 21]  // two periods: the third sum is dropped
        bytes += [9 << 3 | 0, 5]  // starts split: unpacked, then packed
        bytes += [9 << 3 | 2, 1, 6]
        bytes += [7 << 3 | 2, 8] + double(5)  // a second count, packed, after the periods
        let decoded = try bytes.withUnsafeBytes { try CriterionState(decoding: $0) }
        #expect(decoded == (try bytes.withUnsafeBytes { try CriterionState(protobufC: $0) }))
        #expect(
            decoded.buckets == [
                CriterionState.Bucket(period: 20, count: 4, sum: 1.5),
                CriterionState.Bucket(period: 21, count: 5, sum: 2.5),
            ])
        #expect(decoded.runs == [CriterionState.Run(start: 5, end: 9), CriterionState.Run(start: 6, end: 10)])
    }

    @Test("tags padded with extra varint bytes are read as protobuf-c reads them", arguments: 1...8)
    func paddedTags(bytesInTag: Int) throws {
        // fingerprint = 1 (field 1, varint), its tag written in `bytesInTag` bytes (0x80 pads).
        let tag: [UInt8] =
            bytesInTag == 1 ? [1 << 3] : [1 << 3 | 0x80] + Array(repeating: 0x80, count: bytesInTag - 2) + [0]
        let bytes = tag + [1]
        let ours = try? bytes.withUnsafeBytes { try CriterionState(decoding: $0) }
        let theirs = try? bytes.withUnsafeBytes { try CriterionState(protobufC: $0) }
        #expect(ours == theirs, "a tag of \(bytesInTag) bytes")
        if bytesInTag > 5 { #expect(ours == nil, "protobuf-c reads at most five tag bytes") }
    }

    @Test("a five-byte tag with a field number past 2^29 is an unknown field to both")
    func largeFieldNumber() throws {
        // Field number 2^32 - 1, wire type 0 (varint 0x7FFFFFFFF8), value 1; then fingerprint = 7.
        let bytes: [UInt8] = [0xF8, 0xFF, 0xFF, 0xFF, 0x7F, 0x01, 1 << 3, 7]
        let ours = try bytes.withUnsafeBytes { try CriterionState(decoding: $0) }
        let theirs = try bytes.withUnsafeBytes { try CriterionState(protobufC: $0) }
        #expect(ours == theirs)
        #expect(ours.fingerprint == 7)
        // Field number 0 is refused in any encoding (protobuf-c passes a padded one as unknown).
        #expect((try? ([0x80, 0x00, 0x01] as [UInt8]).withUnsafeBytes { try CriterionState(decoding: $0) }) == nil)
    }

    @Test("ids are written front-coded (field 16) and plain ones (field 13, before schema 4) are still read")
    func recentIdsFrontCodedAndPlain() throws {
        var state = CriterionState(fingerprint: 1)
        state.recent = ["ord-1001", "ord-1002"]
        // fingerprint, then field 16 (tag 0x82 0x01, 13 bytes): "ord-1001" whole, then 7 bytes
        // shared and "2".
        #expect(state.encoded() == [1 << 3, 1, 0x82, 0x01, 13, 0, 8] + Array("ord-1001".utf8) + [7, 1, 0x32])
        let plain: [UInt8] = [1 << 3, 1, 13 << 3 | 2, 2, 0x61, 0x62, 13 << 3 | 2, 1, 0x63]
        let fromPlain = try plain.withUnsafeBytes { try CriterionState(decoding: $0) }
        #expect(fromPlain.recent.ids == ["ab", "c"])
        #expect(fromPlain == (try plain.withUnsafeBytes { try CriterionState(protobufC: $0) }))
        // Both fields: the plain ids first, then the front-coded ones.
        let both = plain + [0x82, 0x01, 4, 0, 2, 0x64, 0x65]
        #expect(try both.withUnsafeBytes { try CriterionState(decoding: $0) }.recent.ids == ["ab", "c", "de"])
        #expect(try both.withUnsafeBytes { try CriterionState(protobufC: $0) }.recent.ids == ["ab", "c", "de"])
    }

    @Test("a malformed field 16 is refused by both decoders")
    func malformedFrontCodedIds() {
        for inner: [UInt8] in [[1, 1, 0x61], [0, 5, 0x61], [0x80]] {
            let bytes: [UInt8] = [1 << 3, 1, 0x82, 0x01, UInt8(inner.count)] + inner
            #expect((try? bytes.withUnsafeBytes { try CriterionState(decoding: $0) }) == nil, "\(inner)")
            #expect((try? bytes.withUnsafeBytes { try CriterionState(protobufC: $0) }) == nil, "\(inner)")
        }
    }
}
