/// The key layout of every named database, written down in one place.
///
/// All integers are big-endian so that byte order is numeric order; strings are prefixed with their
/// length in one byte (ids are at most 128 bytes) so that one id is never a prefix of another's key.
///
/// | database      | key                                                  | value                          |
/// | ------------- | ---------------------------------------------------- | ------------------------------ |
/// | `meta`        | ASCII name (`schema_version`, `next_award_id`)       | u32 / u64, big-endian          |
/// | `badges`      | badge id bytes                                       | `badges.v1.BadgeDefinition`    |
/// | `awards`      | len‖customer id ‖ len‖badge id ‖ u64 award id        | `badges.v1.Award`              |
/// | `award_ids`   | u64 award id                                         | the award's `awards` key       |
/// | `requests`    | Issue request id bytes                               | u64 award id                   |
/// | `badge_counts`| badge id bytes                                       | u64 unrevoked awards           |
/// | `progress`    | len‖customer id ‖ len‖badge id ‖ criterion key bytes | `badges.v1.CriterionState`     |
/// | `event_log`   | u64 recorded-at ms ‖ u64 history sequence            | `badges.v1.EventRecord`        |
/// | `event_ids`   | Evaluate event id bytes                              | the event's `event_log` key    |
/// | `history`     | len‖customer id ‖ u64 sequence                       | event id bytes                 |
/// | `customers`   | customer id bytes                                    | the customer's IANA time zone  |
///
/// (`events`, event id -> record, and `event_times`, u64 recorded-at ms ‖ event id -> history key,
/// held event records up to schema 4; they are emptied when such a folder is opened.)
///
/// A trophy case is one range scan of `awards` over the customer prefix; a customer's awards of one
/// badge are the longer prefix with the badge id; award ids grow, so each range is oldest first.
enum Keys {
    static let schemaVersion: [UInt8] = Array("schema_version".utf8)
    static let nextAwardId: [UInt8] = Array("next_award_id".utf8)
    static let nextHistorySequence: [UInt8] = Array("next_history_seq".utf8)

    /// Splits a `progress` key after the customer prefix into (badge id, criterion key).
    static func splitProgress(_ key: UnsafeRawBufferPointer, customerPrefixLength: Int) -> (String, String)? {
        guard key.count > customerPrefixLength else { return nil }
        let badgeLength = Int(key[customerPrefixLength])
        let badgeStart = customerPrefixLength + 1
        guard key.count >= badgeStart + badgeLength else { return nil }
        let badge = String(
            decoding: UnsafeRawBufferPointer(rebasing: key[badgeStart..<(badgeStart + badgeLength)]), as: UTF8.self)
        let criterion = String(
            decoding: UnsafeRawBufferPointer(rebasing: key[(badgeStart + badgeLength)...]), as: UTF8.self)
        return (badge, criterion)
    }

    /// Events in the order they were recorded (the sequence orders those of one millisecond), so
    /// that new ones are appended and the oldest can be pruned with one forward scan.
    static func eventLog(recordedAtMs: Int64, sequence: UInt64) -> [UInt8] {
        var key: [UInt8] = []
        key.reserveCapacity(16)
        appendUInt64(UInt64(max(recordedAtMs, 0)), to: &key)
        appendUInt64(sequence, to: &key)
        return key
    }

    static func history(customerId: String, sequence: UInt64) -> [UInt8] {
        var key: [UInt8] = []
        key.reserveCapacity(customerId.utf8.count + 1 + 8)
        appendString(customerId, to: &key)
        appendUInt64(sequence, to: &key)
        return key
    }

    static func customerPrefix(_ customerId: String) -> [UInt8] {
        var key: [UInt8] = []
        key.reserveCapacity(customerId.utf8.count + 1)
        appendString(customerId, to: &key)
        return key
    }

    /// An id as it appears inside a composite key: its length in one byte, then its bytes.
    static func lengthPrefixed(_ id: String) -> [UInt8] {
        var part: [UInt8] = []
        part.reserveCapacity(id.utf8.count + 1)
        appendString(id, to: &part)
        return part
    }

    static func customerBadgePrefix(_ customerId: String, _ badgeId: String) -> [UInt8] {
        var key: [UInt8] = []
        key.reserveCapacity(customerId.utf8.count + badgeId.utf8.count + 2 + 8)  // room for an award id
        appendString(customerId, to: &key)
        appendString(badgeId, to: &key)
        return key
    }

    static func award(customerId: String, badgeId: String, awardId: UInt64) -> [UInt8] {
        var key = customerBadgePrefix(customerId, badgeId)
        appendUInt64(awardId, to: &key)
        return key
    }

    static func string(_ value: String) -> [UInt8] { Array(value.utf8) }

    static func uint64(_ value: UInt64) -> [UInt8] {
        var key: [UInt8] = []
        appendUInt64(value, to: &key)
        return key
    }

    static func readUInt64(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard bytes.count == 8 else { return nil }
        var value: UInt64 = 0
        for byte in bytes { value = value << 8 | UInt64(byte) }
        return value
    }

    static func readUInt32(_ bytes: UnsafeRawBufferPointer) -> UInt32? {
        guard bytes.count == 4 else { return nil }
        var value: UInt32 = 0
        for byte in bytes { value = value << 8 | UInt32(byte) }
        return value
    }

    static func uint32(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    /// Appends `id` as `lengthPrefixed(id)` would give it, to a key being built.
    static func appendLengthPrefixed(_ id: String, to key: inout [UInt8]) { appendString(id, to: &key) }

    private static func appendString(_ value: String, to key: inout [UInt8]) {
        precondition(value.utf8.count <= 255, "ids are validated to at most 128 bytes before reaching the store")
        key.append(UInt8(value.utf8.count))
        key.append(contentsOf: value.utf8)
    }

    private static func appendUInt64(_ value: UInt64, to key: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) { key.append(UInt8(value >> UInt64(shift) & 0xFF)) }
    }
}
