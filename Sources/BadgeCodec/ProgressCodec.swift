import BadgeModel

// `badges.v1.Progress` is encoded by hand: a trophy case with 50 criteria badges encodes 50 of
// them per List, and protobuf-c's struct-and-arena route was ~14% of such a List's time. Same wire
// format; `ProgressCodecTests` checks the bytes against protobuf-c. Decoding stays on protobuf-c
// (only clients decode progress).
extension Progress {
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(24 + key.utf8.count + text.utf8.count)
        out.appendString(field: 1, key)
        out.appendDouble(field: 2, current)
        out.appendDouble(field: 3, target)
        out.appendVarint(field: 4, complete ? 1 : 0)
        out.appendString(field: 5, text)
        return out
    }
}
