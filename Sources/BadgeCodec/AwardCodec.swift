import BadgeModel

// `badges.v1.Award` is encoded by hand: the writer encodes one for every award it stores (Issue
// and Evaluate alike), and protobuf-c's struct-and-arena route was ~7% of its time per award.
// Same wire format (proto3; map entries in key order, as our protobuf-c route writes them);
// `AwardCodecTests` checks the bytes against protobuf-c. Decoding stays on protobuf-c. (protobuf-c
// would cut a string at a NUL byte and this encoder would not; ids and texts with NUL are refused
// by validation before they reach a record.)
extension Award {
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        var fieldsSize = 0
        for (key, value) in evidenceFields { fieldsSize += 8 + key.utf8.count + value.utf8.count }
        out.reserveCapacity(
            48 + customerId.utf8.count + badgeId.utf8.count + evidence.utf8.count + requestId.utf8.count
                + revokeReason.utf8.count + revokedBy.utf8.count + fieldsSize)
        out.appendVarint(field: 1, awardId)
        out.appendString(field: 2, customerId)
        out.appendString(field: 3, badgeId)
        out.appendVarint(field: 4, UInt64(bitPattern: earnedAtMs))
        out.appendVarint(field: 5, UInt64(bitPattern: expiresAtMs))
        out.appendVarint(field: 6, source.wireNumber)
        out.appendString(field: 7, evidence)
        func appendField(_ key: String, _ value: String) {
            let entrySize = stringFieldSize(key) + stringFieldSize(value)
            out.appendVarint(8 << 3 | 2)
            out.appendVarint(UInt64(entrySize))
            out.appendString(field: 1, key)
            out.appendString(field: 2, value)
        }
        // In key order, so that equal awards encode to equal bytes. Awards earned by rules carry
        // two fields (event id and type): ordered here without sorting them into a new array.
        if evidenceFields.count == 2 {
            let first = evidenceFields.first!
            let second = evidenceFields[evidenceFields.index(after: evidenceFields.startIndex)]
            let (low, high) = first.key < second.key ? (first, second) : (second, first)
            appendField(low.key, low.value)
            appendField(high.key, high.value)
        } else {
            for (key, value) in evidenceFields.sorted(by: { $0.key < $1.key }) { appendField(key, value) }
        }
        out.appendString(field: 9, requestId)
        out.appendVarint(field: 10, UInt64(bitPattern: revokedAtMs))
        out.appendString(field: 11, revokeReason)
        out.appendString(field: 12, revokedBy)
        return out
    }
}

extension AwardSource {
    /// The `badges.v1.AwardSource` number.
    var wireNumber: UInt64 {
        switch self {
        case .api: 0
        case .direct: 1
        case .rule: 2
        case .import: 3
        case .retro: 4
        }
    }
}
