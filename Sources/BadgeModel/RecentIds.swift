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
    /// Where the last id's entry starts in `packed` (derived from it, so equal lists agree).
    private var lastStart = 0

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

    /// The newest `n` ids, oldest first, joined by `separator` into one String (one allocation,
    /// not one per id: evidence lists them for every award); nil when none would be listed.
    public func newest(_ n: Int, joinedBy separator: String) -> String? {
        let skipped = max(count - max(n, 0), 0)
        guard count > skipped else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(packed.count + (count - skipped) * separator.utf8.count)
        var index = 0
        forEach { id in
            if index > skipped { bytes.append(contentsOf: separator.utf8) }
            if index >= skipped { bytes.append(contentsOf: id) }
            index += 1
        }
        return String(decoding: bytes, as: UTF8.self)
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
        lastStart = packed.count
        appendLength(bytes.count)
        packed.append(contentsOf: bytes)
        count += 1
    }

    private mutating func appendLength(_ length: Int) {
        var rest = UInt64(length)
        while rest >= 0x80 {
            packed.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        packed.append(UInt8(rest))
    }

    /// Drops the oldest ids until at most `limit` are left.
    public mutating func keepLast(_ limit: Int) {
        guard count > limit else { return }
        var offset = 0
        for _ in 0..<(count - max(limit, 0)) { offset = Self.entry(packed, at: offset).end }
        packed.removeSubrange(0..<offset)
        count = max(limit, 0)
        lastStart = count == 0 ? 0 : lastStart - offset
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

    // MARK: Front coding (how states store the ids from schema 4 on; the codec writes the bytes)

    /// Calls `body` with each id, oldest first, as the count of its leading bytes it shares with
    /// the id before it (0 for the first) and its bytes after those (valid only during the call).
    public func forEachSharingPrefix(_ body: (_ shared: Int, _ suffix: UnsafeRawBufferPointer) -> Void) {
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

    /// Appends an id made of the first `shared` bytes of the last id, then `suffix`. False, and
    /// nothing appended, when the last id is shorter than `shared` (or there is none and `shared`
    /// is not 0).
    public mutating func append(sharing shared: Int, suffix: UnsafeRawBufferPointer) -> Bool {
        let last = count == 0 ? 0..<0 : Self.entry(packed, at: lastStart).start..<packed.count
        guard shared >= 0, shared <= last.count else { return false }
        if packed.capacity == 0 { packed.reserveCapacity((shared + suffix.count + 2) * 10) }
        lastStart = packed.count
        appendLength(shared + suffix.count)
        // Byte by byte: appending a slice of `packed` to itself would copy the whole buffer.
        for index in last.lowerBound..<(last.lowerBound + shared) { packed.append(packed[index]) }
        packed.append(contentsOf: suffix)
        count += 1
        return true
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
