import BadgeCodec
import BadgeModel
import BadgeTestSupport
import Foundation
@_spi(Testing) import LMDB
import Synchronization
import Testing

@testable import BadgeStore

@Suite("Evaluated events: pruning by age")
struct EventRetentionStoreTests {
    static func record(_ customer: String, at recordedAtMs: Int64) -> EventRecord {
        EventRecord(
            customerId: customer, type: "purchase", occurredAtMs: recordedAtMs, recordedAtMs: recordedAtMs,
            awardedIds: [], response: [1, 2, 3])
    }

    /// Event ids recorded at 1000, 2000, ... 10000 ms, alternating between two customers.
    static func fill(_ store: BadgeStore) throws {
        try store.write { txn throws(BadgeError) in
            for index in 1...10 {
                try store.putEventRecord(
                    txn, eventId: "ev-\(index)", record(index % 2 == 0 ? "even" : "odd", at: Int64(index) * 1_000))
            }
        }
    }

    static func recordedAt(_ store: BadgeStore, _ eventId: String) throws -> Int64? {
        try store.read { txn throws(BadgeError) in try store.eventRecord(txn, eventId: eventId)?.recordedAtMs }
    }

    /// The events 1...10 still found by their ids, each checked to be its own record.
    static func remaining(_ store: BadgeStore) throws -> [Int] {
        var kept: [Int] = []
        for index in 1...10 {
            guard let time = try recordedAt(store, "ev-\(index)") else { continue }
            #expect(time == Int64(index) * 1_000, "ev-\(index) has another event's record")
            kept.append(index)
        }
        return kept
    }

    /// The event ids left in each customer's history.
    static func history(_ store: BadgeStore) throws -> (even: Set<String>, odd: Set<String>) {
        try store.read { txn throws(BadgeError) in
            (
                Set(try store.history(txn, customerId: "even", limit: 100)),
                Set(try store.history(txn, customerId: "odd", limit: 100))
            )
        }
    }

    static func prune(_ store: BadgeStore, before cutoffMs: Int64, limit: Int = 100) throws -> Int {
        try pruneReporting(store, before: cutoffMs, limit: limit).deleted
    }

    static func pruneReporting(_ store: BadgeStore, before cutoffMs: Int64, limit: Int = 100) throws -> PrunedEvents {
        try store.write { txn throws(BadgeError) in try store.pruneEvents(txn, recordedBefore: cutoffMs, limit: limit) }
    }

    @Test("the oldest events go first, at most the limit per call, with their history entries")
    func oldestFirst() throws {
        try withStore { store, _ in
            try Self.fill(store)
            #expect(try Self.prune(store, before: 6_500, limit: 4) == 4)
            #expect(try Self.remaining(store) == [5, 6, 7, 8, 9, 10])
            #expect(try Self.prune(store, before: 6_500, limit: 4) == 2)
            #expect(try Self.remaining(store) == [7, 8, 9, 10])
            let history = try Self.history(store)
            #expect(history.even == ["ev-8", "ev-10"])
            #expect(history.odd == ["ev-7", "ev-9"])
            // Nothing older is left: a third call deletes nothing.
            #expect(try Self.prune(store, before: 6_500, limit: 4) == 0)
        }
    }

    @Test("a record that does not decode is deleted with the rest past the cutoff, counted, and does not stop pruning")
    func unreadableRecordDeletedToo() throws {
        try withStore { store, _ in
            try Self.fill(store)
            // Damage ev-3's record in place: a truncated varint where its first field should be.
            try store.environment.write { txn in
                guard let logKey = try txn.get(store.eventIds, key: Array("ev-3".utf8)) else {
                    Issue.record("ev-3 is not indexed")
                    return
                }
                try txn.put(store.eventLog, key: logKey, value: [0x0A, 0xFF])
            }
            // ev-1, ev-2 and the damaged ev-3 make the limit of three.
            let first = try Self.pruneReporting(store, before: 6_500, limit: 3)
            #expect(first.deleted == 2)
            #expect(first.unreadable == 1)
            #expect(first.unreadableExamples.count == 1)
            #expect(first.unreadableExamples.first?.contains("does not decode") == true)
            let second = try Self.pruneReporting(store, before: 6_500)
            #expect(second.deleted == 3)
            #expect(second.unreadable == 0)
            // ev-3's history entry could not be found without its record's customer, so it stays.
            let history = try Self.history(store)
            #expect(history.odd == ["ev-3", "ev-7", "ev-9"])
            #expect(history.even == ["ev-8", "ev-10"])
            for index in [7, 8, 9, 10] { #expect(try Self.recordedAt(store, "ev-\(index)") == Int64(index) * 1_000) }
            for index in [1, 2, 4, 5, 6] { #expect(try Self.recordedAt(store, "ev-\(index)") == nil) }
            expectBadgeError(.dataLoss, reason: "index_corrupt") { _ = try Self.recordedAt(store, "ev-3") }
        }
    }

    @Test("many damaged records are all deleted and counted, and the first ten named")
    func manyUnreadableRecordsCountedNotAllNamed() throws {
        try withStore { store, _ in
            try store.write { txn throws(BadgeError) in
                for index in 1...12 {
                    try store.putEventRecord(txn, eventId: "bad-\(index)", Self.record("c", at: Int64(index)))
                }
            }
            try store.environment.write { txn in
                for index in 1...12 {
                    let logKey = try #require(try txn.get(store.eventIds, key: Array("bad-\(index)".utf8)))
                    try txn.put(store.eventLog, key: logKey, value: [0x0A, 0xFF])
                }
            }
            let pruned = try Self.pruneReporting(store, before: 1_000)
            #expect(pruned.deleted == 0)
            #expect(pruned.unreadable == 12)
            #expect(pruned.unreadableExamples.count == 10)
            #expect(try store.read { txn throws(BadgeError) in try lmdb { try txn.count(store.eventLog) } } == 0)
        }
    }

    @Test("pruning goes by the time events were recorded, whatever order they came in (a clock stepped back or ahead)")
    func pruningFollowsRecordTimes() throws {
        try withStore { store, _ in
            try store.write { txn throws(BadgeError) in
                for (index, time) in [(1, 1_000), (2, 10_000_000), (3, 2_000), (4, 3_000), (5, 500)] {
                    try store.putEventRecord(txn, eventId: "ev-\(index)", Self.record("c", at: Int64(time)))
                }
            }
            #expect(try Self.prune(store, before: 2_500) == 3)
            var kept: [Int] = []
            for index in 1...5 where try Self.recordedAt(store, "ev-\(index)") != nil { kept.append(index) }
            #expect(kept == [2, 4])
            let history = try store.read { txn throws(BadgeError) in try store.history(txn, customerId: "c", limit: 10)
            }
            #expect(history == ["ev-2", "ev-4"])
        }
    }

    @Test("an event id recorded again after it was pruned is a new event, and is pruned in its turn")
    func recordedAgainAfterPruning() throws {
        try withStore { store, _ in
            try store.write { txn throws(BadgeError) in
                try store.putEventRecord(txn, eventId: "x", Self.record("a", at: 1_000))
                try store.putEventRecord(txn, eventId: "y", Self.record("a", at: 1_500))
            }
            #expect(try Self.prune(store, before: 1_200) == 1)
            try store.write { txn throws(BadgeError) in
                try store.putEventRecord(txn, eventId: "x", Self.record("b", at: 2_000))
            }
            #expect(try Self.recordedAt(store, "x") == 2_000)
            #expect(try Self.prune(store, before: 3_000) == 2)
            #expect(try Self.recordedAt(store, "x") == nil)
            #expect(try Self.recordedAt(store, "y") == nil)
        }
    }

    @Test("a history sequence found taken (a damaged counter) is refused as index_corrupt, nothing written over")
    func takenSequenceRefused() throws {
        try withStore { store, _ in
            try Self.fill(store)
            // Wind the counter back: the next event would take ev-9's sequence.
            try store.environment.write { txn in
                try txn.put(store.meta, key: Array("next_history_seq".utf8), value: Keys.uint64(9))
            }
            // Recorded at ev-9's time, its log key is taken too; later, only its history entry.
            for (time, taken) in [(Int64(9_000), "event log already holds"), (20_000, "history already holds")] {
                let error = expectBadgeError(.dataLoss, reason: "index_corrupt") {
                    try store.write { txn throws(BadgeError) in
                        try store.putEventRecord(txn, eventId: "ev-late", Self.record("odd", at: time))
                    }
                }
                #expect(error?.message.contains(taken) == true, "\(String(describing: error))")
            }
            #expect(try Self.remaining(store) == Array(1...10))
            #expect(try Self.recordedAt(store, "ev-late") == nil)
            #expect(try Self.history(store).odd == ["ev-1", "ev-3", "ev-5", "ev-7", "ev-9"])
        }
    }

    // MARK: - Folders of schema 4 and earlier

    /// Writes events 1...10 (as `fill` would) in the layout of schema 4 and earlier: records in
    /// `events` by event id, the history naming them, with (`timeIndex`) or without (schema 1) the
    /// time index, and `version` as the schema version; plus `unlisted` records no history names.
    static func writeLegacyEvents(
        _ environment: Environment, version: UInt8, timeIndex: Bool, unlisted: [String] = [],
        nextSequence: UInt64? = 11
    ) throws {
        let meta = try environment.openDatabase("meta")
        let events = try environment.openDatabase("events")
        let history = try environment.openDatabase("history")
        let times = try environment.openDatabase("event_times")
        try environment.write { txn in
            for index in 1...10 {
                let eventId = Array("ev-\(index)".utf8)
                let record = Self.record(index % 2 == 0 ? "even" : "odd", at: Int64(index) * 1_000)
                let historyKey = Keys.history(customerId: record.customerId, sequence: UInt64(index))
                try txn.put(events, key: eventId, value: record.encoded())
                try txn.put(history, key: historyKey, value: eventId)
                if timeIndex {
                    try txn.put(times, key: Keys.uint64(UInt64(index) * 1_000) + eventId, value: historyKey)
                }
            }
            for eventId in unlisted {
                try txn.put(events, key: Array(eventId.utf8), value: Self.record("odd", at: 500).encoded())
            }
            if let nextSequence {
                try txn.put(meta, key: Array("next_history_seq".utf8), value: Keys.uint64(nextSequence))
            }
            try txn.put(meta, key: Array("schema_version".utf8), value: [0, 0, 0, version])
        }
    }

    static func legacyEntries(_ store: BadgeStore) throws -> Int {
        try store.read { txn throws(BadgeError) in
            try lmdb { try txn.count(store.events) + txn.count(store.eventTimes) }
        }
    }

    static func schemaVersion(_ store: BadgeStore) throws -> [UInt8]? {
        try store.read { txn throws(BadgeError) in
            try lmdb { try txn.get(store.meta, key: Array("schema_version".utf8)) }
        }
    }

    /// Every legacy event found by its id with its own record, the stray one too, nothing left in
    /// the old layout; and a new event neither collides with them nor writes over one.
    static func expectMovedIntact(_ store: BadgeStore) throws {
        #expect(try remaining(store) == Array(1...10))
        #expect(try recordedAt(store, "ev-stray") == 500)
        #expect(try legacyEntries(store) == 0)
        #expect(try store.eventsLeftToMove() == false)
        #expect(try schemaVersion(store) == [0, 0, 0, UInt8(BadgeStore.schemaVersion)])
        try store.write { txn throws(BadgeError) in
            try store.putEventRecord(txn, eventId: "ev-new", Self.record("odd", at: 50_000))
        }
        #expect(try remaining(store) == Array(1...10))
        #expect(try recordedAt(store, "ev-new") == 50_000)
    }

    @Test(
        "a folder of schema 1 or 4 has its events moved to the log when opened: each found by id, in its history, prunable",
        arguments: [(UInt8(1), false), (UInt8(4), true)])
    func upgradeFromLegacyLayout(version: UInt8, timeIndex: Bool) throws {
        let path = temporaryStorePath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let environment = try Environment(path: path, options: .init(mapSize: 32 << 20))
            defer { environment.close() }
            try Self.writeLegacyEvents(environment, version: version, timeIndex: timeIndex, unlisted: ["ev-stray"])
        }
        let notices = Mutex<[String]>([])
        let store = try BadgeStore(
            path: path, options: .init(mapSize: 32 << 20), notice: { text in notices.withLock { $0.append(text) } })
        defer { store.close() }
        // The operator hears of the move before it starts and when it is done.
        let heard = notices.withLock { $0 }
        #expect(heard.count == 2)
        #expect(heard.first?.hasPrefix("moving 11 evaluated events") == true)
        #expect(heard.last?.hasPrefix("moved 11 evaluated events") == true)
        let history = try Self.history(store)
        #expect(history.even == ["ev-2", "ev-4", "ev-6", "ev-8", "ev-10"])
        // The record no history entry named was given one.
        #expect(history.odd == ["ev-1", "ev-3", "ev-5", "ev-7", "ev-9", "ev-stray"])
        try Self.expectMovedIntact(store)
        // Pruned by time, with their index and history entries.
        #expect(try Self.prune(store, before: 3_500) == 4)
        #expect(try Self.remaining(store) == Array(4...10))
        let after = try Self.history(store)
        #expect(after.even == ["ev-4", "ev-6", "ev-8", "ev-10"])
        #expect(after.odd == ["ev-5", "ev-7", "ev-9", "ev-new"])
    }

    /// Transactions of the move with chunks of 3, for 10 listed records and one stray: 1 the
    /// version; 2-5 by time; 6-9 by history (nothing left to move); 10 the counter; 11-14 emptying
    /// `events` (the stray moved in the last).
    @Test(
        "a crash anywhere in the upgrade: the version is raised first, and the next open finishes it from the journal",
        arguments: [1, 2, 5, 6, 10, 11, 13])
    func crashDuringUpgrade(transactions: Int) throws {
        let path = temporaryStorePath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let store = try BadgeStore(path: path, options: .init(mapSize: 32 << 20))
            try Self.writeLegacyEvents(store.environment, version: 4, timeIndex: true, unlisted: ["ev-stray"])
            try store.moveEventsToLog(chunk: 3, chunkLimit: transactions)
            // From the first transaction on, a build that knows only the old layout refuses it.
            #expect(try Self.schemaVersion(store) == [0, 0, 0, UInt8(BadgeStore.schemaVersion)])
            #expect(try store.eventsLeftToMove())
            store.environment.closeWithoutCheckpoint()
        }
        let store = try BadgeStore(path: path, options: .init(mapSize: 32 << 20))
        defer { store.close() }
        #expect(store.environment.recoveredTransactions > 0)
        try Self.expectMovedIntact(store)
    }

    @Test("a damaged folder whose history counter is behind its sequences gets it raised: no sequence is used twice")
    func counterBehindIsRaised() throws {
        let path = temporaryStorePath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let environment = try Environment(path: path, options: .init(mapSize: 32 << 20))
            defer { environment.close() }
            try Self.writeLegacyEvents(
                environment, version: 4, timeIndex: true, unlisted: ["ev-stray"], nextSequence: nil)
        }
        let store = try BadgeStore(path: path, options: .init(mapSize: 32 << 20))
        defer { store.close() }
        try Self.expectMovedIntact(store)
        #expect(try Self.history(store).odd.isSuperset(of: ["ev-1", "ev-stray", "ev-new"]))
    }

    /// Writes `count` schema-4 events with records of ~650 bytes under random-looking ids, in
    /// transactions of 1,000; stops early, returning how many it wrote, when the map is full.
    static func writeLegacyBulk(_ environment: Environment, count: Int) throws -> Int {
        let meta = try environment.openDatabase("meta")
        let events = try environment.openDatabase("events")
        let history = try environment.openDatabase("history")
        let times = try environment.openDatabase("event_times")
        var random = SplitMix64(state: 7)
        var written = 0
        while written < count {
            do {
                try environment.write { txn in
                    for _ in 0..<min(1_000, count - written) {
                        let sequence = UInt64(written + 1)
                        let eventId = Array("e-\(random.next())".utf8)
                        var record = Self.record("cust-\(random.next() % 500)", at: Int64(sequence))
                        record.response = [UInt8](repeating: UInt8(truncatingIfNeeded: sequence), count: 600)
                        let historyKey = Keys.history(customerId: record.customerId, sequence: sequence)
                        try txn.put(events, key: eventId, value: record.encoded())
                        try txn.put(history, key: historyKey, value: eventId)
                        try txn.put(times, key: Keys.uint64(sequence) + eventId, value: historyKey)
                        written += 1
                    }
                    try txn.put(meta, key: Array("next_history_seq".utf8), value: Keys.uint64(UInt64(written + 1)))
                    try txn.put(meta, key: Array("schema_version".utf8), value: [0, 0, 0, 4])
                }
            } catch {
                return written - written % 1_000
            }
        }
        return written
    }

    @Test(
        "a folder half full upgrades within its map; one too full for the move is refused, unchanged, until the map grows"
    )
    func upgradeRoom() throws {
        let mapSize = 16 << 20
        let full = try Self.legacyBulkFilling(mapSize: mapSize)
        for (fill, fits) in [(0.45, true), (0.8, false)] {
            let path = temporaryStorePath()
            defer { try? FileManager.default.removeItem(atPath: path) }
            let count = Int(Double(full) * fill)
            do {
                let environment = try Environment(path: path, options: .init(mapSize: mapSize))
                defer { environment.close() }
                #expect(try Self.writeLegacyBulk(environment, count: count) == count)
            }
            if fits {
                let store = try BadgeStore(path: path, options: .init(mapSize: mapSize))
                defer { store.close() }
                #expect(try Self.legacyEntries(store) == 0)
                #expect(
                    try store.read { txn throws(BadgeError) in try lmdb { try txn.count(store.eventLog) } } == count)
                continue
            }
            let error = expectBadgeError(.resourceExhausted, reason: "storage_full") {
                _ = try BadgeStore(path: path, options: .init(mapSize: mapSize))
            }
            #expect(error?.message.contains("--map-size-mb of at least") == true, "\(String(describing: error))")
            // Unchanged: still schema 4, so the build it came from can open it again.
            do {
                let environment = try Environment(path: path, options: .init(mapSize: mapSize))
                defer { environment.close() }
                let meta = try environment.openDatabase("meta")
                #expect(
                    try environment.read { txn in try txn.get(meta, key: Array("schema_version".utf8)) } == [
                        0, 0, 0, 4,
                    ])
            }
            let store = try BadgeStore(path: path, options: .init(mapSize: mapSize * 2))
            defer { store.close() }
            #expect(try store.read { txn throws(BadgeError) in try lmdb { try txn.count(store.eventLog) } } == count)
        }
    }

    /// How many `writeLegacyBulk` events fill a map of `mapSize` bytes.
    static func legacyBulkFilling(mapSize: Int) throws -> Int {
        let path = temporaryStorePath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let environment = try Environment(path: path, options: .init(mapSize: mapSize))
        defer { environment.close() }
        return try writeLegacyBulk(environment, count: .max)
    }

    @Test("a map that may grow makes room for the event-log move itself")
    func upgradeGrowsTheMap() throws {
        let mapSize = 16 << 20
        let full = try Self.legacyBulkFilling(mapSize: mapSize)
        let path = temporaryStorePath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        // 75%: below the threshold at which opening grows a map, too full for the move.
        let count = Int(Double(full) * 0.75)
        do {
            let environment = try Environment(path: path, options: .init(mapSize: mapSize))
            defer { environment.close() }
            #expect(try Self.writeLegacyBulk(environment, count: count) == count)
        }
        let store = try BadgeStore(path: path, options: .init(mapSize: mapSize, maxMapSize: .max))
        defer { store.close() }
        #expect(store.environment.mapSize > mapSize)
        #expect(try Self.legacyEntries(store) == 0)
        #expect(try store.read { txn throws(BadgeError) in try lmdb { try txn.count(store.eventLog) } } == count)
    }

    /// Writes `count` schema-4 events with small records (no reply kept: events that changed no
    /// progress) under UUID ids, as a long-running store holds them.
    static func writeSmallLegacy(_ environment: Environment, count: Int) throws {
        let meta = try environment.openDatabase("meta")
        let events = try environment.openDatabase("events")
        let history = try environment.openDatabase("history")
        let times = try environment.openDatabase("event_times")
        var written = 0
        while written < count {
            try environment.write { txn in
                for _ in 0..<min(1_000, count - written) {
                    let sequence = UInt64(written + 1)
                    let eventId = Array(UUID().uuidString.utf8)
                    let time = 1_700_000_000_000 + Int64(sequence)
                    var record = Self.record("cust-\(sequence % 500)", at: time)
                    record.response = []
                    record.awardsById = true
                    let historyKey = Keys.history(customerId: record.customerId, sequence: sequence)
                    try txn.put(events, key: eventId, value: record.encoded())
                    try txn.put(history, key: historyKey, value: eventId)
                    try txn.put(times, key: Keys.uint64(UInt64(time)) + eventId, value: historyKey)
                    written += 1
                }
                try txn.put(meta, key: Array("next_history_seq".utf8), value: Keys.uint64(UInt64(written + 1)))
                try txn.put(meta, key: Array("schema_version".utf8), value: [0, 0, 0, 4])
            }
        }
    }

    /// Small records make the id index, rewritten page by page by every transaction of the move,
    /// the biggest part of what the move needs (a review found a folder the check let through fill
    /// its map halfway). The folder is compacted first, as recovery leaves every folder.
    @Test(
        "small records in a compact folder: a move that would not fit is refused unchanged, never fills the map halfway"
    )
    func upgradeRoomSmallRecords() throws {
        let path = temporaryStorePath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let options = Environment.Options(mapSize: 36 << 20)
        do {
            let environment = try Environment(path: path, options: options)
            try Self.writeSmallLegacy(environment, count: 70_000)
            try environment.checkpoint()
            environment.closeWithoutCheckpoint()
        }
        // The move needs ~27 MiB at the end of the map here, where ~15 are free.
        let error = expectBadgeError(.resourceExhausted, reason: "storage_full") {
            _ = try BadgeStore(path: path, options: options)
        }
        #expect(error?.message.contains("the folder is unchanged") == true, "\(String(describing: error))")
        do {
            let environment = try Environment(path: path, options: options)
            defer { environment.close() }
            let meta = try environment.openDatabase("meta")
            #expect(
                try environment.read { txn in try txn.get(meta, key: Array("schema_version".utf8)) } == [0, 0, 0, 4])
        }
        // With the size it asked for, the move fits.
        let store = try BadgeStore(path: path, options: .init(mapSize: 48 << 20))
        defer { store.close() }
        #expect(try store.read { txn throws(BadgeError) in try lmdb { try txn.count(store.eventLog) } } == 70_000)
        #expect(try Self.legacyEntries(store) == 0)
    }
}
