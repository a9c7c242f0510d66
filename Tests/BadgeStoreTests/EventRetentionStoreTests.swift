import BadgeCodec
import BadgeModel
import Foundation
import LMDB
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
            // Written out of time order: pruning must follow record times, not write order.
            for index in [5, 1, 9, 3, 7, 2, 10, 4, 8, 6] {
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

    @Test("a folder from schema 1 gets its events indexed by time when opened, and they can be pruned")
    func upgradeFromSchemaOne() throws {
        let path = temporaryStorePath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let store = try BadgeStore(path: path, options: .init(mapSize: 32 << 20))
            try Self.fill(store)
            store.close()
        }
        // Make it look like schema 1: no time index, version 1.
        do {
            let environment = try Environment(path: path, options: .init(mapSize: 32 << 20))
            let meta = try environment.openDatabase("meta")
            let times = try environment.openDatabase("event_times")
            try environment.write { txn in
                var keys: [[UInt8]] = []
                try txn.withCursor(times) { cursor in
                    try cursor.forEach(prefix: []) { key, _ in
                        keys.append(Array(key))
                        return true
                    }
                }
                #expect(keys.count == 10)
                for key in keys { try txn.delete(times, key: key) }
                try txn.put(meta, key: Array("schema_version".utf8), value: [0, 0, 0, 1])
            }
            environment.close()
        }
        do {
            let store = try BadgeStore(path: path, options: .init(mapSize: 32 << 20))
            defer { store.close() }
            let pruned = try store.write { txn throws(BadgeError) in
                try store.pruneEvents(txn, recordedBefore: 3_500, limit: 100)
            }
            #expect(pruned == 3)
            #expect(try Self.remaining(store) == [4, 5, 6, 7, 8, 9, 10])
            // The rebuilt index named the right history entries: exactly the pruned ones went.
            let history = try Self.history(store)
            #expect(history.even == ["ev-4", "ev-6", "ev-8", "ev-10"])
            #expect(history.odd == ["ev-5", "ev-7", "ev-9"])
        }
        let environment = try Environment(path: path, options: .init(mapSize: 32 << 20))
        defer { environment.close() }
        let meta = try environment.openDatabase("meta")
        let version = try environment.read { txn in try txn.get(meta, key: Array("schema_version".utf8)) }
        #expect(version == [0, 0, 0, UInt8(BadgeStore.schemaVersion)])
    }

    @Test("the upgrade's index is built in chunks of history entries, and building it again changes nothing")
    func indexInChunks() throws {
        try withStore { store, _ in
            try Self.fill(store)
            func indexed() throws -> [[UInt8]] {
                try store.environment.read { txn in
                    var keys: [[UInt8]] = []
                    try txn.withCursor(store.eventTimes) { cursor in
                        try cursor.forEach(prefix: []) { key, _ in
                            keys.append(Array(key))
                            return true
                        }
                    }
                    return keys
                }
            }
            let complete = try indexed()
            #expect(complete.count == 10)
            // 10 entries in chunks of 3, of 5 (a chunk that ends exactly at the last entry) and of 10.
            for chunk in [3, 5, 10] {
                try store.environment.write { txn in
                    for key in complete { try txn.delete(store.eventTimes, key: key) }
                }
                #expect(try indexed().isEmpty)
                try store.indexEventTimes(chunk: chunk)
                #expect(try indexed() == complete, "chunks of \(chunk)")
            }
            // Again over a complete index: nothing changes.
            try store.indexEventTimes(chunk: 4)
            #expect(try indexed() == complete)
        }
    }
}
