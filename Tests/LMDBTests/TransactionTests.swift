import Foundation
import LMDB
import Synchronization
import Testing

@Suite struct TransactionTests {
    @Test func putGetDeleteRoundTrip() throws {
        try withTestEnvironment { env, db in
            try env.write { txn in
                try txn.put(db, "alpha", "one")
                try txn.put(db, "beta", "two")
                // Reads inside the write transaction see its own writes.
                #expect(try txn.get(db, "alpha") == "one")
            }
            try env.read { txn throws in
                #expect(try txn.get(db, "alpha") == "one")
                #expect(try txn.get(db, "beta") == "two")
            }
            let deleted = try env.write { txn in try txn.delete(db, key: bytes("alpha")) }
            #expect(deleted)
            let deletedAgain = try env.write { txn in try txn.delete(db, key: bytes("alpha")) }
            #expect(!deletedAgain)
            try env.read { txn throws in
                #expect(try txn.get(db, "alpha") == nil)
                #expect(try txn.get(db, "beta") == "two")
            }
        }
    }

    @Test func rawBufferAPI() throws {
        try withTestEnvironment { env, db in
            let key = bytes("raw-key")
            let value: [UInt8] = [0, 1, 2, 255]
            try env.write { txn in
                try key.withUnsafeBytes { k in
                    try value.withUnsafeBytes { v throws in
                        #expect(try txn.put(db, key: k, value: v))
                    }
                }
            }
            let copied = try env.read { txn in
                try key.withUnsafeBytes { k in try txn.get(db, key: k).map { Array($0) } }
            }
            #expect(copied == value)
        }
    }

    @Test("append stores keys in any order, inserting one that does not sort last, and never replaces a value")
    func appendInAnyOrder() throws {
        try withTestEnvironment { env, db in
            let stored = try env.write { txn in
                try [("k1", "a"), ("k3", "b"), ("k2", "c"), ("k3", "d"), ("k4", "e"), ("k1", "f")].map { key, value in
                    try bytes(key).withUnsafeBytes { k in
                        try bytes(value).withUnsafeBytes { v in try txn.append(db, key: k, value: v) }
                    }
                }
            }
            #expect(stored == [true, true, true, false, true, false])
            try env.read { txn throws in
                #expect(try txn.count(db) == 4)
                #expect(try txn.get(db, "k1") == "a")
                #expect(try txn.get(db, "k2") == "c")
                #expect(try txn.get(db, "k3") == "b")
                #expect(try txn.get(db, "k4") == "e")
            }
        }
    }

    @Test func missingKeyIsNil() throws {
        try withTestEnvironment { env, db in
            try env.read { txn throws in
                #expect(try txn.get(db, key: bytes("nope")) == nil)
                try bytes("nope").withUnsafeBytes { key throws in
                    #expect(try txn.get(db, key: key) == nil)
                }
            }
        }
    }

    @Test func noOverwriteKeepsOldValue() throws {
        try withTestEnvironment { env, db in
            try env.write { txn in try txn.put(db, "k", "old") }
            let stored = try env.write { txn in
                try bytes("k").withUnsafeBytes { key in
                    try bytes("new").withUnsafeBytes { value in
                        try txn.put(db, key: key, value: value, noOverwrite: true)
                    }
                }
            }
            #expect(!stored)
            #expect(try env.read { txn in try txn.get(db, "k") } == "old")

            let storedFresh = try env.write { txn in
                try bytes("fresh").withUnsafeBytes { key in
                    try bytes("v").withUnsafeBytes { value in
                        try txn.put(db, key: key, value: value, noOverwrite: true)
                    }
                }
            }
            #expect(storedFresh)
            #expect(try env.read { txn in try txn.get(db, "fresh") } == "v")
        }
    }

    @Test func throwingWriteBodyAborts() throws {
        try withTestEnvironment { env, db in
            #expect(throws: TestFailure.self) {
                try env.write { txn in
                    try txn.put(db, "doomed", "value")
                    throw TestFailure()
                }
            }
            #expect(try env.read { txn in try txn.get(db, "doomed") } == nil)
            // The writer lock was released: another write succeeds.
            try env.write { txn in try txn.put(db, "after", "ok") }
            #expect(try env.read { txn in try txn.get(db, "after") } == "ok")
        }
    }

    @Test func reservePut() throws {
        try withTestEnvironment { env, db in
            try env.write { txn in
                try bytes("reserved").withUnsafeBytes { key in
                    try txn.put(db, key: key, reservingCount: 6) { buffer in
                        #expect(buffer.count == 6)
                        buffer.copyBytes(from: bytes("filled"))
                    }
                }
            }
            #expect(try env.read { txn in try txn.get(db, "reserved") } == "filled")
        }
    }

    @Test func reservePutWhoseFillThrowsLeavesNoGarbage() throws {
        try withTestEnvironment { env, db in
            try env.write { txn in
                do {
                    try bytes("half").withUnsafeBytes { key in
                        try txn.put(db, key: key, reservingCount: 4) { _ in throw TestFailure() }
                    }
                    Issue.record("fill error was swallowed")
                } catch is TestFailure {}
            }
            #expect(try env.read { txn in try txn.get(db, "half") } == nil)
        }
    }

    @Test func count() throws {
        try withTestEnvironment { env, db in
            #expect(try env.read { txn in try txn.count(db) } == 0)
            try env.write { txn in
                for i in 0..<25 { try txn.put(db, "key\(i)", "v") }
                #expect(try txn.count(db) == 25)
            }
            _ = try env.write { txn in try txn.delete(db, key: bytes("key3")) }
            #expect(try env.read { txn in try txn.count(db) } == 24)
        }
    }

    @Test func databasesAreSeparate() throws {
        try withTestEnvironment { env, db in
            let other = try env.openDatabase("other")
            #expect(other != db)
            #expect(try env.openDatabase("test") == db)
            try env.write { txn in
                try txn.put(db, "k", "in-test")
                try txn.put(other, "k", "in-other")
            }
            try env.read { txn throws in
                #expect(try txn.get(db, "k") == "in-test")
                #expect(try txn.get(other, "k") == "in-other")
            }
        }
    }

    @Test func readersOnOtherThreadsSeeOldSnapshotUntilCommit() throws {
        try withTestEnvironment { env, db in
            try env.write { txn in try txn.put(db, "k", "old") }

            let written = DispatchSemaphore(value: 0)
            let readDone = DispatchSemaphore(value: 0)
            let committed = DispatchSemaphore(value: 0)
            let writerError = Mutex<String?>(nil)
            let writer = Thread {
                do {
                    try env.write { txn in
                        try txn.put(db, "k", "new")
                        try txn.put(db, "added", "yes")
                        written.signal()
                        // Hold the write transaction open until the reader has looked.
                        readDone.wait()
                    }
                } catch {
                    writerError.withLock { $0 = "\(error)" }
                    written.signal()
                }
                committed.signal()
            }
            writer.start()

            written.wait()
            let (during, addedDuring) = try env.read { txn in (try txn.get(db, "k"), try txn.get(db, "added")) }
            readDone.signal()
            committed.wait()

            #expect(writerError.withLock { $0 } == nil)
            #expect(during == "old")
            #expect(addedDuring == nil)
            #expect(try env.read { txn in try txn.get(db, "k") } == "new")
            #expect(try env.read { txn in try txn.get(db, "added") } == "yes")
        }
    }

    @Test func concurrentReadsFromManyThreads() async throws {
        try await withTemporaryDirectoryAsync { path in
            let env = try Environment(path: path, options: .init(mapSize: 16 << 20))
            defer { env.close() }
            let db = try env.openDatabase("test")
            try env.write { txn in
                for i in 0..<100 { try txn.put(db, "key\(i)", "value\(i)") }
            }
            let total = try await withThrowingTaskGroup(of: Int.self) { group in
                for t in 0..<8 {
                    group.addTask {
                        try env.read { txn in
                            var found = 0
                            for i in 0..<100 where try txn.get(db, "key\((i + t) % 100)") == "value\((i + t) % 100)" {
                                found += 1
                            }
                            return found
                        }
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(total == 800)
        }
    }
}

func withTemporaryDirectoryAsync<T>(_ body: (String) async throws -> T) async throws -> T {
    let path = NSTemporaryDirectory() + "lmdb-tests-" + UUID().uuidString
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}
