import BadgeModel
import Testing

/// The front coding of a state's event ids (`CriterionState.recent_front_coded`), which
/// `RecentIds` keeps them in.
@Suite("RecentIds front coding")
struct RecentIdsFrontCodingTests {
    func frontCoded(_ recent: RecentIds) -> [UInt8] {
        recent.frontCoded
    }

    func decoded(_ bytes: [UInt8], after start: RecentIds = RecentIds()) -> RecentIds? {
        var recent = start
        return bytes.withUnsafeBytes { recent.appendFrontCoded($0) } ? recent : nil
    }

    @Test("front coding: ids sharing a prefix take their differing tail only, and come back whole")
    func frontCodingSharesPrefixes() {
        let ids = (940..<950).map { "ld1795839195465673-0-\($0)" }
        let recent = RecentIds(ids)
        let bytes = frontCoded(recent)
        // The first id whole (2 + 24 bytes), then 2 + 1 byte each ("ld...-0-94" shared, one digit new).
        #expect(bytes.count == 26 + 9 * 3)
        #expect(Array(bytes.prefix(2)) == [0, 24])
        #expect(Array(bytes[26..<29]) == [23, 1, UInt8(ascii: "1")])
        #expect(decoded(bytes) == recent)
        #expect(decoded(bytes)?.ids == ids)
    }

    @Test("front coding round trips any ids: none shared, empty, longer and shorter, split UTF-8")
    func frontCodingRoundTrips() {
        let long = String(repeating: "x", count: 200)
        let lists: [[String]] = [
            [], [""], ["", "", "a"], ["abc", "ab", "abcd", "x"], [long, long + "y", long],
            ["é1", "é2", "èz"],  // "é" and "è" share their first UTF-8 byte only
            ["0d3f6a2e-5b1c-4c8e-9a7b-2f4e6d8c0a1b", "7c1e9b44-0f2a-4d6b-8e3c-5a9d1f7b2c60"],
        ]
        for ids in lists {
            let recent = RecentIds(ids)
            #expect(decoded(frontCoded(recent))?.ids == ids, "\(ids)")
            #expect(decoded(frontCoded(recent)) == recent, "\(ids)")
        }
        // Appended after ids already there (a state holding both fields): the buffer's first id
        // shares nothing with them.
        #expect(decoded(frontCoded(["b-1", "b-2"]), after: ["a-1"])?.ids == ["a-1", "b-1", "b-2"])
    }

    @Test("malformed front-coded ids are refused: a share longer than the id before, a length past the end")
    func frontCodingRefusesMalformed() {
        #expect(decoded([1, 1, 0x61]) == nil, "the first id cannot share")
        #expect(decoded([0, 2, 0x61, 0x62, 3, 0]) == nil, "shares 3 of a 2-byte id")
        #expect(decoded([0, 5, 0x61]) == nil, "5 bytes announced, 1 there")
        #expect(decoded([0]) == nil, "ends inside an entry")
        #expect(decoded([0x80]) == nil, "ends inside a varint")
        #expect(decoded(Array(repeating: 0xFF, count: 10) + [0]) == nil, "a varint of ten bytes")
        #expect(decoded([0, 2, 0x61, 0x62, 2, 0])?.ids == ["ab", "ab"], "shares all of it")
        #expect(decoded([]) == RecentIds())
        #expect(decoded([0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]) == nil, "a varint of six bytes")
    }

    @Test("ids coded another way (sharing less than they could, padded varints) are read and coded canonically")
    func frontCodingCanonicalises() {
        let canonical = RecentIds(["ab", "abc", "b"])
        // "abc" sharing nothing with "ab", and a length padded to two bytes.
        let shareless: [UInt8] = [0, 2, 0x61, 0x62, 0, 3, 0x61, 0x62, 0x63, 0, 1, 0x62]
        let padded: [UInt8] = [0, 0x82, 0x00, 0x61, 0x62, 2, 1, 0x63, 0, 1, 0x62]
        for bytes in [shareless, padded] {
            #expect(decoded(bytes) == canonical, "\(bytes)")
            #expect(decoded(bytes)?.frontCoded == canonical.frontCoded, "\(bytes)")
        }
        // As stored by this build: the bytes are taken as they are.
        #expect(decoded(canonical.frontCoded)?.frontCoded == canonical.frontCoded)
        // After ids already there, the first id shares what it can with the last of them.
        #expect(decoded(frontCoded(["ab", "b"]), after: ["a"])?.frontCoded == RecentIds(["a", "ab", "b"]).frontCoded)
    }
}
