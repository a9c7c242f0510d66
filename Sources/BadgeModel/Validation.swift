/// Limits on identifiers and text, shared by the service (which enforces them) and clients (which
/// may check early). Keys in the store use a one-byte length prefix, so ids stay under 256 bytes.
public enum Limits {
    public static let maxIdBytes = 128
    public static let maxTextBytes = 4096
    public static let maxLabels = 64
    /// List shows at most this many of each badge's current awards (the newest) unless asked for
    /// another number: a repeatable badge earned daily for years would otherwise make a trophy case
    /// of megabytes, too big for a point-of-sale screen or a client's frame limit.
    public static let defaultAwardsPerBadge = 100
    public static let maxAwardsPerBadge = 1000
}

public enum Validate {
    /// Badge ids: 1-128 bytes of [A-Za-z0-9._:-].
    public static func badgeId(_ value: String, field: String = "badge_id") throws(BadgeError) {
        try nonEmptyId(value, field: field)
        for byte in value.utf8 where !isBadgeIdByte(byte) {
            throw .invalidArgument(
                "\(field) \"\(value)\" contains \(describe(byte)); allowed are letters, digits and . _ : -",
                reason: "invalid_id")
        }
    }

    /// Customer and request ids: 1-128 bytes, no control characters, no U+FFFD.
    public static func opaqueId(_ value: String, field: String) throws(BadgeError) {
        try nonEmptyId(value, field: field)
        for byte in value.utf8 where byte < 0x20 || byte == 0x7F {
            throw .invalidArgument("\(field) contains a control character (\(describe(byte)))", reason: "invalid_id")
        }
        // Strings from the wire are read as C strings, which turns every invalid UTF-8 sequence into
        // U+FFFD: ids "\xFF" and "\xFE" would both arrive as "\u{FFFD}" and be one customer.
        if value.unicodeScalars.contains("\u{FFFD}") {
            throw .invalidArgument(
                "\(field) is not valid UTF-8 (or contains U+FFFD, the replacement character)", reason: "invalid_id")
        }
    }

    /// Free text (names, evidence, reasons): at most `Limits.maxTextBytes` bytes, no NUL.
    /// protobuf-c carries strings as C strings, so a NUL byte would silently cut the text short:
    /// refuse it instead.
    public static func text(_ value: String, field: String) throws(BadgeError) {
        if value.utf8.contains(0) {
            throw .invalidArgument("\(field) contains a NUL character", reason: "invalid_text")
        }
        if value.utf8.count > Limits.maxTextBytes {
            throw .invalidArgument(
                "\(field) is \(value.utf8.count) bytes; the limit is \(Limits.maxTextBytes)", reason: "too_long")
        }
    }

    /// List's `awards_per_badge`: 0 asks for the default; returns how many awards per badge to show.
    public static func awardsPerBadge(_ value: UInt32) throws(BadgeError) -> Int {
        if value == 0 { return Limits.defaultAwardsPerBadge }
        guard value <= Limits.maxAwardsPerBadge else {
            throw .invalidArgument(
                "awards_per_badge is \(value); the limit is \(Limits.maxAwardsPerBadge) (0 means \(Limits.defaultAwardsPerBadge))",
                reason: "out_of_range")
        }
        return Int(value)
    }

    public static func fields(_ map: [String: String], field: String) throws(BadgeError) {
        if map.count > Limits.maxLabels {
            throw .invalidArgument(
                "\(field) has \(map.count) entries; the limit is \(Limits.maxLabels)", reason: "too_long")
        }
        for (key, value) in map {
            if key.isEmpty { throw .invalidArgument("\(field) has an empty key", reason: "invalid_argument") }
            try text(key, field: "\(field) key")
            try text(value, field: "\(field)[\(key)]")
        }
    }

    private static func nonEmptyId(_ value: String, field: String) throws(BadgeError) {
        let count = value.utf8.count
        if count == 0 { throw .invalidArgument("\(field) is empty", reason: "missing_id") }
        if count > Limits.maxIdBytes {
            throw .invalidArgument(
                "\(field) is \(count) bytes; the limit is \(Limits.maxIdBytes)", reason: "id_too_long")
        }
    }

    private static func isBadgeIdByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"),
            UInt8(ascii: "-"):
            true
        default: false
        }
    }

    private static func describe(_ byte: UInt8) -> String {
        (0x21...0x7E).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
    }
}

extension String {
    /// The same id as `other` byte for byte, as the store keys ids. `==` is Unicode canonical
    /// equivalence: "Jos\u{E9}" and "Jose\u{301}" are equal `String`s but two customers.
    public func isSameId(_ other: String) -> Bool {
        utf8.elementsEqual(other.utf8)
    }

    /// Words a refusal naming `other`, a stored id this one is not (`isSameId`): when the two
    /// only differ in their Unicode bytes, says so, or the message would name the same id twice.
    public func differingBytesNote(from other: String) -> String {
        self == other ? " (the same text in other Unicode bytes: ids are compared byte for byte)" : ""
    }
}
