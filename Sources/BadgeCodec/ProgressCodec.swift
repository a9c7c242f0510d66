import BadgeModel

// `badges.v1.Progress` is encoded by hand: a trophy case with 50 criteria badges encodes 50 of
// them per List, and protobuf-c's struct-and-arena route was ~14% of such a List's time. Same wire
// format; `ProgressCodecTests` checks the bytes against protobuf-c. Decoding stays on protobuf-c
// (only clients decode progress).
extension Progress {
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(encodedSize)
        append(to: &out)
        return out
    }

    /// The size of `encoded()`, worked out without encoding: a nested message's length comes first.
    var encodedSize: Int {
        stringFieldSize(key) + (current != 0 ? 9 : 0) + (target != 0 ? 9 : 0) + (complete ? 2 : 0)
            + stringFieldSize(text)
    }

    func append(to out: inout [UInt8]) {
        out.appendString(field: 1, key)
        out.appendDouble(field: 2, current)
        out.appendDouble(field: 3, target)
        out.appendVarint(field: 4, complete ? 1 : 0)
        out.appendString(field: 5, text)
    }
}

extension ProgressChange {
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(encodedSize)
        append(to: &out)
        return out
    }

    var encodedSize: Int {
        let inner = progress.encodedSize
        return stringFieldSize(badgeId) + 1 + varintSize(UInt64(inner)) + inner
    }

    /// Appends `encoded()` to `out`, with no buffer of its own (an Evaluate encodes about ten).
    func append(to out: inout [UInt8]) {
        out.appendString(field: 1, badgeId)
        out.appendVarint(2 << 3 | 2)
        out.appendVarint(UInt64(progress.encodedSize))
        progress.append(to: &out)
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
        var sizes = 0
        for change in progress {
            let size = change.encodedSize
            sizes += 1 + varintSize(UInt64(size)) + size
        }
        var out: [UInt8] = []
        out.reserveCapacity(sizes)
        for change in progress {
            out.appendVarint(2 << 3 | 2)
            out.appendVarint(UInt64(change.encodedSize))
            change.append(to: &out)
        }
        return out
    }

    /// `encoded()` of a result with these awards and the progress `encodedProgress` was made from.
    /// (Protobuf fields may come in any order; this keeps the order `encoded()` always had.)
    public static func encoded(awarded: [Award], encodedProgress: [UInt8], replayed: Bool) -> [UInt8] {
        encoded(awardRecords: awarded.map { $0.encoded() }, encodedProgress: encodedProgress, replayed: replayed)
    }

    /// `encoded(awarded:encodedProgress:replayed:)` from the awards' `badges.v1.Award` encodings, as
    /// the store returns them when it inserts them: the writer does not encode an award twice.
    public static func encoded(awardRecords: [[UInt8]], encodedProgress: [UInt8], replayed: Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(encodedProgress.count + awardRecords.reduce(0) { $0 + $1.count + 3 } + 2)
        for record in awardRecords { out.appendMessage(field: 1, record) }
        out.append(contentsOf: encodedProgress)
        out.appendVarint(field: 3, replayed ? 1 : 0)
        return out
    }
}
