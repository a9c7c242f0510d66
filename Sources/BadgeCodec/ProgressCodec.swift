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

extension ProgressChange {
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32 + badgeId.utf8.count + progress.key.utf8.count + progress.text.utf8.count)
        out.appendString(field: 1, badgeId)
        out.appendMessage(field: 2, progress.encoded())
        return out
    }
}

// An Evaluate reply carries about ten progress changes; it is encoded for every event (and kept in
// the event record for replays), and protobuf-c's route was ~6% of the writer's time per event.
extension EvaluateResult {
    public func encoded() -> [UInt8] {
        Self.encoded(awarded: awarded, encodedProgress: Self.encodedProgress(progress), replayed: replayed)
    }

    /// The progress changes' part of `encoded()`: made while an event is planned, before its awards
    /// have ids, so that the writer only encodes the awards.
    public static func encodedProgress(_ progress: [ProgressChange]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(progress.count * 64)
        for change in progress { out.appendMessage(field: 2, change.encoded()) }
        return out
    }

    /// `encoded()` of a result with these awards and the progress `encodedProgress` was made from.
    /// (Protobuf fields may come in any order; this keeps the order `encoded()` always had.)
    public static func encoded(awarded: [Award], encodedProgress: [UInt8], replayed: Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(encodedProgress.count + awarded.count * 160 + 2)
        for award in awarded { out.appendMessage(field: 1, award.encoded()) }
        out.append(contentsOf: encodedProgress)
        out.appendVarint(field: 3, replayed ? 1 : 0)
        return out
    }
}
