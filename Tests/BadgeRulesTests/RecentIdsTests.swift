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

    @Test("appending and dropping keep the coding canonical: the bytes of the same ids coded afresh")
    func canonicalAfterChanges() {
        var random = SystemRandomNumberGenerator()
        let pieces = ["order-", "1001", "1002", "", "é", "x", "0d3f6a2e-5b1c", String(repeating: "y", count: 150)]
        for _ in 0..<300 {
            var recent = RecentIds()
            var ids: [String] = []
            for _ in 0..<Int.random(in: 0...14, using: &random) {
                if Bool.random(using: &random), !ids.isEmpty {
                    let limit = Int.random(in: 0...ids.count, using: &random)
                    recent.keepLast(limit)
                    ids = Array(ids.suffix(limit))
                } else {
                    let id = (0..<Int.random(in: 0...3, using: &random)).map { _ in
                        pieces.randomElement(using: &random)!
                    }
                    .joined()
                    recent.append(id)
                    ids.append(id)
                }
                #expect(recent.ids == ids)
                #expect(recent.count == ids.count)
                #expect(recent.frontCoded == RecentIds(ids).frontCoded, "\(ids)")
            }
        }
        // The first id kept is written whole; the ids after it keep what they share.
        var recent: RecentIds = ["order-1001", "order-1002", "order-1003"]
        recent.keepLast(2)
        #expect(recent.frontCoded == [0, 10] + Array("order-1002".utf8) + [9, 1, UInt8(ascii: "3")])
    }
}
