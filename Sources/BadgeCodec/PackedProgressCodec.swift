import BadgeModel

// An event record keeps the progress changes its reply carried, to return them again on a retry.
// In the reply's encoding a change is ~55 bytes, mostly two doubles of 9 bytes (almost always whole
// counts) and a nested message's framing; packed, whole numbers are varints and the framing goes,
// ~30 bytes a change. With ten changes an event (the benchmark's catalogue) that is ~40% of a record.
//
// Layout: a format byte (1), then for each change: a flags byte (1: complete, 2: current is a
// double, 4: target is a double), the badge id, the criterion key, current, target, the text.
// A string is a varint length and its bytes; a number is a zigzag varint, or its IEEE 754 bits in
// 8 bytes, little-endian, when flagged (fractions, negative zero, beyond 2^63).

extension EvaluateResult {
    /// The packed form of `progress`, for an event record (`EventRecord.progressPacked`).
    public static func packedProgress(_ progress: [ProgressChange]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1 + progress.reduce(0) { $0 + 24 + $1.badgeId.utf8.count + $1.progress.text.utf8.count })
        out.append(packedProgressFormat)
        for change in progress {
            let current = Self.wholeNumber(change.progress.current)
            let target = Self.wholeNumber(change.progress.target)
            var flags: UInt8 = change.progress.complete ? 1 : 0
            if current == nil { flags |= 2 }
            if target == nil { flags |= 4 }
            out.append(flags)
            out.appendCounted(change.badgeId)
            out.appendCounted(change.progress.key)
            Self.appendNumber(current, change.progress.current, to: &out)
            Self.appendNumber(target, change.progress.target, to: &out)
            out.appendCounted(change.progress.text)
        }
        return out
    }

    /// The progress changes `packedProgress` was given.
    public static func unpackProgress(_ bytes: [UInt8]) throws(BadgeError) -> [ProgressChange] {
        try withBytes(of: bytes) { buffer throws(BadgeError) in try unpackProgress(buffer) }
    }

    static func unpackProgress(_ bytes: UnsafeRawBufferPointer) throws(BadgeError) -> [ProgressChange] {
        func corrupt(_ what: String) -> BadgeError {
            BadgeError(.dataLoss, "a stored event's progress does not decode: \(what)", reason: "record_corrupt")
        }
        var reader = FieldReader(bytes)
        guard let format = reader.byte() else { return [] }
        guard format == packedProgressFormat else { throw corrupt("format \(format)") }
        var changes: [ProgressChange] = []
        while !reader.atEnd {
            guard let flags = reader.byte(), flags & ~7 == 0 else { throw corrupt("flags") }
            guard let badgeId = reader.countedString(), let key = reader.countedString(),
                let current = reader.number(double: flags & 2 != 0),
                let target = reader.number(double: flags & 4 != 0),
                let text = reader.countedString()
            else { throw corrupt("change \(changes.count + 1) is cut short") }
            changes.append(
                ProgressChange(
                    badgeId: badgeId,
                    progress: Progress(key: key, current: current, target: target, complete: flags & 1 != 0, text: text)
                ))
        }
        return changes
    }

    static let packedProgressFormat: UInt8 = 1

    /// `value` as an integer when that keeps every bit of it (so not -0.0, fractions, NaN or
    /// infinities).
    static func wholeNumber(_ value: Double) -> Int64? {
        guard let whole = Int64(exactly: value), Double(whole).bitPattern == value.bitPattern else { return nil }
        return whole
    }

    static func appendNumber(_ whole: Int64?, _ value: Double, to out: inout [UInt8]) {
        if let whole {
            out.appendVarint(UInt64(bitPattern: (whole << 1) ^ (whole >> 63)))
        } else {
            withUnsafeBytes(of: value.bitPattern.littleEndian) { out.append(contentsOf: $0) }
        }
    }
}

extension [UInt8] {
    /// A varint length, then the string's UTF-8 bytes.
    fileprivate mutating func appendCounted(_ value: String) {
        appendVarint(UInt64(value.utf8.count))
        append(contentsOf: value.utf8)
    }
}

extension FieldReader {
    fileprivate mutating func byte() -> UInt8? {
        guard let start, offset < count else { return nil }
        defer { offset += 1 }
        return start[offset]
    }

    fileprivate mutating func countedString() -> String? {
        lengthDelimited().map { String(decoding: $0, as: UTF8.self) }
    }

    fileprivate mutating func number(double: Bool) -> Double? {
        if double { return fixed64().map { Double(bitPattern: $0) } }
        guard let zigzag = varint() else { return nil }
        return Double(Int64(bitPattern: (zigzag >> 1) ^ (0 &- (zigzag & 1))))
    }
}
