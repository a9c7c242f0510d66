import BadgeCodec
import BadgeModel
import LMDB

// Reads, usable inside read and write transactions alike.
extension BadgeStore {
    public func badge<M>(_ txn: borrowing Transaction<M>, id: String) throws(BadgeError) -> BadgeDefinition? {
        try value(txn, badges, stringKey: id) { bytes throws(BadgeError) in
            try decode(BadgeDefinition.self, bytes, what: "badge \(id)")
        }
    }

    /// Every badge in the catalogue, in id order.
    public func allBadges<M>(_ txn: borrowing Transaction<M>) throws(BadgeError) -> [BadgeDefinition] {
        var result: [BadgeDefinition] = []
        try lmdb {
            try txn.withCursor(badges) { cursor in
                var entry = try cursor.first()
                while let (key, value) = entry {
                    let what = "badge \(String(decoding: key, as: UTF8.self))"
                    result.append(try decode(BadgeDefinition.self, value, what: what))
                    entry = try cursor.next()
                }
            }
        }
        return result
    }

    /// All of a customer's awards (revoked included), grouped by badge id, oldest first within a badge.
    public func awards<M>(_ txn: borrowing Transaction<M>, customerId: String) throws(BadgeError) -> [Award] {
        try scanAwards(txn, prefix: Keys.customerPrefix(customerId))
    }

    /// A customer's awards of one badge (revoked included), oldest first.
    public func awards<M>(
        _ txn: borrowing Transaction<M>, customerId: String, badgeId: String
    ) throws(BadgeError)
        -> [Award]
    {
        try scanAwards(txn, prefix: Keys.customerBadgePrefix(customerId, badgeId))
    }

    public func award<M>(_ txn: borrowing Transaction<M>, id: UInt64) throws(BadgeError) -> Award? {
        guard let key = try lmdb({ try txn.get(awardIds, key: Keys.uint64(id)) }) else { return nil }
        let award = try value(txn, awards, key: key) { bytes throws(BadgeError) in
            try decode(Award.self, bytes, what: "award \(id)")
        }
        guard let award else {
            throw BadgeError(.dataLoss, "award \(id) is indexed but its record is missing", reason: "index_corrupt")
        }
        return award
    }

    /// The award an Issue with this request id created, if any.
    public func awardId<M>(_ txn: borrowing Transaction<M>, forRequest requestId: String) throws(BadgeError) -> UInt64?
    {
        try value(txn, requests, stringKey: requestId) { Keys.readUInt64($0) }.flatMap { $0 }
    }

    /// Unrevoked awards of a badge across all customers.
    public func unrevokedCount<M>(_ txn: borrowing Transaction<M>, badgeId: String) throws(BadgeError) -> UInt64 {
        // Inside the writer's transaction, a count it changed is not in LMDB yet.
        if M.self == ReadWriteMode.self, let pending = pendingCounters.badgeCounts[badgeId] { return pending }
        return try value(txn, badgeCounts, stringKey: badgeId) { Keys.readUInt64($0) ?? 0 } ?? 0
    }

    /// Up to `limit` awards with ids greater than `afterAwardId`, in id order, stopping after the
    /// award whose stored record brings their total to `maxBytes` or more (always at least one).
    public func awards<M>(
        _ txn: borrowing Transaction<M>, after afterAwardId: UInt64, limit: Int, maxBytes: Int = .max
    ) throws(BadgeError)
        -> [Award]
    {
        var keys: [[UInt8]] = []
        try lmdb {
            try txn.withCursor(awardIds) { cursor in
                let start = Keys.uint64(afterAwardId &+ 1)
                guard afterAwardId < UInt64.max else { return }
                var entry = try start.withUnsafeBytes { try cursor.seek(atLeast: $0) }
                while let (_, value) = entry, keys.count < limit {
                    keys.append(Array(value))
                    entry = try cursor.next()
                }
            }
        }
        var result: [Award] = []
        result.reserveCapacity(keys.count)
        var bytesRead = 0
        for key in keys {
            let award = try value(txn, awards, key: key) { bytes throws(BadgeError) in
                bytesRead += bytes.count
                return try decode(Award.self, bytes, what: "award")
            }
            guard let award else {
                throw BadgeError(.dataLoss, "an indexed award record is missing", reason: "index_corrupt")
            }
            result.append(award)
            if bytesRead >= maxBytes { break }
        }
        return result
    }

    /// Entries in the catalogue and awards ever issued.
    public func counts<M>(_ txn: borrowing Transaction<M>) throws(BadgeError) -> (badges: Int, awards: Int) {
        try lmdb { (try txn.count(badges), try txn.count(awardIds)) }
    }

    /// Tallies a customer's awards of one badge from their stored records, without decoding them.
    ///
    /// - Parameter untilHeld: stop at the first award held now. The tally then answers `holds`,
    ///   and its `changesAtMs` is when that award expires (the badge is held at least until then),
    ///   but not `unrevoked`: a prerequisite check needs no more, and a repeatable badge may have
    ///   thousands of awards to step over.
    public func awardTally<M>(
        _ txn: borrowing Transaction<M>, customerId: String, badgeId: String, nowMs: Int64, untilHeld: Bool = false
    ) throws(BadgeError) -> AwardTally {
        var tally = AwardTally()
        try lmdb {
            try txn.withCursor(awards) { cursor in
                try cursor.forEach(prefix: Keys.customerBadgePrefix(customerId, badgeId)) { key, value in
                    guard key.count >= 8, let (expiresAtMs, revokedAtMs) = StoredAward.liveness(value) else {
                        throw BadgeError(
                            .dataLoss, "a stored award of customer \(customerId), badge \(badgeId) does not decode",
                            reason: "record_corrupt")
                    }
                    let awardId = Keys.readUInt64(UnsafeRawBufferPointer(rebasing: key[(key.count - 8)...])) ?? 0
                    tally.count(awardId: awardId, expiresAtMs: expiresAtMs, revokedAtMs: revokedAtMs, nowMs: nowMs)
                    return !(untilHeld && tally.holds)
                }
            }
        }
        return tally
    }

    /// The part of an award's key that names its badge, as `forEachAwardRecord` passes it.
    public static func awardKeyBadgePart(_ badgeId: String) -> [UInt8] {
        Keys.lengthPrefixed(badgeId)
    }

    /// Calls `body` with each of a customer's stored award records, in key order (badge, then award
    /// id), without decoding them: the badge part of the key (the length-prefixed badge id, which
    /// sorts as the keys do) and the record's `badges.v1.Award` bytes. Both are valid only during
    /// the call.
    public func forEachAwardRecord<M>(
        _ txn: borrowing Transaction<M>, customerId: String,
        _ body: (_ badgeKey: UnsafeRawBufferPointer, _ record: UnsafeRawBufferPointer) throws(BadgeError) -> Void
    ) throws(BadgeError) {
        let prefix = Keys.customerPrefix(customerId)
        try lmdb {
            try txn.withCursor(awards) { cursor in
                try prefix.withUnsafeBytes { prefix in
                    try cursor.forEach(prefix: prefix) { key, value in
                        let badgeLength = key.count > prefix.count ? Int(key[prefix.count]) : -1
                        guard badgeLength >= 0, key.count == prefix.count + 1 + badgeLength + 8 else {
                            throw BadgeError(
                                .dataLoss, "an award key of customer \(customerId) has the wrong shape",
                                reason: "record_corrupt")
                        }
                        try body(UnsafeRawBufferPointer(rebasing: key[prefix.count..<(key.count - 8)]), value)
                        return true
                    }
                }
            }
        }
    }

    func scanAwards<M>(_ txn: borrowing Transaction<M>, prefix: [UInt8]) throws(BadgeError) -> [Award] {
        var result: [Award] = []
        try scanAwards(txn, prefix: prefix) { award, _ in result.append(award) }
        return result
    }

    /// Calls `body` with each award under `prefix`, in key order, and its stored record (valid only
    /// during the call).
    func scanAwards<M>(
        _ txn: borrowing Transaction<M>, prefix: [UInt8], _ body: (Award, UnsafeRawBufferPointer) -> Void
    ) throws(BadgeError) {
        try lmdb {
            try txn.withCursor(awards) { cursor in
                try prefix.withUnsafeBytes { prefix in
                    try cursor.forEach(prefix: prefix) { _, value in
                        body(try decode(Award.self, value, what: "award"), value)
                        return true
                    }
                }
            }
        }
    }

    /// `value(_:_:key:_:)` under a key that is a string's UTF-8 bytes, read in place rather than
    /// copied into an array (an Evaluate looks up its event id and customer this way).
    func value<M, T>(
        _ txn: borrowing Transaction<M>, _ db: Database, stringKey: String,
        _ convert: (UnsafeRawBufferPointer) throws(BadgeError) -> T
    ) throws(BadgeError) -> T? {
        var key = stringKey
        return try lmdb {
            try key.withUTF8 { key in
                guard let bytes = try txn.get(db, key: UnsafeRawBufferPointer(key)) else { return nil }
                return try convert(bytes)
            }
        }
    }

    /// Reads the value under `key` in place (no copy) and converts it; nil when absent.
    func value<M, T>(
        _ txn: borrowing Transaction<M>, _ db: Database, key: [UInt8],
        _ convert: (UnsafeRawBufferPointer) throws(BadgeError) -> T
    ) throws(BadgeError) -> T? {
        try lmdb {
            try key.withUnsafeBytes { key in
                guard let bytes = try txn.get(db, key: key) else { return nil }
                return try convert(bytes)
            }
        }
    }
}

/// Decodes a stored record; a record that does not decode is reported as data loss, naming it.
/// (`what` is only worked out for the error: naming the record built a String per decode.)
func decode<T: WireMessage>(
    _ type: T.Type, _ bytes: UnsafeRawBufferPointer, what: @autoclosure () -> String
) throws(BadgeError) -> T {
    do {
        return try T(decoding: bytes)
    } catch {
        throw BadgeError(.dataLoss, "stored \(what()) does not decode: \(error.message)", reason: "record_corrupt")
    }
}
