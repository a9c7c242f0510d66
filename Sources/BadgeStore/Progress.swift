import BadgeCodec
import BadgeModel
import LMDB

// The achievement engine's records: criteria states, evaluated events, customer history, zones.
extension BadgeStore {
    /// One customer's states for one badge, by criterion key.
    public func criterionStates<M>(
        _ txn: borrowing Transaction<M>, customerId: String, badgeId: String
    )
        throws(BadgeError) -> [String: CriterionState]
    {
        try criterionStates(txn, customerId: customerId, badgeIds: [badgeId])[0]
    }

    /// One customer's states for each of `badgeIds` (in that order), read in one pass in key order.
    public func criterionStates<M>(
        _ txn: borrowing Transaction<M>, customerId: String, badgeIds: [String]
    )
        throws(BadgeError) -> [[String: CriterionState]]
    {
        try criterionStates(txn, customerId: customerId, ProgressReads(badgeIds: badgeIds))
    }

    /// One customer's states for each of `reads`' badges (in the order they were given), by
    /// criterion key.
    public func criterionStates<M>(
        _ txn: borrowing Transaction<M>, customerId: String, _ reads: ProgressReads
    )
        throws(BadgeError) -> [[String: CriterionState]]
    {
        var result = [[String: CriterionState]](repeating: [:], count: reads.count)
        try scanStates(txn, customerId: customerId, reads) { wanted, _, criterionBytes, value throws(BadgeError) in
            let criterion = String(decoding: criterionBytes, as: UTF8.self)
            let state = try decode(CriterionState.self, value, what: "progress of \(wanted.badgeId)")
            for position in wanted.positions { result[position][criterion] = state }
        }
        return result
    }

    /// One customer's states of `reads`' criterion keys, flat: badge after badge in the order
    /// given, each badge's keys in the order given, nil where none is stored. Evaluate's read: no
    /// dictionary per badge, and no key hashed.
    public func criterionStateList<M>(
        _ txn: borrowing Transaction<M>, customerId: String, _ reads: ProgressReads
    )
        throws(BadgeError) -> [CriterionState?]
    {
        guard let offsets = reads.offsets else {
            preconditionFailure("criterionStateList reads the criterion keys given, so needs them")
        }
        var result = [CriterionState?](repeating: nil, count: reads.keyCount)
        try scanStates(txn, customerId: customerId, reads) {
            wanted, keyIndex, _, value throws(BadgeError) in
            guard let keyIndex else { return }
            let state = try decode(CriterionState.self, value, what: "progress of \(wanted.badgeId)")
            for position in wanted.positions { result[offsets[position] + keyIndex] = state }
        }
        return result
    }

    /// Calls `found` with each state of `reads`' badges, in one pass in key order: an Evaluate
    /// reads about ten badges' states, which are neighbours under the customer's prefix, and a
    /// seek from the root for each was a tenth of planning an event. States of badges not asked
    /// for are stepped over, or sought past when there are many. `found` gets the badge read, the
    /// index of the criterion key among those it asked for (nil when it asked for all), the key's
    /// bytes and the stored value.
    private func scanStates<M>(
        _ txn: borrowing Transaction<M>, customerId: String, _ reads: ProgressReads,
        _ found: (ProgressReads.Badge, Int?, UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws(BadgeError) -> Void
    ) throws(BadgeError) {
        guard !reads.badges.isEmpty else { return }
        // The key prefix of the badge being read: the customer's part, then the badge's (rewritten
        // in place as the pass moves on, so no key is built per badge).
        var prefix: [UInt8] = []
        prefix.reserveCapacity(customerId.utf8.count + 1 + reads.longestPart)
        Keys.appendLengthPrefixed(customerId, to: &prefix)
        let customerLength = prefix.count
        func aim(at next: Int) {
            prefix.removeSubrange(customerLength...)
            prefix.append(contentsOf: reads.badges[next].part)
        }
        // Entries of badges not asked for stepped over before seeking instead.
        let stepLimit = 8
        try lmdb {
            try txn.withCursor(progress) { cursor in
                var next = 0
                var stepped = 0
                aim(at: 0)
                var entry = try prefix.withUnsafeBytes { try cursor.seek(atLeast: $0) }
                while let (key, value) = entry, next < reads.badges.count {
                    if key.starts(with: prefix) {
                        let criterionBytes = UnsafeRawBufferPointer(rebasing: key[prefix.count...])
                        let wanted = reads.badges[next]
                        if let keys = wanted.keys {
                            if let keyIndex = keys.firstIndex(where: { $0.elementsEqual(criterionBytes) }) {
                                try found(wanted, keyIndex, criterionBytes, value)
                            }
                        } else {
                            try found(wanted, nil, criterionBytes, value)
                        }
                        entry = try cursor.next()
                    } else if key.lexicographicallyPrecedes(prefix) {
                        stepped += 1
                        if stepped < stepLimit {
                            entry = try cursor.next()
                        } else {
                            stepped = 0
                            entry = try prefix.withUnsafeBytes { try cursor.seek(atLeast: $0) }
                        }
                    } else {
                        // Past this badge's states: on to the next badge asked for.
                        next += 1
                        if next < reads.badges.count { aim(at: next) }
                    }
                }
            }
        }
    }

    /// Every state of one customer, by badge id then criterion key (one range scan).
    ///
    /// - Parameter currentKeys: when given, only the states of these criterion keys of each badge
    ///   (byte for byte; see `ProgressReads`).
    public func allCriterionStates<M>(
        _ txn: borrowing Transaction<M>, customerId: String, currentKeys: [String: [String]]? = nil
    ) throws(BadgeError)
        -> [String: [String: CriterionState]]
    {
        let prefix = Keys.customerPrefix(customerId)
        var result: [String: [String: CriterionState]] = [:]
        try lmdb {
            try txn.withCursor(progress) { cursor in
                try cursor.forEach(prefix: prefix) { key, value in
                    guard let (badge, criterion) = Keys.splitProgress(key, customerPrefixLength: prefix.count) else {
                        return true
                    }
                    if let currentKeys, !(currentKeys[badge] ?? []).contains(where: { $0.isSameId(criterion) }) {
                        return true
                    }
                    result[badge, default: [:]][criterion] = try decode(
                        CriterionState.self, value, what: "progress of \(badge)")
                    return true
                }
            }
        }
        return result
    }

    public func putCriterionState(
        _ txn: borrowing WriteTransaction, customerId: String, badgeId: String, key: String, _ state: CriterionState
    ) throws(BadgeError) {
        var states = EncodedCriterionStates()
        states.append(customer: KeyPart(customerId), badge: KeyPart(badgeId), criterionKey: key, state)
        try putCriterionStates(txn, customerId: customerId, states)
    }

    /// Stores states encoded beforehand (Evaluate encodes them while planning, off the writer).
    public func putCriterionStates(
        _ txn: borrowing WriteTransaction, customerId: String, _ states: EncodedCriterionStates
    ) throws(BadgeError) {
        guard !states.isEmpty else { return }
        // One cursor: a customer's states are neighbours in the key order.
        try lmdb { try txn.put(progress, packed: states.bytes, states.ranges) }
        changedTrophyCase(of: customerId)
    }

    public func eventRecord<M>(_ txn: borrowing Transaction<M>, eventId: String) throws(BadgeError) -> EventRecord? {
        guard let logKey = try value(txn, eventIds, stringKey: eventId, { Array($0) }) else { return nil }
        let record = try value(txn, eventLog, key: logKey) { bytes throws(BadgeError) in
            try decode(EventRecord.self, bytes, what: "event \(eventId)")
        }
        guard let record else {
            throw BadgeError(
                .dataLoss, "event \(eventId) is indexed but its record is missing", reason: "index_corrupt")
        }
        return record
    }

    /// Records an evaluated event and appends it to the customer's history.
    public func putEventRecord(
        _ txn: borrowing WriteTransaction, eventId: String, _ record: EventRecord
    )
        throws(BadgeError)
    {
        try addEvent(
            txn, eventId: Keys.string(eventId), customerId: record.customerId, recordedAtMs: record.recordedAtMs,
            record: record.encoded())
    }

    /// Stores an encoded record under the next history sequence: in the log, in the id index and in
    /// the customer's history. A sequence is never taken twice, so a key already there means a
    /// damaged counter: refused rather than written over.
    func addEvent(
        _ txn: borrowing WriteTransaction, eventId: [UInt8], customerId: String, recordedAtMs: Int64, record: [UInt8]
    ) throws(BadgeError) {
        let sequence = try takeNextHistorySequence(txn)
        try addToLog(
            txn, logKey: Keys.eventLog(recordedAtMs: recordedAtMs, sequence: sequence), eventId: eventId, record: record
        )
        let historyKey = Keys.history(customerId: customerId, sequence: sequence)
        let added = try lmdb {
            try historyKey.withUnsafeBytes { key in
                try eventId.withUnsafeBytes { try txn.put(history, key: key, value: $0, noOverwrite: true) }
            }
        }
        guard added else {
            throw BadgeError(
                .dataLoss, "the customer's history already holds an event at the next sequence", reason: "index_corrupt"
            )
        }
    }

    /// Stores a record under `logKey` and indexes it by its event id; a key already in the log is
    /// refused rather than written over.
    func addToLog(
        _ txn: borrowing WriteTransaction, logKey: [UInt8], eventId: [UInt8], record: [UInt8]
    ) throws(BadgeError) {
        let added = try lmdb {
            try logKey.withUnsafeBytes { key in
                try record.withUnsafeBytes { try txn.append(eventLog, key: key, value: $0) }
            }
        }
        guard added else {
            throw BadgeError(
                .dataLoss, "the event log already holds a record at the next history sequence",
                reason: "index_corrupt")
        }
        try lmdb { try txn.put(eventIds, key: eventId, value: logKey) }
    }

    /// Deletes up to `limit` of the oldest evaluated events recorded before `cutoffMs`: their
    /// records (so a retry of one counts as a new event), index entries and history entries.
    /// Criteria progress and awards are kept.
    ///
    /// A record that does not decode (a damaged disk) is past the retention all the same: it is
    /// deleted too, and counted in `unreadable`, rather than stopping this and every later pruning
    /// (events after it would be kept forever) or being read again by each. It names no customer,
    /// so its history entry and id index entry cannot be found and stay; a retry of that id is
    /// refused as `index_corrupt` (as `record_corrupt` before). Both kinds count toward `limit`.
    public func pruneEvents(
        _ txn: borrowing WriteTransaction, recordedBefore cutoffMs: Int64, limit: Int
    ) throws(BadgeError) -> PrunedEvents {
        var doomed: [(logKey: [UInt8], customerId: String)] = []
        var damaged: [[UInt8]] = []
        var pruned = PrunedEvents()
        try lmdb {
            try txn.withCursor(eventLog) { cursor in
                var entry = try cursor.first()
                while let (key, value) = entry, doomed.count + damaged.count < limit, key.count == 16,
                    let recordedAt = Keys.readUInt64(UnsafeRawBufferPointer(rebasing: key[0..<8])),
                    recordedAt < UInt64(max(cutoffMs, 0))
                {
                    do throws(BadgeError) {
                        let record = try decode(EventRecord.self, value, what: "event recorded at \(recordedAt)")
                        doomed.append((Array(key), record.customerId))
                    } catch {
                        damaged.append(Array(key))
                        if pruned.unreadableExamples.count < PrunedEvents.examplesKept {
                            let sequence = Keys.readUInt64(UnsafeRawBufferPointer(rebasing: key[8...])) ?? 0
                            pruned.unreadableExamples.append("sequence \(sequence): \(error.message)")
                        }
                    }
                    entry = try cursor.next()
                }
            }
            for (logKey, customerId) in doomed {
                let sequence = logKey.withUnsafeBytes { Keys.readUInt64(UnsafeRawBufferPointer(rebasing: $0[8...])) }
                let historyKey = Keys.history(customerId: customerId, sequence: sequence ?? 0)
                // The index entry goes only if it is this record's: the id may have been recorded
                // again since (a retry after an earlier pruning counts as a new event).
                if let eventId = try txn.get(history, key: historyKey), try txn.get(eventIds, key: eventId) == logKey {
                    try txn.delete(eventIds, key: eventId)
                }
                try txn.delete(history, key: historyKey)
                try txn.delete(eventLog, key: logKey)
            }
            for logKey in damaged { try txn.delete(eventLog, key: logKey) }
        }
        pruned.deleted = doomed.count
        pruned.unreadable = damaged.count
        return pruned
    }

    /// The customer's event ids, oldest first (at most `limit`).
    public func history<M>(
        _ txn: borrowing Transaction<M>, customerId: String, limit: Int
    ) throws(BadgeError) -> [String] {
        var result: [String] = []
        try lmdb {
            try txn.withCursor(history) { cursor in
                try cursor.forEach(prefix: Keys.customerPrefix(customerId)) { _, value in
                    result.append(String(decoding: value, as: UTF8.self))
                    return result.count < limit
                }
            }
        }
        return result
    }

    /// The zone the customer's last event carried ("" if none yet).
    public func customerTimeZone<M>(_ txn: borrowing Transaction<M>, customerId: String) throws(BadgeError) -> String {
        try value(txn, customers, stringKey: customerId) { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    public func setCustomerTimeZone(
        _ txn: borrowing WriteTransaction, customerId: String, _ zone: String
    )
        throws(BadgeError)
    {
        try lmdb { try txn.put(customers, key: Keys.string(customerId), value: Array(zone.utf8)) }
        changedTrophyCase(of: customerId)
    }
}

/// What one `pruneEvents` call did.
public struct PrunedEvents: Sendable, Equatable {
    /// Events deleted.
    public var deleted = 0
    /// Records past the cutoff deleted although they do not decode (their history and index
    /// entries could not be found).
    public var unreadable = 0
    /// Where the first of them were and why they did not decode (at most `examplesKept`).
    public var unreadableExamples: [String] = []
    static let examplesKept = 10

    public init() {}

    /// Records this call removed from the log, readable or not (compared with the limit given).
    public var removed: Int { deleted + unreadable }
}

/// Criterion states keyed and encoded as the store keeps them, packed in one buffer: an Evaluate
/// encodes about ten while it plans, and two arrays for each was a tenth of its allocations.
public struct EncodedCriterionStates: Sendable {
    var bytes: [UInt8] = []
    var ranges: [(key: Range<Int>, value: Range<Int>)] = []

    public init() {}

    public var isEmpty: Bool { ranges.isEmpty }
    public var count: Int { ranges.count }

    /// Room for about `count` states of the usual size (with their keys).
    public mutating func reserveCapacity(_ count: Int) {
        bytes.reserveCapacity(count * 192)
        ranges.reserveCapacity(count)
    }

    /// Adds `state` under the key made of the ids' key parts (worked out once per event and per
    /// catalogue) and the criterion key.
    public mutating func append(customer: KeyPart, badge: KeyPart, criterionKey: String, _ state: CriterionState) {
        // Reserved at the first state, so a plan that changes nothing allocates nothing here; for
        // a dozen states, as an event touches about ten (eight of ~130 bytes did not hold them).
        if ranges.isEmpty { reserveCapacity(12) }
        let keyStart = bytes.count
        bytes.append(contentsOf: customer.bytes)
        bytes.append(contentsOf: badge.bytes)
        bytes.append(contentsOf: criterionKey.utf8)
        let valueStart = bytes.count
        state.append(to: &bytes)
        ranges.append((keyStart..<valueStart, valueStart..<bytes.count))
    }
}

/// An id as it appears inside the store's composite keys (its length, then its bytes).
public struct KeyPart: Sendable {
    let bytes: [UInt8]

    public init(_ id: String) {
        bytes = Keys.lengthPrefixed(id)
    }
}

/// Which badges' states `criterionStates(_:customerId:_:)` and `criterionStateList` read, with
/// their part of the keys worked out and put in key order once (Evaluate keeps one per event type
/// with its catalogue).
///
/// Given the badges' criterion keys, it reads only the states stored under exactly those keys'
/// bytes. A result keyed by `String` compares keys by Unicode canonical equivalence: a state left
/// under a key the badge no longer has ("caf\u{E9}") would otherwise take the place of the state of
/// its current key spelled in other bytes ("cafe\u{301}"), and every event would count from the old one.
public struct ProgressReads: Sendable {
    /// A distinct badge: its id as it appears in a `progress` key, with where its states go in the
    /// result, and the criterion keys read (nil: all; a badge given twice reads the first's).
    typealias Badge = (part: [UInt8], badgeId: String, positions: [Int], keys: [[UInt8]]?)
    /// Each distinct badge, in key order.
    let badges: [Badge]
    /// How many badge ids were given.
    let count: Int
    let longestPart: Int
    /// Where each badge given starts in `criterionStateList`'s result (nil when some badge reads
    /// all its states), and how many states that result holds.
    let offsets: [Int]?
    let keyCount: Int

    /// Every state of each badge.
    public init(badgeIds: [String]) {
        self.init(badgeIds.map { (badgeId: $0, criterionKeys: nil) })
    }

    /// The states of each badge's `criterionKeys` (nil: all of its states).
    public init(_ reads: [(badgeId: String, criterionKeys: [String]?)]) {
        var badges: [Badge] = []
        for (position, read) in reads.enumerated() {
            if let known = badges.firstIndex(where: { $0.badgeId == read.badgeId }) {
                badges[known].positions.append(position)
            } else {
                badges.append(
                    (
                        Keys.lengthPrefixed(read.badgeId), read.badgeId, [position],
                        read.criterionKeys?.map { Array($0.utf8) }
                    ))
            }
        }
        // The customer's part of the keys is the same for all, so the badges' parts give the order.
        badges.sort { $0.part.lexicographicallyPrecedes($1.part) }
        self.badges = badges
        count = reads.count
        longestPart = badges.map(\.part.count).max() ?? 0
        // A badge given twice reads its first keys for both (so both get as many places).
        var offsets: [Int] = []
        var keyCount = 0
        for read in reads {
            guard let first = reads.first(where: { $0.badgeId == read.badgeId })?.criterionKeys else { break }
            offsets.append(keyCount)
            keyCount += first.count
        }
        self.offsets = offsets.count == reads.count ? offsets : nil
        self.keyCount = keyCount
    }
}
