import BadgeModel
import Testing

@Suite("RecentIds: event ids packed in one buffer")
struct RecentIdsTests {
    @Test("ids come back in order, long, empty and non-ASCII ones included")
    func roundTrip() {
        let long = String(repeating: "x", count: 200)  // a two-byte length
        let ids = ["r-11", "", long, "é/ü — ok", "0d3f6a2e-5b1c-4c8e-9a7b-2f4e6d8c0a1b"]
        let recent = RecentIds(ids)
        #expect(recent.ids == ids)
        #expect(recent.count == ids.count)
        #expect(recent == RecentIds(ids))
        #expect(recent != RecentIds(ids.dropLast()))
    }

    @Test("the newest n ids joined, as the separate ids joined would be; nil when none are listed")
    func newestJoined() {
        let long = String(repeating: "x", count: 200)
        let ids = ["r-11", "", long, "é/ü — ok"]
        let recent = RecentIds(ids)
        for n in 1...(ids.count + 1) {
            #expect(recent.newest(n, joinedBy: ", ") == ids.suffix(n).joined(separator: ", "), "\(n)")
        }
        #expect(recent.newest(0, joinedBy: ", ") == nil)
        #expect(recent.newest(-1, joinedBy: ", ") == nil)
        #expect(RecentIds().newest(3, joinedBy: ", ") == nil)
        #expect(RecentIds([""]).newest(1, joinedBy: ", ") == "")
    }

    @Test("keepLast drops the oldest")
    func keepLast() {
        var recent: RecentIds = ["a", "bb", "ccc", "dddd"]
        recent.keepLast(4)
        #expect(recent.ids == ["a", "bb", "ccc", "dddd"])
        recent.keepLast(2)
        #expect(recent.ids == ["ccc", "dddd"])
        recent.append("e")
        #expect(recent.ids == ["ccc", "dddd", "e"])
        #expect(recent == ["ccc", "dddd", "e"])
        recent.keepLast(0)
        #expect(recent.isEmpty && recent.ids.isEmpty)
        #expect(recent == RecentIds())
    }

    @Test("an id can be appended as a prefix of the last one plus new bytes, and each id read back that way")
    func sharingPrefixes() {
        var recent: RecentIds = ["order-1001"]
        #expect(Array("2".utf8).withUnsafeBytes { recent.append(sharing: 9, suffix: $0) })
        #expect(Array("".utf8).withUnsafeBytes { recent.append(sharing: 3, suffix: $0) })
        #expect(recent.ids == ["order-1001", "order-1002", "ord"])
        #expect(recent == ["order-1001", "order-1002", "ord"])
        // Longer than the last id, or sharing with no id at all: refused, nothing appended.
        #expect(!Array("x".utf8).withUnsafeBytes { recent.append(sharing: 4, suffix: $0) })
        var empty = RecentIds()
        #expect(!Array("x".utf8).withUnsafeBytes { empty.append(sharing: 1, suffix: $0) })
        #expect(Array("x".utf8).withUnsafeBytes { empty.append(sharing: 0, suffix: $0) })
        #expect(recent.ids == ["order-1001", "order-1002", "ord"] && empty.ids == ["x"])
        // After keepLast the last id is still found.
        recent.keepLast(2)
        #expect(Array("er".utf8).withUnsafeBytes { recent.append(sharing: 3, suffix: $0) })
        #expect(recent.ids == ["order-1002", "ord", "order"])
        var seen: [(Int, String)] = []
        recent.forEachSharingPrefix { shared, suffix in seen.append((shared, String(decoding: suffix, as: UTF8.self))) }
        #expect(seen.map(\.0) == [0, 3, 3] && seen.map(\.1) == ["order-1002", "", "er"])
    }
}
