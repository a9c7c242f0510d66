import BadgeCodec
import BadgeModel
import Foundation
import LMDB
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

    static func remaining(_ store: BadgeStore) throws -> [Int] {
        try store.read { txn throws(BadgeError) in
            var kept: [Int] = []
            for index in 1...10 where try store.eventRecord(txn, eventId: "ev-\(index)") != nil { kept.append(index) }
            return kept
        }
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

    @Test("the oldest events go first, at most the limit per call, with their history entries")
    func oldestFirst() throws {
        try withStore { store, _ in
            try Self.fill(store)
            let first = try store.write { txn throws(BadgeError) in
                try store.pruneEvents(txn, recordedBefore: 6_500, limit: 4)
            }
            #expect(first == 4)
            #expect(try Self.remaining(store) == [5, 6, 7, 8, 9, 10])
            let second = try store.write { txn throws(BadgeError) in
                try store.pruneEvents(txn, recordedBefore: 6_500, limit: 4)
            }
            #expect(second == 2)
            #expect(try Self.remaining(store) == [7, 8, 9, 10])
            let history = try Self.history(store)
            #expect(history.even == ["ev-8", "ev-10"])
            #expect(history.odd == ["ev-7", "ev-9"])
            // Nothing older is left: a third call deletes nothing.
            #expect(
                try store.write { txn throws(BadgeError) in try store.pruneEvents(txn, recordedBefore: 6_500, limit: 4)
                } == 0)
        }
    }

    @Test(
        "pruning stops at the first event recorded at or after the cutoff: a clock that stepped back keeps events longer, never shorter"
    )
    func clockSteppedBack() throws {
        try withStore { store, _ in
            try store.write { txn throws(BadgeError) in
                for (index, time) in [(1, 1_000), (2, 5_000), (3, 2_000), (4, 3_000)] {
                    try store.putEventRecord(txn, eventId: "ev-\(index)", Self.record("c", at: Int64(time)))
                }
            }
            let pruned = try store.write { txn throws(BadgeError) in
                try store.pruneEvents(txn, recordedBefore: 4_000, limit: 100)
            }
            #expect(pruned == 1)
            #expect(try Self.remaining(store) == [2, 3, 4])
            let later = try store.write { txn throws(BadgeError) in
                try store.pruneEvents(txn, recordedBefore: 5_001, limit: 100)
            }
            #expect(later == 3)
            #expect(try Self.remaining(store).isEmpty)
        }
    }

    /// Writes events 1...10 (as `fill` would) in the layout of schema 4 and earlier: records in
    /// `events` by event id, the history naming them, with (`timeIndex`) or without (schema 1) the
    /// time index, and `version` as the schema version; plus `unlisted` records no history names.
    static func writeLegacyEvents(
        _ environment: Environment, version: UInt8, timeIndex: Bool, unlisted: [String] = []
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
            try txn.put(meta, key: Array("next_history_seq".utf8), value: Keys.uint64(11))
            try txn.put(meta, key: Array("schema_version".utf8), value: [0, 0, 0, version])
        }
    }

    static func legacyEntries(_ store: BadgeStore) throws -> Int {
        try store.read { txn throws(BadgeError) in
            try lmdb { try txn.count(store.events) + txn.count(store.eventTimes) }
        }
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
        #expect(try Self.legacyEntries(store) == 0)
        #expect(try Self.remaining(store) == Array(1...10))
        let history = try Self.history(store)
        #expect(history.even == ["ev-2", "ev-4", "ev-6", "ev-8", "ev-10"])
        // The record no history entry named was given one (and a sequence after the others).
        #expect(history.odd == ["ev-1", "ev-3", "ev-5", "ev-7", "ev-9", "ev-stray"])
        let stray = try store.read { txn throws(BadgeError) in try store.eventRecord(txn, eventId: "ev-stray") }
        #expect(stray?.recordedAtMs == 500)
        // New events continue the sequence: nothing moved is written over.
        try store.write { txn throws(BadgeError) in
            try store.putEventRecord(txn, eventId: "ev-11", Self.record("odd", at: 11_000))
        }
        #expect(try Self.remaining(store) == Array(1...10))
        #expect(try store.read { txn throws(BadgeError) in try store.eventRecord(txn, eventId: "ev-11") } != nil)
        // Pruned in sequence order, with their index and history entries.
        let pruned = try store.write { txn throws(BadgeError) in
            try store.pruneEvents(txn, recordedBefore: 3_500, limit: 100)
        }
        #expect(pruned == 3)
        #expect(try Self.remaining(store) == Array(4...10))
        let after = try Self.history(store)
        #expect(after.even == ["ev-4", "ev-6", "ev-8", "ev-10"])
        #expect(after.odd == ["ev-5", "ev-7", "ev-9", "ev-stray", "ev-11"])
        let version = try store.read { txn throws(BadgeError) in
            try lmdb { try txn.get(store.meta, key: Array("schema_version".utf8)) }
        }
        #expect(version == [0, 0, 0, UInt8(BadgeStore.schemaVersion)])
    }

    @Test(
        "an interrupted upgrade has already raised the version (an older build refuses the folder) and finishes at the next open"
    )
    func interruptedUpgrade() throws {
        let path = temporaryStorePath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let store = try BadgeStore(path: path, options: .init(mapSize: 32 << 20))
            defer { store.close() }
            try Self.writeLegacyEvents(store.environment, version: 4, timeIndex: true)
            // Two transactions of three records each, then a "crash".
            try store.moveEventsToLog(chunk: 3, chunkLimit: 2)
            let version = try store.read { txn throws(BadgeError) in
                try lmdb { try txn.get(store.meta, key: Array("schema_version".utf8)) }
            }
            #expect(version == [0, 0, 0, UInt8(BadgeStore.schemaVersion)])
            #expect(try store.eventsLeftToMove())
            // What was moved is found in the log; what was not, only in the old layout.
            let moved = try store.read { txn throws(BadgeError) in try lmdb { try txn.count(store.eventLog) } }
            #expect(moved == 6)
        }
        let store = try BadgeStore(path: path, options: .init(mapSize: 32 << 20))
        defer { store.close() }
        #expect(try store.eventsLeftToMove() == false)
        #expect(try Self.remaining(store) == Array(1...10))
        let history = try Self.history(store)
        #expect(history.even == ["ev-2", "ev-4", "ev-6", "ev-8", "ev-10"])
        #expect(history.odd == ["ev-1", "ev-3", "ev-5", "ev-7", "ev-9"])
    }
}
