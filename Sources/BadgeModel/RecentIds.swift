/// The last few event ids that counted toward a criterion (for evidence), oldest first, kept
/// front-coded in one buffer: for each id, a varint count of the leading bytes it shares with the
/// id before it (0 for the first), a varint count of the bytes after those, then those bytes.
///
/// That is also how `CriterionState.recent_front_coded` stores them, so the codec copies the
/// buffer as it is. An Evaluate decodes and re-encodes about ten states with up to ten ids each:
/// as `[String]`, ids longer than 15 bytes were an allocation each, and expanded into a plain
/// buffer and coded again on the way out, they were ~5% of the event loop's time.
///
/// The coding is canonical (each id shares the longest prefix it can, varints are as short as
/// they can be), so equal lists have equal bytes and the synthesized equality holds. It compares
/// bytes: unlike `[String]`'s, it does not treat canonically equivalent Unicode as equal, and
/// bytes read from storage are kept as they are, not repaired (event ids are validated, so
/// neither arises from the service's own writes).
public struct RecentIds: Sendable, Hashable, ExpressibleByArrayLiteral {
    /// The front-coded ids (always well formed and canonical: only `append` and a checked
    /// `appendFrontCoded` write it).
    public private(set) var frontCoded: [UInt8] = []
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

    /// The newest `n` ids, oldest first, joined by `separator` into one String (one allocation,
    /// not one per id: evidence lists them for every award); nil when none would be listed.
    public func newest(_ n: Int, joinedBy separator: String) -> String? {
        let skipped = max(count - max(n, 0), 0)
        guard count > skipped else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(frontCoded.count * 4 + (count - skipped) * separator.utf8.count)
        var index = 0
        forEach { id in
            if index > skipped { bytes.append(contentsOf: separator.utf8) }
            if index >= skipped { bytes.append(contentsOf: id) }
            index += 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Calls `body` with each id's UTF-8 bytes, oldest first (valid only during the call).
    public func forEach(_ body: (UnsafeRawBufferPointer) -> Void) {
        frontCoded.withUnsafeBytes { buffer in
            _ = Self.walk(buffer) { id, _, _ in body(id) }
        }
    }

    public mutating func append(_ id: String) {
        var id = id
        id.withUTF8 { append(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// Appends one id given as UTF-8 bytes.
    public mutating func append(bytes id: UnsafeRawBufferPointer) {
        var shared = 0
        if count > 0 {
            let end = frontCoded.count
            frontCoded.withUnsafeBytes { buffer in
                _ = Self.walk(buffer) { last, _, entryEnd in
                    guard entryEnd == end else { return }
                    let limit = min(last.count, id.count)
                    while shared < limit, last[shared] == id[shared] { shared += 1 }
                }
            }
        }
        // Room for a few more ids like this one at the first, rather than growing the buffer as
        // ids are appended (the engine keeps ten).
        if frontCoded.capacity == 0 { frontCoded.reserveCapacity(max(64, (id.count + 2) * 4)) }
        Self.appendVarint(shared, to: &frontCoded)
        Self.appendVarint(id.count - shared, to: &frontCoded)
        frontCoded.append(contentsOf: UnsafeRawBufferPointer(rebasing: id[shared...]))
        count += 1
    }

    /// Drops the oldest ids until at most `limit` are left.
    public mutating func keepLast(_ limit: Int) {
        guard count > limit else { return }
        guard limit > 0 else {
            frontCoded.removeAll(keepingCapacity: true)
            count = 0
            return
        }
        // The first id kept becomes the first entry, whole; the entries after it are unchanged.
        let firstKept = count - limit
        let byteCount = frontCoded.count
        withUnsafeTemporaryAllocation(byteCount: byteCount + 2 * Self.maxVarintBytes, alignment: 1) { head in
            var headCount = 0
            var keptEnd = 0
            var index = 0
            frontCoded.withUnsafeBytes { buffer in
                _ = Self.walk(buffer) { id, _, entryEnd in
                    if index == firstKept {
                        head[0] = 0
                        headCount =
                            1 + Self.writeVarint(id.count, into: UnsafeMutableRawBufferPointer(rebasing: head[1...]))
                        UnsafeMutableRawBufferPointer(rebasing: head[headCount...]).copyMemory(from: id)
                        headCount += id.count
                        keptEnd = entryEnd
                    }
                    index += 1
                }
            }
            frontCoded.replaceSubrange(0..<keptEnd, with: UnsafeRawBufferPointer(rebasing: head[..<headCount]))
        }
        count = limit
    }

    /// Appends the ids of front-coded `bytes` (laid out as `frontCoded` is). False when they are
    /// malformed (a length past the end, a first id that claims to share, a share longer than the
    /// id before, a varint longer than five bytes); the ids read until then stay, so the caller
    /// must discard the whole list.
    public mutating func appendFrontCoded(_ bytes: UnsafeRawBufferPointer) -> Bool {
        // Most often a list read back from storage, coded as this type codes it: taken as it is,
        // with room for the id the engine is about to append.
        if count == 0 {
            var entries = 0
            var canonical = true
            if Self.walk(
                bytes,
                { _, entryIsCanonical, _ in
                    entries += 1
                    canonical = canonical && entryIsCanonical
                }), canonical
            {
                frontCoded.reserveCapacity(bytes.count + 48)
                frontCoded.append(contentsOf: bytes)
                count = entries
                return true
            }
        }
        // After other ids, or coded differently: id by id, so that the result is canonical.
        return Self.walk(bytes) { id, _, _ in append(bytes: id) }
    }

    // MARK: The coding

    /// A varint here is at most five bytes: no buffer of ids comes near 2^35 bytes.
    private static let maxVarintBytes = 5

    /// Rebuilds each id of front-coded `bytes` in turn and calls `body` with it (valid only during
    /// the call), whether its entry is coded canonically, and where the entry ends. False, at the
    /// first malformed entry, when the bytes are malformed.
    private static func walk(
        _ bytes: UnsafeRawBufferPointer,
        _ body: (_ id: UnsafeRawBufferPointer, _ canonical: Bool, _ entryEnd: Int) -> Void
    ) -> Bool {
        guard !bytes.isEmpty else { return true }
        // An id is made of bytes found in the entries so far, so none is longer than `bytes`.
        return withUnsafeTemporaryAllocation(byteCount: bytes.count, alignment: 1) { scratch in
            var offset = 0
            var length = 0  // of the id before, rebuilt in `scratch`
            while offset < bytes.count {
                let entryStart = offset
                guard let shared = readVarint(bytes, &offset), let suffixCount = readVarint(bytes, &offset),
                    shared <= length, suffixCount <= bytes.count - offset
                else { return false }
                let suffix = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + suffixCount)])
                let canonical =
                    offset - entryStart == varintSize(shared) + varintSize(suffixCount)
                    && (suffix.isEmpty || shared == length || scratch[shared] != suffix[0])
                UnsafeMutableRawBufferPointer(rebasing: scratch[shared...]).copyMemory(from: suffix)
                length = shared + suffixCount
                offset += suffixCount
                body(UnsafeRawBufferPointer(rebasing: scratch[..<length]), canonical, offset)
            }
            return true
        }
    }

    private static func readVarint(_ bytes: UnsafeRawBufferPointer, _ offset: inout Int) -> Int? {
        var value = 0
        for index in 0..<min(maxVarintBytes, bytes.count - offset) {
            let byte = bytes[offset + index]
            value |= Int(byte & 0x7F) << (7 * index)
            if byte < 0x80 {
                offset += index + 1
                return value
            }
        }
        return nil
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
        var rest = value
        while rest >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        out.append(UInt8(rest))
    }

    /// Writes `value` as a varint at the start of `out` (room for `maxVarintBytes`); its size.
    private static func writeVarint(_ value: Int, into out: UnsafeMutableRawBufferPointer) -> Int {
        var rest = value
        var index = 0
        while rest >= 0x80 {
            out[index] = UInt8(truncatingIfNeeded: rest) | 0x80
            rest >>= 7
            index += 1
        }
        out[index] = UInt8(rest)
        return index + 1
    }
}
