import BadgeCodec
import BadgeModel
import LMDB

/// The badge schema over one LMDB environment: named databases, records encoded as the contract's
/// protobuf messages, and the operations the service composes inside its transactions.
///
/// Reads may run on any thread; writes must all come from one thread (the service's writer).
public final class BadgeStore: Sendable {
    /// The schema this code writes. A data folder from a newer schema is refused rather than misread.
    ///
    /// 2: evaluated events are also indexed by the time they were recorded (`event_times`), so old
    /// ones can be pruned. (Replaced by the event log of schema 5.)
    /// 3: an event record may keep its awards by id only (`EventRecord.awards_by_id`), and a
    /// criterion state may say its badge is held (`CriterionState.held_until_ms`), which every
    /// revocation must clear. Nothing is converted; the version is raised so that an older build,
    /// which would replay such an event without its awards or revoke without clearing the marks,
    /// refuses the folder instead.
    /// 4: a criterion state keeps its event ids front-coded (`CriterionState.recent_front_coded`),
    /// which an older build would skip, losing the ids its evidence lists. States written before
    /// keep their plain ids until their next change; both are read.
    /// 5: event records live in `event_log`, keyed by the time they were recorded and their history
    /// sequence, so appended as they come, with an `event_ids` index; `events` and `event_times`
    /// are left empty. Keyed by the caller's random event id, each record went into a random page
    /// (~70% full on average) and needed a time index for pruning; appended, pages fill completely
    /// and pruning walks the log from its start. (A record stamped in the future, by a clock that
    /// was ahead, stays last until then: records after it are inserted, not appended, and leave
    /// pages less full; so do records replayed from the journal after a crash.) A folder of schema
    /// 1-4 is converted when opened (`moveEventsToLog`, which checks the map has room first).
    /// New records also keep their reply's progress packed (`EventRecord.progress_packed`, ~30
    /// bytes a change instead of ~55), which an older build would replay as no progress at all;
    /// records written before are replayed from their `response` as ever.
    public static let schemaVersion: UInt32 = 5

    public let environment: Environment
    let meta: Database
    let badges: Database
    let awards: Database
    let awardIds: Database
    let requests: Database
    let badgeCounts: Database
    let progress: Database
    let history: Database
    let customers: Database
    /// Schema 4 and earlier kept event records here, by event id, and indexed them by time; both
    /// are emptied when such a folder is opened (`moveEventsToLog`).
    let events: Database
    let eventTimes: Database
    let eventLog: Database
    let eventIds: Database
    /// Writer thread only; see `PendingCounters`.
    let pendingCounters = PendingCounters()
    /// Writer thread only; see `PendingChanges`.
    let pendingChanges = PendingChanges()

    /// Opens (creating if needed) the store in the directory `path`. `notice` hears of the long steps
    /// opening may take (bringing an older folder's schema up to date), before and after each.
    public init(
        path: String, options: Environment.Options = .init(), notice: (String) -> Void = { _ in }
    ) throws(BadgeError) {
        do {
            environment = try Environment(path: path, options: options)
            meta = try environment.openDatabase("meta")
            badges = try environment.openDatabase("badges")
            awards = try environment.openDatabase("awards")
            awardIds = try environment.openDatabase("award_ids")
            requests = try environment.openDatabase("requests")
            badgeCounts = try environment.openDatabase("badge_counts")
            progress = try environment.openDatabase("progress")
            events = try environment.openDatabase("events")
            history = try environment.openDatabase("history")
            customers = try environment.openDatabase("customers")
            eventTimes = try environment.openDatabase("event_times")
            eventLog = try environment.openDatabase("event_log")
            eventIds = try environment.openDatabase("event_ids")
        } catch let error as LMDBError {
            throw BadgeError(
                .unavailable, "cannot open the data folder \(path): \(error)", reason: "storage_open_failed")
        } catch {
            throw BadgeError(
                .unavailable, "cannot open the data folder \(path): \(error)", reason: "storage_open_failed")
        }
        try checkSchema(path: path, notice: notice)
    }

    public func close() { environment.close() }

    /// Runs `body` in a read transaction. LMDB failures become `BadgeError`s.
    public func read<T>(_ body: (borrowing ReadTransaction) throws(BadgeError) -> T) throws(BadgeError) -> T {
        try lmdb { try environment.read { txn in try body(txn) } }
    }

    /// Runs `body` in a write transaction, committed when it returns. Writer thread only.
    ///
    /// Store writes (`insertAward`, `putEventRecord`, ...) must run inside this, not inside
    /// `environment.write`: the counters they change are written back here, just before the commit.
    public func write<T>(_ body: (borrowing WriteTransaction) throws(BadgeError) -> T) throws(BadgeError) -> T {
        try writeNotingChanges(body).result
    }

    /// `write`, also returning what the committed transaction changed that a trophy case shows.
    public func writeNotingChanges<T>(
        _ body: (borrowing WriteTransaction) throws(BadgeError) -> T
    ) throws(BadgeError) -> (result: T, changes: TrophyCaseChanges) {
        try lmdb {
            try environment.write { txn in
                // Inside LMDB's write lock, so no other writer's transaction can see or clear them.
                pendingCounters.reset(active: true)
                pendingChanges.reset()
                defer { pendingCounters.reset(active: false) }
                let result = try body(txn)
                try flushPendingCounters(txn)
                return (result, pendingChanges.changes)
            }
        }
    }

    private func checkSchema(path: String, notice: (String) -> Void) throws(BadgeError) {
        let stored = try read { txn throws(BadgeError) in
            try value(txn, meta, key: Keys.schemaVersion) { Keys.readUInt32($0) ?? 0 }
        }
        if let version = stored {
            if version > Self.schemaVersion {
                throw BadgeError(
                    .failedPrecondition,
                    "data folder \(path) has schema version \(version); this build reads up to \(Self.schemaVersion)",
                    reason: "schema_too_new")
            }
            // `moveEventsToLog` raises the version before it moves anything, so an interrupted
            // move is found by what it left behind, and finished.
            let unfinished = version < 5 ? true : try eventsLeftToMove()
            if unfinished { try moveEventsToLog(notice: notice) }
        }
        if stored != Self.schemaVersion {
            try write { txn throws(BadgeError) in
                try lmdb { try txn.put(meta, key: Keys.schemaVersion, value: Keys.uint32(Self.schemaVersion)) }
            }
        }
    }
}

/// Runs an LMDB call, turning its error into a `BadgeError` with a clear status.
func lmdb<T>(_ body: () throws -> T) throws(BadgeError) -> T {
    do {
        return try body()
    } catch let error as BadgeError {
        throw error
    } catch let error as LMDBError {
        throw storageError(error)
    } catch {
        throw BadgeError(.internal, "storage: \(error)", reason: "storage_error")
    }
}

func storageError(_ error: LMDBError) -> BadgeError {
    if error.isMapFull {
        return BadgeError(
            .resourceExhausted,
            "storage is full: the LMDB map is full and may not grow (see badged --map-size-max-mb and the disk's free space)",
            reason: "storage_full")
    }
    if error.isReadersFull {
        return BadgeError(.unavailable, "storage: too many concurrent readers (\(error))", reason: "storage_busy")
    }
    return BadgeError(.internal, "storage: \(error)", reason: "storage_error")
}
