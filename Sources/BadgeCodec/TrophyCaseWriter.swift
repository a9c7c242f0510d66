import BadgeModel

/// Writes a `badges.v1.ListResponse` by hand from parts that are already encoded: the badge
/// definitions' bytes (the same for every customer, so cached) and the awards' stored records
/// (already `badges.v1.Award` bytes). List is the hottest call; building protobuf-c structs for
/// every badge and award of every trophy case cost more than the rest of the call together.
public enum TrophyCaseWriter {
    /// One line of the trophy case, with its badge and awards pre-encoded.
    public struct Entry {
        public var badge: [UInt8]
        public var state: TrophyCaseEntry.State
        public var awards: [[UInt8]]
        public var progress: [Progress]
        public var criteriaText: String

        public init(
            badge: [UInt8], state: TrophyCaseEntry.State, awards: [[UInt8]], progress: [Progress], criteriaText: String
        ) {
            self.badge = badge
            self.state = state
            self.awards = awards
            self.progress = progress
            self.criteriaText = criteriaText
        }
    }

    public static func encode(customerId: String, entries: [Entry]) -> [UInt8] {
        var out = ProtoWriter(capacity: 64 + entries.reduce(0) { $0 + $1.badge.count + 24 + $1.awards.count * 96 })
        out.string(1, customerId)
        var entry = ProtoWriter(capacity: 512)
        for item in entries {
            entry.bytes.removeAll(keepingCapacity: true)
            entry.message(1, item.badge)
            if item.state == .locked { entry.varintField(2, 1) }
            for award in item.awards { entry.message(3, award) }
            for progress in item.progress { entry.message(4, progress.encoded()) }
            entry.string(5, item.criteriaText)
            out.message(2, entry.bytes)
        }
        return out.bytes
    }
}

/// The few protobuf encoding rules the writer needs (proto3: default values are not written).
struct ProtoWriter {
    var bytes: [UInt8] = []

    init(capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func varintField(_ field: UInt64, _ value: UInt64) {
        guard value != 0 else { return }
        varint(field << 3)
        varint(value)
    }

    /// A length-delimited field (wire type 2): nested messages are written even when empty.
    mutating func message(_ field: UInt64, _ payload: [UInt8]) {
        varint(field << 3 | 2)
        varint(UInt64(payload.count))
        bytes.append(contentsOf: payload)
    }

    mutating func string(_ field: UInt64, _ value: String) {
        guard !value.isEmpty else { return }
        varint(field << 3 | 2)
        varint(UInt64(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }
}
