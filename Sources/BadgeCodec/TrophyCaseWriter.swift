import BadgeModel

/// Writes a `badges.v1.ListResponse` by hand from parts that are already encoded: the badge
/// definitions' bytes (the same for every customer, so cached) and the awards' stored records
/// (already `badges.v1.Award` bytes). List is the hottest call; building protobuf-c structs for
/// every badge and award of every trophy case cost more than the rest of the call together.
///
/// Each entry's size is computed from its parts before it is written, so the reply is built in
/// one buffer with no nested copies.
public struct TrophyCaseWriter {
    public private(set) var bytes: [UInt8] = []

    /// Starts the reply with its customer id; `capacity` is a guess of the whole reply's size.
    public init(customerId: String, capacity: Int) {
        bytes.reserveCapacity(capacity)
        bytes.appendString(field: 1, customerId)
    }

    /// A badge definition's encoding as field 1 of an entry, ready to be spliced in as it is.
    public static func badgeField(_ encodedBadge: [UInt8]) -> [UInt8] {
        var field: [UInt8] = []
        field.appendMessage(field: 1, encodedBadge)
        return field
    }

    /// The criteria description as field 5 of an entry; empty when there is no text.
    public static func criteriaTextField(_ text: String) -> [UInt8] {
        var field: [UInt8] = []
        field.appendString(field: 5, text)
        return field
    }

    /// Appends one `TrophyCaseEntry`.
    /// - Parameters:
    ///   - badgeField: from `badgeField(_:)`.
    ///   - awards: the awards' `badges.v1.Award` encodings, as ranges of `awardBytes`, in order.
    ///   - awardCount: how many current awards the customer holds, `awards` being the newest of them.
    ///   - progress: each `badges.v1.Progress` encoded.
    ///   - criteriaTextField: from `criteriaTextField(_:)`.
    public mutating func appendEntry(
        badgeField: [UInt8], locked: Bool, awards: ArraySlice<Range<Int>>, awardBytes: [UInt8], awardCount: Int,
        progress: [[UInt8]], criteriaTextField: [UInt8]
    ) {
        let countField = UInt64(awardCount)
        var size = badgeField.count + (locked ? 2 : 0) + criteriaTextField.count
        if countField != 0 { size += 1 + varintSize(countField) }
        for award in awards { size += 1 + varintSize(UInt64(award.count)) + award.count }
        for item in progress { size += 1 + varintSize(UInt64(item.count)) + item.count }
        bytes.appendVarint(2 << 3 | 2)
        bytes.appendVarint(UInt64(size))
        bytes.append(contentsOf: badgeField)
        if locked { bytes.append(contentsOf: [2 << 3, 1] as [UInt8]) }
        for award in awards {
            bytes.appendVarint(3 << 3 | 2)
            bytes.appendVarint(UInt64(award.count))
            bytes.append(contentsOf: awardBytes[award])
        }
        for item in progress { bytes.appendMessage(field: 4, item) }
        bytes.append(contentsOf: criteriaTextField)
        bytes.appendVarint(field: 6, countField)
    }

    /// The whole reply for entries already assembled (tests and small callers).
    public static func encode(customerId: String, entries: [TrophyCaseEntry]) -> [UInt8] {
        var writer = TrophyCaseWriter(customerId: customerId, capacity: 256)
        for entry in entries {
            var awardBytes: [UInt8] = []
            var ranges: [Range<Int>] = []
            for award in entry.awards {
                let start = awardBytes.count
                awardBytes.append(contentsOf: award.encoded())
                ranges.append(start..<awardBytes.count)
            }
            writer.appendEntry(
                badgeField: badgeField(entry.badge.encoded()), locked: entry.state == .locked, awards: ranges[...],
                awardBytes: awardBytes, awardCount: entry.awardCount, progress: entry.progress.map { $0.encoded() },
                criteriaTextField: criteriaTextField(entry.criteriaText))
        }
        return writer.bytes
    }
}
