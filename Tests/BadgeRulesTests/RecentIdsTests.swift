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
        for n in 0...(ids.count + 1) { #expect(recent.suffix(n) == Array(ids.suffix(n)), "\(n)") }
        #expect(recent == RecentIds(ids))
        #expect(recent != RecentIds(ids.dropLast()))
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
}
