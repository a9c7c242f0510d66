import Foundation
import LMDB
import Testing

@Suite struct EnvironmentTests {
    @Test func createsMissingDirectoriesAndReportsStats() throws {
        try withTemporaryDirectory { root in
            let path = root + "/nested/deeper/env"
            let env = try Environment(path: path, options: .init(mapSize: 4 << 20))
            defer { env.close() }
            #expect(FileManager.default.fileExists(atPath: path + "/data.mdb"))
            #expect(env.mapSize == 4 << 20)
            #expect(env.usedBytes() > 0)
            #expect(env.usedBytes() <= env.mapSize)
            #expect(try env.readerCheck() == 0)
            try env.sync()
        }
    }

    @Test func dataSurvivesCloseAndReopen() throws {
        try withTemporaryDirectory { path in
            do {
                let env = try Environment(path: path)
                let db = try env.openDatabase("persist")
                try env.write { txn in try txn.put(db, "k", "durable") }
                env.close()
                env.close()  // idempotent
            }
            let env = try Environment(path: path)
            defer { env.close() }
            let db = try env.openDatabase("persist")
            #expect(try env.read { txn in try txn.get(db, "k") } == "durable")
        }
    }

    @Test func nonDurableModeStillWorks() throws {
        try withTestEnvironment(options: .init(mapSize: 4 << 20, durability: .none)) { env, db in
            try env.write { txn in try txn.put(db, "k", "v") }
            try env.sync()
            #expect(try env.read { txn in try txn.get(db, "k") } == "v")
        }
    }

    @Test func usedBytesGrowsWithData() throws {
        try withTestEnvironment { env, db in
            let before = env.usedBytes()
            let value = [UInt8](repeating: 7, count: 64 * 1024)
            try env.write { txn in try txn.put(db, key: bytes("big"), value: value) }
            #expect(env.usedBytes() >= before + value.count)
        }
    }

    @Test func mapFullIsReportedAndEarlierDataSurvives() throws {
        try withTestEnvironment(options: .init(mapSize: 64 * 1024)) { env, db in
            try env.write { txn in try txn.put(db, "keep", "safe") }
            let value = [UInt8](repeating: 0xAB, count: 2048)
            var failure: LMDBError?
            for i in 0..<1000 {
                do {
                    try env.write { txn in try txn.put(db, key: bytes("fill\(i)"), value: value) }
                } catch let error as LMDBError {
                    failure = error
                    break
                }
            }
            let error = try #require(failure)
            #expect(error.isMapFull)
            #expect(!error.isKeyExists)
            #expect(error.description.contains("MDB_MAP_FULL"))
            #expect(try env.read { txn in try txn.get(db, "keep") } == "safe")
            // Still usable for writes that fit (deleting frees pages).
            try env.write { txn throws in #expect(try txn.delete(db, key: bytes("fill0"))) }
        }
    }

    @Test func unCreatablePathThrowsWithPath() throws {
        try withTemporaryDirectory { root in
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            let file = root + "/plain-file"
            #expect(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))

            let below = file + "/env"
            let error = try #require(throws: LMDBError.self) { try Environment(path: below) }
            #expect(error.code == ENOTDIR)
            #expect(error.description.contains(below))

            // The path itself being a regular file fails in mdb_env_open.
            let error2 = try #require(throws: LMDBError.self) { try Environment(path: file) }
            #expect(error2.operation.contains(file))
        }
    }

    @Test func closedEnvironmentRejectsTransactions() throws {
        try withTemporaryDirectory { path in
            let env = try Environment(path: path)
            let db = try env.openDatabase("test")
            env.close()
            #expect(throws: LMDBError.self) { try env.read { txn in try txn.get(db, "k") } }
            #expect(throws: LMDBError.self) { try env.write { txn in try txn.put(db, "k", "v") } }
            #expect(throws: LMDBError.self) { try env.openDatabase("other") }
            #expect(env.mapSize == 0)
            #expect(env.usedBytes() == 0)
        }
    }

    @Test func closeDuringTransactionIsDeferred() throws {
        try withTemporaryDirectory { path in
            let env = try Environment(path: path)
            let db = try env.openDatabase("test")
            try env.write { txn in try txn.put(db, "k", "v") }
            let value = try env.read { txn in
                env.close()
                // The environment stays open until this transaction ends.
                return try txn.get(db, "k")
            }
            #expect(value == "v")
            #expect(throws: LMDBError.self) { try env.read { _ in () } }
        }
    }

    @Test func tooManyDatabasesIsAnError() throws {
        try withTestEnvironment(options: .init(mapSize: 4 << 20, maxDatabases: 2)) { env, _ in
            _ = try env.openDatabase("second")
            let error = try #require(throws: LMDBError.self) { try env.openDatabase("third") }
            #expect(error.operation.contains("third"))
        }
    }
}
