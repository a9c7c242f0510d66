import BadgeModel

// Hand-written protobuf wire format for the hot path (envelopes, List and Issue replies, stored
// award liveness): read in place and written into memory sized beforehand or into byte arrays,
// splicing in bytes that are already encoded instead of building protobuf-c structs.

/// Walks protobuf wire format without copying (bounds are checked by hand, once per byte).
struct FieldReader {
    let start: UnsafePointer<UInt8>?
    let count: Int
    var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        start = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
        count = bytes.count
    }

    var atEnd: Bool { offset >= count }

    mutating func varint() -> UInt64? {
        guard let start else { return nil }
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while offset < count, shift < 64 {
            let byte = start[offset]
            offset += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
        return nil
    }

    /// A field's tag; nil for a malformed one. protobuf-c reads at most five tag bytes (a 32-bit
    /// field number) and refuses a longer tag, so this does too. Field number 0 is refused however
    /// it is written (protobuf-c lets a padded zero through as an unknown field).
    mutating func tag() -> UInt64? {
        let begin = offset
        guard let value = varint(), offset - begin <= 5, value >> 3 != 0 else { return nil }
        return value
    }

    mutating func skip(_ length: Int) -> Bool {
        guard length <= count - offset else { return false }
        offset += length
        return true
    }
}

extension FieldReader {
    mutating func fixed64() -> UInt64? {
        guard let start, count - offset >= 8 else { return nil }
        var value: UInt64 = 0
        for index in 0..<8 { value |= UInt64(start[offset + index]) << (8 * UInt64(index)) }
        offset += 8
        return value
    }

    mutating func lengthDelimited() -> UnsafeRawBufferPointer? {
        guard let length = varint(), length <= UInt64(count - offset), let start else { return nil }
        defer { offset += Int(length) }
        return UnsafeRawBufferPointer(start: start + offset, count: Int(length))
    }

    /// Skips one field's value of `wireType`; false if the bytes end first or the type is unknown.
    mutating func skipField(_ wireType: UInt64) -> Bool {
        switch wireType {
        case 0: return varint() != nil
        case 1: return skip(8)
        case 2: return lengthDelimited() != nil
        case 5: return skip(4)
        default: return false
        }
    }
}

/// One field read by `FieldReader.field`.
enum FieldValue {
    case varint(UInt64)
    case bytes(UnsafeRawBufferPointer)
    case fixed
}

extension FieldReader {
    /// Reads one field's number and value; malformed bytes throw `malformed_message` naming `what`.
    mutating func field(in what: String, _ frameSize: Int) throws(BadgeError) -> (UInt64, FieldValue) {
        guard let tag = tag() else { throw Envelope.malformed(what, frameSize) }
        switch tag & 7 {
        case 0:
            guard let value = varint() else { throw Envelope.malformed(what, frameSize) }
            return (tag >> 3, .varint(value))
        case 1, 5:
            guard skipField(tag & 7) else { throw Envelope.malformed(what, frameSize) }
            return (tag >> 3, .fixed)
        case 2:
            guard let value = lengthDelimited() else { throw Envelope.malformed(what, frameSize) }
            return (tag >> 3, .bytes(value))
        default: throw Envelope.malformed(what, frameSize)
        }
    }
}

/// Writes protobuf wire format into memory sized beforehand.
struct FieldWriter {
    let out: UnsafeMutableRawBufferPointer
    var offset = 0

    init(_ out: UnsafeMutableRawBufferPointer) {
        self.out = out
    }

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            out[offset] = UInt8(truncatingIfNeeded: value) | 0x80
            offset += 1
            value >>= 7
        }
        out[offset] = UInt8(value)
        offset += 1
    }

    mutating func tag(_ field: UInt64, wireType: UInt64) {
        varint(field << 3 | wireType)
    }

    /// proto3: a zero is not written.
    mutating func varintField(_ field: UInt64, _ value: UInt64) {
        guard value != 0 else { return }
        tag(field, wireType: 0)
        varint(value)
    }

    mutating func bytesField(_ field: UInt64, _ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        tag(field, wireType: 2)
        varint(UInt64(bytes.count))
        UnsafeMutableRawBufferPointer(rebasing: out[offset..<(offset + bytes.count)]).copyMemory(from: bytes)
        offset += bytes.count
    }

    mutating func stringField(_ field: UInt64, _ value: String) {
        var value = value
        value.withUTF8 { bytesField(field, UnsafeRawBufferPointer($0)) }
    }
}

/// The encoded size of a string field numbered 1-15 as `appendString(field:_:)` writes it
/// (nothing when empty).
func stringFieldSize(_ value: String) -> Int {
    let count = value.utf8.count
    return count == 0 ? 0 : 1 + varintSize(UInt64(count)) + count
}

func varintSize(_ value: UInt64) -> Int {
    var size = 1
    var value = value >> 7
    while value != 0 {
        size += 1
        value >>= 7
    }
    return size
}

// The few protobuf encoding rules the writer needs (proto3: default values are not written).
extension [UInt8] {
    mutating func appendVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        append(UInt8(value))
    }

    /// A length-delimited field (wire type 2): nested messages are written even when empty.
    mutating func appendMessage(field: UInt64, _ payload: [UInt8]) {
        appendVarint(field << 3 | 2)
        appendVarint(UInt64(payload.count))
        append(contentsOf: payload)
    }

    /// A string field; `keepEmpty` for an element of a repeated field, where "" is a value.
    mutating func appendString(field: UInt64, _ value: String, keepEmpty: Bool = false) {
        guard keepEmpty || !value.isEmpty else { return }
        appendVarint(field << 3 | 2)
        appendVarint(UInt64(value.utf8.count))
        append(contentsOf: value.utf8)
    }

    /// A varint field (wire type 0); zero is not written.
    mutating func appendVarint(field: UInt64, _ value: UInt64) {
        guard value != 0 else { return }
        appendVarint(field << 3)
        appendVarint(value)
    }
}
