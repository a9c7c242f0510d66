import BadgeCodec
import BadgeModel
import LMDB

// Schema 5 moved event records from `events` (keyed by event id, indexed by time in `event_times`)
// to `event_log` (keyed by history sequence) with an `event_ids` index. A folder written before is
// converted when it is opened, before anything else uses it.

extension BadgeStore {
    /// Whether a schema-4-or-earlier layout still holds entries (an upgrade was interrupted).
    func eventsLeftToMove() throws(BadgeError) -> Bool {
        try read { txn throws(BadgeError) in
            try lmdb { try txn.count(events) > 0 || txn.count(eventTimes) > 0 }
        }
    }

    /// Moves every record of `events` to `event_log` under the sequence of its history entry, indexes
    /// it in `event_ids`, and empties `event_times`; safe to run again, and to interrupt.
    ///
    /// The schema version is raised to 5 first, in a transaction of its own: from then on a build
    /// that reads only `events` refuses the folder rather than missing the records already moved.
    /// `chunk` records per transaction: one transaction over millions of events would run past
    /// LMDB's limit on dirty pages (and hold them all in memory). `chunkLimit` stops it early (for
    /// tests of an interrupted upgrade).
    func moveEventsToLog(
        chunk: Int = 5_000, chunkLimit: Int = .max, notice: (String) -> Void = { _ in }
    ) throws(BadgeError) {
        let chunk = max(chunk, 1)
        var chunksLeft = chunkLimit
        let toMove = try read { txn throws(BadgeError) in try lmdb { try txn.count(events) } }
        let started = ContinuousClock.now
        if toMove > 0 {
            notice("moving \(toMove) evaluated events into the event log of schema 5 (about 10 s per million)")
        }
        try write { txn throws(BadgeError) in
            try lmdb { try txn.put(meta, key: Keys.schemaVersion, value: Keys.uint32(Self.schemaVersion)) }
        }
        // The history names each event with its sequence: customer, then sequence, then the event id.
        var after: [UInt8]?
        repeat {
            if chunksLeft == 0 { return }
            chunksLeft -= 1
            after = try write { txn throws(BadgeError) -> [UInt8]? in
                var entries: [(historyKey: [UInt8], eventId: [UInt8])] = []
                try lmdb {
                    try txn.withCursor(history) { cursor in
                        var entry =
                            try after.map { key in try key.withUnsafeBytes { try cursor.seek(atLeast: $0) } }
                            ?? cursor.first()
                        if let (key, _) = entry, let after, key.elementsEqual(after) { entry = try cursor.next() }
                        while let (key, value) = entry, entries.count < chunk {
                            entries.append((Array(key), Array(value)))
                            entry = try cursor.next()
                        }
                    }
                    for (historyKey, eventId) in entries where historyKey.count > 8 {
                        // Absent: moved by an interrupted run, or an id recorded again after pruning.
                        guard let record = try txn.get(events, key: eventId) else { continue }
                        let sequenceKey = Array(historyKey.suffix(8))
                        try txn.put(eventLog, key: sequenceKey, value: record)
                        try txn.put(eventIds, key: eventId, value: sequenceKey)
                        try txn.delete(events, key: eventId)
                    }
                }
                return entries.count == chunk ? entries.last?.historyKey : nil
            }
        } while after != nil
        // No build writes a record without its history entry; any such record still gets a new
        // sequence and entry rather than being left where nothing reads it.
        while chunksLeft > 0, try moveUnlistedEvents(chunk: chunk) { chunksLeft -= 1 }
        while chunksLeft > 0, try clearEventTimes(chunk: chunk) { chunksLeft -= 1 }
        if toMove > 0, chunksLeft > 0 {
            let (seconds, attoseconds) = (ContinuousClock.now - started).components
            let tenths = (Double(seconds) * 10 + Double(attoseconds) / 1e17).rounded()
            notice("moved \(toMove) evaluated events into the event log in \(tenths / 10) s")
        }
    }

    /// Moves up to `chunk` records left in `events`; true when it moved any.
    private func moveUnlistedEvents(chunk: Int) throws(BadgeError) -> Bool {
        try write { txn throws(BadgeError) -> Bool in
            var entries: [(eventId: [UInt8], record: [UInt8])] = []
            try lmdb {
                try txn.withCursor(events) { cursor in
                    var entry = try cursor.first()
                    while let (key, value) = entry, entries.count < chunk {
                        entries.append((Array(key), Array(value)))
                        entry = try cursor.next()
                    }
                }
            }
            for (eventId, bytes) in entries {
                let record = try lmdb {
                    try bytes.withUnsafeBytes { bytes in
                        try decode(EventRecord.self, bytes, what: "event \(String(decoding: eventId, as: UTF8.self))")
                    }
                }
                let sequence = try takeNextHistorySequence(txn)
                try lmdb {
                    try txn.put(eventLog, key: Keys.uint64(sequence), value: bytes)
                    try txn.put(eventIds, key: eventId, value: Keys.uint64(sequence))
                    try txn.put(
                        history, key: Keys.history(customerId: record.customerId, sequence: sequence), value: eventId)
                    try txn.delete(events, key: eventId)
                }
            }
            return !entries.isEmpty
        }
    }

    /// Deletes up to `chunk` entries of `event_times`; true when it deleted any.
    private func clearEventTimes(chunk: Int) throws(BadgeError) -> Bool {
        try write { txn throws(BadgeError) -> Bool in
            try lmdb {
                var keys: [[UInt8]] = []
                try txn.withCursor(eventTimes) { cursor in
                    var entry = try cursor.first()
                    while let (key, _) = entry, keys.count < chunk {
                        keys.append(Array(key))
                        entry = try cursor.next()
                    }
                }
                for key in keys { try txn.delete(eventTimes, key: key) }
                return !keys.isEmpty
            }
        }
    }
}
