/// The last few event ids that counted toward a criterion (for evidence), packed in one buffer as
/// a varint length then the UTF-8 bytes of each, oldest first.
///
/// An Evaluate decodes and re-encodes about ten criterion states with up to ten ids each; as
/// `[String]`, ids longer than 15 bytes (a UUID, badge-load's ids) were one allocation each.
public struct RecentIds: Sendable, Hashable, ExpressibleByArrayLiteral {
    /// The packed ids. Equal lists pack to equal bytes, so the synthesized equality holds (it
    /// compares bytes: unlike `[String]`'s, it does not treat canonically equivalent Unicode as
    /// equal, and bytes read from storage are kept as they are, not repaired; event ids are
    /// validated, so neither arises from the service's own writes).
    private var packed: [UInt8] = []
    public private(set) var count = 0

    public init() {}

    public init(_ ids: [String]) {
        for id in ids { append(id) }
    }

    public init(arrayLiteral ids: String...) {
        self.init(ids)
    }

    public var isEmpty: Bool { count == 0 }

    /// The ids, oldest first (allocates a String each: for evidence and tests).
    public var ids: [String] {
        var result: [String] = []
        result.reserveCapacity(count)
        forEach { result.append(String(decoding: $0, as: UTF8.self)) }
        return result
    }

    /// The newest `n` ids, oldest first (only those become Strings).
    public func suffix(_ n: Int) -> [String] {
        let skipped = max(count - max(n, 0), 0)
        var result: [String] = []
        result.reserveCapacity(count - skipped)
        var index = 0
        forEach { id in
            if index >= skipped { result.append(String(decoding: id, as: UTF8.self)) }
            index += 1
        }
        return result
    }

    public mutating func append(_ id: String) {
        var id = id
        id.withUTF8 { append(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// Appends one id given as UTF-8 bytes (as a decoder finds it).
    public mutating func append(bytes: UnsafeRawBufferPointer) {
        // Room for a full list of ids like this one at the first, rather than growing the buffer
        // three or four times as a state's ids are decoded (the engine keeps ten).
        if packed.capacity == 0 { packed.reserveCapacity((bytes.count + 2) * 10) }
        var length = UInt64(bytes.count)
        while length >= 0x80 {
            packed.append(UInt8(truncatingIfNeeded: length) | 0x80)
            length >>= 7
        }
        packed.append(UInt8(length))
        packed.append(contentsOf: bytes)
        count += 1
    }

    /// Drops the oldest ids until at most `limit` are left.
    public mutating func keepLast(_ limit: Int) {
        guard count > limit else { return }
        var offset = 0
        for _ in 0..<(count - max(limit, 0)) { offset = Self.entry(packed, at: offset).end }
        packed.removeSubrange(0..<offset)
        count = max(limit, 0)
    }

    /// Calls `body` with each id's UTF-8 bytes, oldest first (valid only during the call).
    public func forEach(_ body: (UnsafeRawBufferPointer) -> Void) {
        packed.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let (start, end) = Self.entry(packed, at: offset)
                body(UnsafeRawBufferPointer(rebasing: buffer[start..<end]))
                offset = end
            }
        }
    }

    // MARK: Front coding (how states store the ids from schema 4 on)

    /// Bytes `appendFrontCoded(to:)` appends.
    public var frontCodedSize: Int {
        var size = 0
        forEachShared { shared, suffix in
            size += Self.varintSize(shared) + Self.varintSize(suffix.count) + suffix.count
        }
        return size
    }

    /// Appends the ids front-coded, oldest first: for each, a varint count of leading bytes shared
    /// with the id before it (0 for the first), a varint count of the bytes that follow, and those
    /// bytes. Ids with a common prefix (badge-load's, order numbers) then take a few bytes each.
    public func appendFrontCoded(to out: inout [UInt8]) {
        forEachShared { shared, suffix in
            Self.appendVarint(shared, to: &out)
            Self.appendVarint(suffix.count, to: &out)
            out.append(contentsOf: suffix)
        }
    }

    /// Appends the ids of a front-coded buffer (`appendFrontCoded(to:)`). False when the buffer is
    /// malformed (a length running past its end, a shared count longer than the id before it);
    /// the ids read up to that point are then kept, so the caller must discard the whole value.
    public mutating func appendFrontCoded(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var position = 0
        // Where the id before this one lies in `packed` (none before the first of this buffer).
        var previous = 0..<0
        while position < bytes.count {
            guard let shared = Self.readVarint(bytes, &position), shared <= previous.count,
                let length = Self.readVarint(bytes, &position), length <= bytes.count - position
            else { return false }
            if packed.capacity == 0 { packed.reserveCapacity((shared + length + 2) * 10) }
            var total = shared + length
            while total >= 0x80 {
                packed.append(UInt8(truncatingIfNeeded: total) | 0x80)
                total >>= 7
            }
            packed.append(UInt8(total))
            let start = packed.count
            // Byte by byte: appending a slice of `packed` to itself would copy the whole buffer.
            for index in previous.lowerBound..<(previous.lowerBound + shared) { packed.append(packed[index]) }
            packed.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[position..<(position + length)]))
            position += length
            previous = start..<packed.count
            count += 1
        }
        return true
    }

    /// Calls `body` with each id's count of leading bytes shared with the id before it and the
    /// bytes after those, oldest first.
    private func forEachShared(_ body: (_ shared: Int, _ suffix: UnsafeRawBufferPointer) -> Void) {
        packed.withUnsafeBytes { buffer in
            var previous = 0..<0
            var offset = 0
            while offset < buffer.count {
                let (start, end) = Self.entry(packed, at: offset)
                let limit = min(previous.count, end - start)
                var shared = 0
                while shared < limit, buffer[previous.lowerBound + shared] == buffer[start + shared] { shared += 1 }
                body(shared, UnsafeRawBufferPointer(rebasing: buffer[(start + shared)..<end]))
                previous = start..<end
                offset = end
            }
        }
    }

    private static func varintSize(_ value: Int) -> Int {
        var size = 1
        var rest = value >> 7
        while rest > 0 {
            size += 1
            rest >>= 7
        }
        return size
    }

    private static func appendVarint(_ value: Int, to out: inout [UInt8]) {
        var rest = UInt64(value)
        while rest >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        out.append(UInt8(rest))
    }

    /// A varint of at most 9 bytes (nothing in a state comes near 2^63), or nil when the buffer
    /// ends inside it or it is longer.
    private static func readVarint(_ bytes: UnsafeRawBufferPointer, _ position: inout Int) -> Int? {
        var value = 0
        var shift = 0
        while position < bytes.count, shift < 63 {
            let byte = bytes[position]
            position += 1
            value |= Int(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
        return nil
    }

    /// Where the id starting at `offset` has its bytes. The buffer is only ever written by
    /// `append`, so its varints are well formed.
    private static func entry(_ packed: [UInt8], at offset: Int) -> (start: Int, end: Int) {
        var length = 0
        var shift = 0
        var position = offset
        while true {
            let byte = packed[position]
            position += 1
            length |= Int(byte & 0x7F) << shift
            if byte < 0x80 { break }
            shift += 7
        }
        return (position, position + length)
    }
}
