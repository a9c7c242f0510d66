import BadgeModel

// `badges.v1.CriterionState` by hand: every Evaluate reads and rewrites about ten of them, and
// going through protobuf-c's structs and arena cost ~13% of the writer's time per event. Same
// wire format (proto3, repeated scalars packed); `CriterionStateCodecTests` checks it both ways
// against protobuf-c.
extension CriterionState {
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(estimatedSize)
        append(to: &out)
        return out
    }

    /// About the size of `encoded()` (for reserving a buffer; never less for common states).
    public var estimatedSize: Int {
        32 + stateValue.utf8.count + distinct.count * 24 + buckets.count * 28 + runs.count * 12
            + recent.frontCoded.count
    }

    /// Appends `encoded()` to `out` (the store packs a plan's states into one buffer).
    public func append(to out: inout [UInt8]) {
        out.appendVarint(field: 1, fingerprint)
        out.appendDouble(field: 2, count)
        out.appendDouble(field: 3, sum)
        if !distinct.isEmpty {
            // Sorted, so the same state always encodes to the same bytes.
            let sortedDistinct = distinct.sorted { $0.key < $1.key }
            for (value, _) in sortedDistinct { out.appendString(field: 4, value.text, keepEmpty: true) }
            out.appendPackedVarints(field: 5, sortedDistinct) { UInt64(bitPattern: $0.value) }
        }
        out.appendPackedVarints(field: 6, buckets) { UInt64(bitPattern: $0.period) }
        out.appendPackedFixed64(field: 7, buckets) { $0.count.bitPattern }
        out.appendPackedFixed64(field: 8, buckets) { $0.sum.bitPattern }
        out.appendPackedVarints(field: 9, runs) { UInt64(bitPattern: $0.start) }
        out.appendPackedVarints(field: 10, runs) { UInt64(bitPattern: $0.end) }
        out.appendString(field: 11, stateValue)
        out.appendVarint(field: 12, UInt64(bitPattern: stateTimeMs))
        // `recent` (13) is no longer written: the ids go front-coded into field 16, after 15 as
        // protobuf-c orders fields.
        out.appendVarint(field: 14, UInt64(rounds))
        out.appendVarint(field: 15, UInt64(bitPattern: heldUntilMs))
        if !recent.isEmpty {
            out.appendVarint(16 << 3 | 2)
            // Kept front-coded as stored (see `RecentIds`).
            out.appendVarint(UInt64(recent.frontCoded.count))
            out.append(contentsOf: recent.frontCoded)
        }
    }

    public init(decoding bytes: UnsafeRawBufferPointer) throws(BadgeError) {
        self.init(fingerprint: 0)
        var values: [String] = []
        var days: [Int64] = []
        // Buckets and runs are filled in place, each field at its own position, whatever order
        // the fields come in (temporary arrays per field were most of a state's allocations).
        var periodCount = 0
        var countCount = 0
        var sumCount = 0
        var startCount = 0
        var endCount = 0
        var reader = FieldReader(bytes)
        // Built only when needed: about ten states are decoded per Evaluate.
        func malformed() -> BadgeError { Envelope.malformed(Self.protoName, bytes.count) }
        func bucket(_ index: Int) -> Int {
            if index == buckets.count { buckets.append(Bucket(period: 0)) }
            return index
        }
        func run(_ index: Int) -> Int {
            if index == runs.count { runs.append(Run(start: 0, end: 0)) }
            return index
        }
        while !reader.atEnd {
            guard let tag = reader.tag() else { throw malformed() }
            let field = tag >> 3
            let wireType = tag & 7
            switch (field, wireType) {
            case (1, 0): fingerprint = try present(reader.varint(), malformed())
            case (2, 1): count = Double(bitPattern: try present(reader.fixed64(), malformed()))
            case (3, 1): sum = Double(bitPattern: try present(reader.fixed64(), malformed()))
            case (4, 2):
                values.append(String(decoding: try present(reader.lengthDelimited(), malformed()), as: UTF8.self))
            case (5, _): try reader.int64s(wireType, malformed()) { days.append($0) }
            case (6, _):
                try reader.int64s(wireType, malformed()) {
                    buckets[bucket(periodCount)].period = $0
                    periodCount += 1
                }
            case (7, _):
                try reader.doubles(wireType, malformed()) {
                    buckets[bucket(countCount)].count = $0
                    countCount += 1
                }
            case (8, _):
                try reader.doubles(wireType, malformed()) {
                    buckets[bucket(sumCount)].sum = $0
                    sumCount += 1
                }
            case (9, _):
                try reader.int64s(wireType, malformed()) {
                    runs[run(startCount)].start = $0
                    startCount += 1
                }
            case (10, _):
                try reader.int64s(wireType, malformed()) {
                    runs[run(endCount)].end = $0
                    endCount += 1
                }
            case (11, 2):
                stateValue = String(decoding: try present(reader.lengthDelimited(), malformed()), as: UTF8.self)
            case (12, 0): stateTimeMs = Int64(bitPattern: try present(reader.varint(), malformed()))
            case (13, 2): recent.append(bytes: try present(reader.lengthDelimited(), malformed()))
            case (14, 0): rounds = UInt32(truncatingIfNeeded: try present(reader.varint(), malformed()))
            case (15, 0): heldUntilMs = Int64(bitPattern: try present(reader.varint(), malformed()))
            case (16, 2):
                guard recent.appendFrontCoded(try present(reader.lengthDelimited(), malformed())) else {
                    throw malformed()
                }
            case (1...16, _): throw malformed()
            default: guard reader.skipField(wireType) else { throw malformed() }  // unknown: skipped
            }
        }
        // The same pairing as the protobuf-c path: a bucket per period and a run per start with an
        // end; a missing count or sum reads as zero, values past the periods are dropped.
        for (index, value) in values.enumerated() {
            distinct[ExactText(value)] = index < days.count ? days[index] : 0
        }
        if buckets.count > periodCount { buckets.removeSubrange(periodCount...) }
        let pairedRuns = min(startCount, endCount)
        if runs.count > pairedRuns { runs.removeSubrange(pairedRuns...) }
    }
}

/// `value`, or `error` when it is missing (a read that ran past the end).
private func present<T>(_ value: T?, _ error: @autoclosure () -> BadgeError) throws(BadgeError) -> T {
    guard let value else { throw error() }
    return value
}

extension FieldReader {
    /// A repeated int64: packed (wire type 2) or one value (wire type 0), as protobuf accepts both.
    mutating func int64s(
        _ wireType: UInt64, _ malformed: @autoclosure () -> BadgeError, _ each: (Int64) -> Void
    ) throws(BadgeError) {
        switch wireType {
        case 0:
            guard let value = varint() else { throw malformed() }
            each(Int64(bitPattern: value))
        case 2:
            guard let packed = lengthDelimited() else { throw malformed() }
            var inner = FieldReader(packed)
            while !inner.atEnd {
                guard let value = inner.varint() else { throw malformed() }
                each(Int64(bitPattern: value))
            }
        default: throw malformed()
        }
    }

    /// A repeated double: packed (wire type 2) or one value (wire type 1).
    mutating func doubles(
        _ wireType: UInt64, _ malformed: @autoclosure () -> BadgeError, _ each: (Double) -> Void
    ) throws(BadgeError) {
        switch wireType {
        case 1:
            guard let bits = fixed64() else { throw malformed() }
            each(Double(bitPattern: bits))
        case 2:
            guard let packed = lengthDelimited(), packed.count % 8 == 0 else { throw malformed() }
            var inner = FieldReader(packed)
            while !inner.atEnd { each(Double(bitPattern: inner.fixed64()!)) }
        default: throw malformed()
        }
    }
}

extension [UInt8] {
    mutating func appendFixed64(_ bits: UInt64) {
        // One copy of the little-endian bytes, not eight appends each checking the capacity.
        Swift.withUnsafeBytes(of: bits.littleEndian) { append(contentsOf: $0) }
    }

    /// proto3: zero (and negative zero) is not written.
    mutating func appendDouble(field: UInt64, _ value: Double) {
        guard value != 0 else { return }
        appendVarint(field << 3 | 1)
        appendFixed64(value.bitPattern)
    }

    /// A packed repeated varint field of `value(item)` for each item. Sized in a first pass rather
    /// than written to a scratch buffer: states are encoded on every Evaluate.
    mutating func appendPackedVarints<Item>(field: UInt64, _ items: [Item], _ value: (Item) -> UInt64) {
        guard !items.isEmpty else { return }
        var size = 0
        for item in items { size += varintSize(value(item)) }
        appendVarint(field << 3 | 2)
        appendVarint(UInt64(size))
        for item in items { appendVarint(value(item)) }
    }

    /// A packed repeated fixed64 field of `bits(item)` for each item.
    mutating func appendPackedFixed64<Item>(field: UInt64, _ items: [Item], _ bits: (Item) -> UInt64) {
        guard !items.isEmpty else { return }
        appendVarint(field << 3 | 2)
        appendVarint(UInt64(items.count * 8))
        for item in items { appendFixed64(bits(item)) }
    }
}
