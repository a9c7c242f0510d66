import BadgeCodec
import BadgeModel
import LMDB

#if canImport(Glibc)
    import Glibc
#endif

// Schema 5 moved event records from `events` (keyed by event id, indexed by time in `event_times`)
// to `event_log` (keyed by recording time and history sequence) with an `event_ids` index. A folder
// written before is converted when it is opened, before anything else uses it.
//
// The move is made to need little room: records are appended to the log in the order
// `event_times` gives (recording time, as the log's keys), so the new tree's pages are full, and
// the old trees are emptied from their first keys on, so every page they free is freed whole. A
// move that would not fit in the map is refused before anything changes.

extension BadgeStore {
    /// Whether a schema-4-or-earlier layout still holds entries (an upgrade was interrupted).
    func eventsLeftToMove() throws(BadgeError) -> Bool {
        try read { txn throws(BadgeError) in
            try lmdb { try txn.count(events) > 0 || txn.count(eventTimes) > 0 }
        }
    }

    /// Moves every record of `events` to `event_log` and indexes it in `event_ids`; empties
    /// `events` and `event_times`. Safe to run again, and to interrupt.
    ///
    /// The schema version is raised to 5 first, in a transaction of its own: from then on a build
    /// that reads only `events` refuses the folder rather than missing the records already moved.
    /// `chunk` records per transaction: one transaction over millions of events would run past
    /// LMDB's limit on dirty pages (and hold them all in memory). `chunkLimit` stops it after that
    /// many transactions (for tests of an interrupted upgrade).
    func moveEventsToLog(
        chunk: Int = 1_000, chunkLimit: Int = .max, notice: (String) -> Void = { _ in }
    ) throws(BadgeError) {
        let chunk = max(chunk, 1)
        // Old records stay in `events` until the last step: those in the index are moved already.
        let (toMove, oldBytes, movedBytes) = try read { txn throws(BadgeError) in
            try lmdb {
                (
                    max(try txn.count(events) - txn.count(eventIds), 0), try txn.treeBytes(events),
                    try txn.treeBytes(eventLog)
                )
            }
        }
        // An interrupted move built part of the log already.
        try requireRoomToMove(logBytes: max(oldBytes - movedBytes, 0), records: toMove, chunk: chunk)
        do throws(BadgeError) {
            try moveEvents(chunk: chunk, chunkLimit: chunkLimit, toMove: toMove, notice: notice)
        } catch  where error.reason == "storage_full" {
            throw BadgeError(
                .resourceExhausted,
                "the map filled up while moving the evaluated events into the event log of schema 5: nothing "
                    + "is lost, and the folder, now of schema 5 and partly moved, finishes the move when opened "
                    + "with a larger --map-size-mb (at least \(environment.mapSize / (1 << 20) * 2))",
                reason: "storage_full")
        }
    }

    private func moveEvents(
        chunk: Int, chunkLimit: Int, toMove: Int, notice: (String) -> Void
    ) throws(BadgeError) {
        var transactionsLeft = chunkLimit
        // Runs one step as a transaction of its own; false once the limit is reached.
        func step(_ body: (borrowing WriteTransaction) throws(BadgeError) -> Bool) throws(BadgeError) -> Bool? {
            if transactionsLeft == 0 { return nil }
            transactionsLeft -= 1
            return try write(body)
        }
        guard
            try step({ txn throws(BadgeError) in
                try lmdb { try txn.put(meta, key: Keys.schemaVersion, value: Keys.uint32(Self.schemaVersion)) }
                return true
            }) != nil
        else { return }
        let started = ContinuousClock.now
        if toMove > 0 {
            notice("moving \(toMove) evaluated events into the event log of schema 5 (about 10 s per million)")
        }
        // 1. Every record the time index names, in its order, which is the log's.
        while let more = try step({ txn throws(BadgeError) in try moveByTime(txn, chunk: chunk) }), more {}
        // 2. Records only the history names (schema 1 had no time index); and the highest sequence
        //    in use, which the counter must stay above.
        var after: [UInt8]?
        var highest: UInt64 = 0
        while let more = try step({ txn throws(BadgeError) in
            try moveByHistory(txn, chunk: chunk, after: &after, highest: &highest)
        }), more {}
        guard
            try step({ txn throws(BadgeError) in
                try raiseHistorySequence(txn, above: highest)
                return true
            }) != nil
        else { return }
        // 3. What is left in `events`: moved records' old copies, deleted; and records no history
        //    entry names (no build writes one), given a sequence rather than left unread.
        while let more = try step({ txn throws(BadgeError) in try emptyEvents(txn, chunk: chunk) }), more {}
        if toMove > 0, transactionsLeft > 0 {
            let (seconds, attoseconds) = (ContinuousClock.now - started).components
            let tenths = (Double(seconds) * 10 + Double(attoseconds) / 1e17).rounded()
            notice("moved \(toMove) evaluated events into the event log in \(tenths / 10) s")
        }
    }

    /// Refuses a move the map has no room for, before anything changes. Counted as new pages at the
    /// end of the file (free pages inside it may make room too; not counted, so the estimate errs
    /// safe): the log, at most what the old records' tree takes; the id index, ~100 bytes a record;
    /// and the index's copies on write: each transaction rewrites up to `chunk` of its pages (all of
    /// them, when it is smaller), and the pages it frees are reusable only two commits later.
    private func requireRoomToMove(logBytes: Int, records: Int, chunk: Int) throws(BadgeError) {
        guard logBytes > 0 || records > 0 else { return }
        var free = environment.mapSize - environment.usedBytes()
        let indexBytes = records * 100
        let needed = logBytes + indexBytes + 3 * min(chunk * 4_096, indexBytes)
        // A map that may grow makes the room itself (waiting out a base being copied, up to 60 s).
        var waits = 0
        growing: while needed > free {
            switch try lmdb({ () throws(LMDBError) in try environment.growMapIfNeeded(whenFull: true) }) {
            case .grown: free = environment.mapSize - environment.usedBytes()
            case .busy where waits < 6_000:
                waits += 1
                usleep(10_000)
            default: break growing
            }
        }
        guard needed > free else { return }
        let mib = 1 << 20
        func roundedUp(_ bytes: Int) -> Int { (bytes + mib - 1) / mib }
        throw BadgeError(
            .resourceExhausted,
            "moving the evaluated events into the event log of schema 5 needs about \(roundedUp(needed)) MiB free "
                + "at the end of the map and \(free / mib) MiB are: restart with --map-size-mb of at least "
                + "\(roundedUp(environment.mapSize + needed - free)) (the folder is unchanged)",
            reason: "storage_full")
    }

    /// Moves the records of the first `chunk` entries of `event_times`; true if there may be more.
    private func moveByTime(_ txn: borrowing WriteTransaction, chunk: Int) throws(BadgeError) -> Bool {
        let times = try entries(txn, eventTimes, limit: chunk)
        // Key: u64 recorded-at ms ‖ event id; value: the history key, ending in the sequence.
        var moves = times.compactMap { key, value -> (logKey: [UInt8], eventId: [UInt8])? in
            guard key.count > 8, value.count > 8 else { return nil }
            return (Array(key.prefix(8) + value.suffix(8)), Array(key.dropFirst(8)))
        }
        // Within one millisecond the time index is in event-id order, the log in sequence order.
        moves.sort { $0.logKey.lexicographicallyPrecedes($1.logKey) }
        for (logKey, eventId) in moves {
            try moveRecord(txn, eventId: eventId, to: logKey)
        }
        try lmdb { for (key, _) in times { try txn.delete(eventTimes, key: key) } }
        return times.count == chunk
    }

    /// Moves the records of up to `chunk` history entries after `after` that are not moved yet.
    private func moveByHistory(
        _ txn: borrowing WriteTransaction, chunk: Int, after: inout [UInt8]?, highest: inout UInt64
    ) throws(BadgeError) -> Bool {
        let listed = try entries(txn, history, after: after, limit: chunk)
        for (historyKey, eventId) in listed where historyKey.count > 8 {
            guard
                let sequence = historyKey.withUnsafeBytes({
                    Keys.readUInt64(UnsafeRawBufferPointer(rebasing: $0.suffix(8)))
                })
            else { continue }
            highest = max(highest, sequence)
            guard try lmdb({ try txn.get(eventIds, key: eventId) }) == nil,
                let bytes = try lmdb({ try txn.get(events, key: eventId) })
            else { continue }
            let record = try decodeRecord(bytes, eventId)
            // Only the customer's own entry names the record (a damaged folder might say otherwise).
            guard historyKey == Keys.history(customerId: record.customerId, sequence: sequence) else { continue }
            try moveRecord(
                txn, eventId: eventId, to: Keys.eventLog(recordedAtMs: record.recordedAtMs, sequence: sequence))
        }
        after = listed.last?.key
        return listed.count == chunk
    }

    /// Deletes up to `chunk` entries of `events` from the first on, moving those not moved yet
    /// under a new sequence and history entry; true if there may be more.
    private func emptyEvents(_ txn: borrowing WriteTransaction, chunk: Int) throws(BadgeError) -> Bool {
        let left = try entries(txn, events, limit: chunk)
        for (eventId, bytes) in left {
            if try lmdb({ try txn.get(eventIds, key: eventId) }) == nil {
                let record = try decodeRecord(bytes, eventId)
                try addEvent(
                    txn, eventId: eventId, customerId: record.customerId, recordedAtMs: record.recordedAtMs,
                    record: bytes)
            }
            _ = try lmdb { try txn.delete(events, key: eventId) }
        }
        return left.count == chunk
    }

    /// Up to `limit` entries of `db` in key order, from its first key or after `after`, copied.
    private func entries(
        _ txn: borrowing WriteTransaction, _ db: Database, after: [UInt8]? = nil, limit: Int
    ) throws(BadgeError) -> [(key: [UInt8], value: [UInt8])] {
        var found: [(key: [UInt8], value: [UInt8])] = []
        try lmdb {
            try txn.withCursor(db) { cursor in
                var entry =
                    try after.map { key in try key.withUnsafeBytes { try cursor.seek(atLeast: $0) } } ?? cursor.first()
                if let (key, _) = entry, let after, key.elementsEqual(after) { entry = try cursor.next() }
                while let (key, value) = entry, found.count < limit {
                    found.append((Array(key), Array(value)))
                    entry = try cursor.next()
                }
            }
        }
        return found
    }

    /// Copies the record of `eventId` from `events` to the log under `logKey`, unless it is there.
    private func moveRecord(_ txn: borrowing WriteTransaction, eventId: [UInt8], to logKey: [UInt8]) throws(BadgeError)
    {
        guard let bytes = try lmdb({ try txn.get(events, key: eventId) }) else { return }
        if let indexed = try lmdb({ try txn.get(eventIds, key: eventId) }) {
            // Moved by an interrupted run: the same key, or the folder is not what it seems.
            guard indexed == logKey else {
                throw BadgeError(
                    .dataLoss, "event \(String(decoding: eventId, as: UTF8.self)) is listed twice with different times",
                    reason: "index_corrupt")
            }
            return
        }
        try addToLog(txn, logKey: logKey, eventId: eventId, record: bytes)
    }

    /// Keeps the history counter above every sequence in use (it always was; a damaged folder's
    /// counter would otherwise hand out a sequence twice).
    private func raiseHistorySequence(_ txn: borrowing WriteTransaction, above highest: UInt64) throws(BadgeError) {
        let stored = try value(txn, meta, key: Keys.nextHistorySequence) { Keys.readUInt64($0) ?? 1 } ?? 1
        if stored <= highest {
            try lmdb { try txn.put(meta, key: Keys.nextHistorySequence, value: Keys.uint64(highest + 1)) }
        }
    }

    private func decodeRecord(_ bytes: [UInt8], _ eventId: [UInt8]) throws(BadgeError) -> EventRecord {
        try lmdb {
            try bytes.withUnsafeBytes { bytes in
                try decode(EventRecord.self, bytes, what: "event \(String(decoding: eventId, as: UTF8.self))")
            }
        }
    }
}
