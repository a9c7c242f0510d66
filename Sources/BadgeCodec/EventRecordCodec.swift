import BadgeModel

// `badges.v1.EventRecord` is encoded by hand: the writer stores one per Evaluate, and protobuf-c's
// struct-and-arena route made about a dozen allocations for it, copying the stored reply twice.
// Same wire format (proto3, the award ids packed); `EventRecordCodecTests` checks the bytes against
// protobuf-c. Decoding (replays only) stays on protobuf-c.
extension EventRecord {
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(
            customerId.utf8.count + type.utf8.count + response.count + progressPacked.count + awardedIds.count * 10
                + 44)
        out.appendString(field: 1, customerId)
        out.appendString(field: 2, type)
        out.appendVarint(field: 3, UInt64(bitPattern: occurredAtMs))
        out.appendVarint(field: 4, UInt64(bitPattern: recordedAtMs))
        out.appendPackedVarints(field: 5, awardedIds) { $0 }
        if !response.isEmpty { out.appendMessage(field: 6, response) }
        out.appendVarint(field: 7, awardsById ? 1 : 0)
        if !progressPacked.isEmpty { out.appendMessage(field: 8, progressPacked) }
        return out
    }
}
