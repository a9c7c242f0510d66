import BadgeModel
import BadgeStore
import BadgeTestSupport
import Foundation
import LMDB
import Testing

@Suite("BadgeStore lifecycle")
struct StoreLifecycleTests {
    @Test func reopenedStoreFindsEverything() throws {
        let path = temporaryStorePath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var inserted: [Award] = []
        do {
            let store = try BadgeStore(path: path)
            try store.put(BadgeDefinition(id: "gold", name: "Gold", rank: 1))
            try store.put(BadgeDefinition(id: "silver", name: "Silver", rank: 2))
            inserted.append(try store.insert(newAward(customer: "c1", badge: "gold", requestId: "r1")))
            inserted.append(try store.insert(newAward(customer: "c2", badge: "gold", requestId: "r2")))
            inserted.append(try store.insert(newAward(customer: "c1", badge: "silver", requestId: "r3")))
            try store.revoke(inserted[1], atMs: 77, reason: "mistake", by: "ops")
            store.close()
        }
        let store = try BadgeStore(path: path)
        defer { store.close() }
        let badges = try store.read { txn throws(BadgeError) in try store.allBadges(txn) }
        #expect(badges.map(\.id) == ["gold", "silver"])
        #expect(try store.customerAwards("c1").map(\.awardId) == [1, 3])
        let revoked = try #require(try store.customerAwards("c2").first)
        #expect(revoked.revokedAtMs == 77)
        #expect(revoked.revokeReason == "mistake")
        #expect(try store.count(of: "gold") == 1)
        #expect(try store.count(of: "silver") == 1)
        #expect(try store.read { txn throws(BadgeError) in try store.awardId(txn, forRequest: "r3") } == 3)
        let all = try store.read { txn throws(BadgeError) in try store.awards(txn, after: 0, limit: 10) }
        #expect(all.map(\.awardId) == [1, 2, 3])
        #expect(all[0] == inserted[0])
        // Award ids continue after the last one issued before the restart.
        #expect(try store.insert(newAward(customer: "c3", badge: "gold")).awardId == 4)
    }

    @Test func freshStoreRecordsItsSchemaVersion() throws {
        let path = temporaryStorePath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try BadgeStore(path: path).close()
        let environment = try Environment(path: path)
        defer { environment.close() }
        let meta = try environment.openDatabase("meta")
        let stored = try environment.read { txn in try txn.get(meta, key: Array("schema_version".utf8)) }
        #expect(stored == [0, 0, 0, UInt8(BadgeStore.schemaVersion)])
    }

    @Test func newerSchemaIsRefused() throws {
        let path = temporaryStorePath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let newer: UInt32 = 99
        #expect(newer > BadgeStore.schemaVersion)
        do {
            let environment = try Environment(path: path)
            let meta = try environment.openDatabase("meta")
            try environment.write { txn in
                let value = withUnsafeBytes(of: newer.bigEndian) { Array($0) }
                try txn.put(meta, key: Array("schema_version".utf8), value: value)
            }
            environment.close()
        }
        let error = expectBadgeError(.failedPrecondition, reason: "schema_too_new") {
            _ = try BadgeStore(path: path)
        }
        #expect(error?.message.contains("99") == true)
        // The refused folder is left as it was.
        let environment = try Environment(path: path)
        defer { environment.close() }
        let meta = try environment.openDatabase("meta")
        #expect(try environment.read { txn in try txn.get(meta, key: Array("schema_version".utf8)) } == [0, 0, 0, 99])
    }

    @Test func unopenablePathIsUnavailable() throws {
        let path = temporaryStorePath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(FileManager.default.createFile(atPath: path, contents: Data("not a directory".utf8)))
        expectBadgeError(.unavailable, reason: "storage_open_failed") { _ = try BadgeStore(path: path) }
    }

    @Test func fullMapFailsCleanlyAndKeepsCommittedData() throws {
        let path = temporaryStorePath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let options = Environment.Options(mapSize: 256 * 1024)
        let evidence = String(repeating: "e", count: 3_000)
        var committed: [Award] = []
        var failure: BadgeError?
        do {
            let store = try BadgeStore(path: path, options: options)
            defer { store.close() }
            for index in 0..<10_000 {
                do {
                    let award = newAward(
                        customer: "c\(index)", badge: "gold", requestId: "r\(index)", evidence: evidence)
                    committed.append(try store.insert(award))
                } catch let error as BadgeError {
                    failure = error
                    break
                }
            }
            #expect(failure?.code == .resourceExhausted)
            #expect(failure?.reason == "storage_full")
            #expect(failure?.message.contains("map") == true)
            // Still readable in this process.
            #expect(try store.read { txn throws(BadgeError) in try store.counts(txn) }.awards == committed.count)
        }
        #expect(committed.count > 5, "the map should hold a few awards before filling up")
        #expect(committed.map(\.awardId) == Array(1...UInt64(committed.count)))

        let store = try BadgeStore(path: path, options: options)
        defer { store.close() }
        let all = try store.read { txn throws(BadgeError) in try store.awards(txn, after: 0, limit: 100_000) }
        #expect(all == committed)
        #expect(try store.count(of: "gold") == UInt64(committed.count))
        let last = try #require(committed.last)
        let lastId = try store.read { txn throws(BadgeError) in try store.awardId(txn, forRequest: last.requestId) }
        #expect(lastId == last.awardId)
    }
}
