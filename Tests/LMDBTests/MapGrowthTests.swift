import Foundation
import Testing

@_spi(Testing) @testable import LMDB

@Suite("The map grows before it fills")
struct MapGrowthTests {
    static let mib = 1 << 20
    /// A 2 MiB map that may grow to 64 MiB, with no checkpoint before the journal holds 1 TiB.
    static let growable = Environment.Options(
        mapSize: 2 << 20, checkpointBytes: 1 << 40, maxMapSize: 64 << 20)

    /// Puts values of 1 KiB under `prefix0`, `prefix1`, ... until the map is at least `share` full.
    static func fill(
        _ env: Environment, _ db: Database, prefix: String, untilShare share: Double, from start: Int = 0
    ) throws -> Int {
        var count = start
        while Double(env.usedBytes()) < Double(env.mapSize) * share {
            try env.write { txn in
                for _ in 0..<16 {
                    try txn.put(
                        db, key: bytes("\(prefix)\(count)"), value: [UInt8](repeating: UInt8(count & 0xFF), count: 1024)
                    )
                    count += 1
                }
            }
        }
        return count
    }

    static func fileSize(_ path: String) throws -> Int {
        try #require(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
    }

    @Test func aNearlyFullMapDoublesAndKeepsItsData() throws {
        try withTemporaryDirectory { path in
            let env = try Environment(path: path, options: Self.growable)
            let db = try env.openDatabase("test")
            let written = try Self.fill(env, db, prefix: "k", untilShare: 0.5)
            #expect(try env.growMapIfNeeded() == .notNeeded, "below 80%")
            let more = try Self.fill(env, db, prefix: "k", untilShare: Environment.growthThreshold, from: written)
            #expect(try env.growMapIfNeeded() == .grown(from: 2 * Self.mib, to: 4 * Self.mib))
            #expect(env.mapSize == 4 * Self.mib)
            // MDB_WRITEMAP: the file follows the map (sparse).
            #expect(try Self.fileSize(path + "/data.mdb") == 4 * Self.mib)
            // Past what the old map could hold.
            let total = try Self.fill(env, db, prefix: "k", untilShare: 0.75, from: more)
            #expect(env.usedBytes() > 2 * Self.mib)
            let sampled = stride(from: 0, to: total, by: 97).map { $0 }
            let values = try env.read { txn in
                try sampled.map { index throws in try txn.get(db, key: bytes("k\(index)")).map(Array.init) }
            }
            for (index, value) in zip(sampled, values) {
                #expect(value == [UInt8](repeating: UInt8(index & 0xFF), count: 1024), "k\(index)")
            }
            env.close()
            // Reopened with the first size, LMDB keeps at least what is used.
            let again = try Environment(path: path, options: Self.growable)
            defer { again.close() }
            let reopened = try again.openDatabase("test")
            // Not full: a grown store gets its headroom back at open.
            #expect(Double(again.usedBytes()) < Double(again.mapSize) * Environment.growthThreshold)
            #expect(try again.remap(to: 1 << 20), "a smaller size counts as done")
            #expect(again.mapSize > 1 << 20, "and changes nothing")
            #expect(try again.read { txn in try txn.count(reopened) } == total)
        }
    }

    @Test func aFixedMapNeverGrows() throws {
        try withTestEnvironment(options: .init(mapSize: 2 << 20)) { env, db in
            _ = try Self.fill(env, db, prefix: "k", untilShare: 0.9)
            #expect(try env.growMapIfNeeded() == .notNeeded)
            #expect(try env.growMapIfNeeded(whenFull: true) == .notNeeded)
            #expect(env.mapSize == 2 * Self.mib)
        }
    }

    @Test func aMapInUseIsNotRemapped() throws {
        try withTestEnvironment(options: Self.growable) { env, db in
            _ = try Self.fill(env, db, prefix: "k", untilShare: 0.9)
            // A reader's pointers into the map would dangle: LMDB remaps only when none is open.
            let outcome = try env.read { txn in
                _ = try txn.get(db, key: bytes("k0"))
                return try env.growMapIfNeeded()
            }
            #expect(outcome == .busy)
            #expect(env.mapSize == 2 * Self.mib)
            #expect(try env.growMapIfNeeded() == .grown(from: 2 * Self.mib, to: 4 * Self.mib))
        }
    }

    @Test func readersOnOtherThreadsNeverSeeTheMapMove() throws {
        try withTestEnvironment(options: Self.growable) { env, db in
            try env.write { txn in try txn.put(db, key: bytes("fixed"), value: [UInt8](repeating: 7, count: 3000)) }
            let stop = ManagedAtomicFlag()
            let readers = (0..<2).map { _ in
                let thread = ReaderThread {
                    var reads = 0
                    while !stop.isSet {
                        // Zero-copy: the bytes are compared where they lie in the map.
                        let key = bytes("fixed")
                        let intact = try env.read { txn in
                            try key.withUnsafeBytes { key in
                                try txn.get(db, key: key).map { $0.count == 3000 && $0.allSatisfy { $0 == 7 } } ?? false
                            }
                        }
                        guard intact else { throw TestFailure() }
                        reads += 1
                    }
                    return reads
                }
                thread.start()
                return thread
            }
            var grown = 0
            var written = 0
            while env.mapSize < 32 * Self.mib {
                written = try Self.fill(env, db, prefix: "k", untilShare: 0.85, from: written)
                if case .grown = try env.growMapIfNeeded() { grown += 1 }
            }
            stop.set()
            let reads = try readers.map { try $0.join() }
            #expect(grown >= 4)
            #expect(reads.allSatisfy { $0 > 0 })
            #expect(try env.read { txn in try txn.count(db) } == written + 1)
        }
    }

    @Test func theLimitStopsGrowth() throws {
        var options = Self.growable
        options.maxMapSize = 3 << 20
        try withTestEnvironment(options: options) { env, db in
            _ = try Self.fill(env, db, prefix: "k", untilShare: 0.9)
            // Up to the limit, then no further.
            #expect(try env.growMapIfNeeded() == .grown(from: 2 * Self.mib, to: 3 * Self.mib))
            _ = try Self.fill(env, db, prefix: "j", untilShare: 0.9)
            guard case .noRoom(let mapSize, let maxMapSize, _) = try env.growMapIfNeeded(whenFull: true) else {
                Issue.record("expected noRoom")
                return
            }
            #expect(mapSize == 3 * Self.mib && maxMapSize == 3 * Self.mib)
        }
    }

    @Test func aWriteRefusedByAFullMapFitsOnceItGrew() throws {
        try withTestEnvironment(options: Self.growable) { env, db in
            let value = [UInt8](repeating: 0xCD, count: 4096)
            var index = 0
            var full: LMDBError?
            while full == nil {
                do {
                    try env.write { txn in try txn.put(db, key: bytes("v\(index)"), value: value) }
                    index += 1
                } catch let error as LMDBError {
                    full = error
                }
            }
            #expect(full?.isMapFull == true)
            #expect(try env.growMapIfNeeded(whenFull: true) == .grown(from: 2 * Self.mib, to: 4 * Self.mib))
            try env.write { txn in try txn.put(db, key: bytes("v\(index)"), value: value) }
            #expect(try env.read { txn in try txn.count(db) } == index + 1)
        }
    }

    /// Writes ~6 MiB since the base (made empty at the first open), three times the first map,
    /// growing the map as it goes, then closes as a crash would; returns the values written.
    static func writeGrowingThenCrash(_ path: String) throws -> Int {
        let env = try Environment(path: path, options: growable)
        let db = try env.openDatabase("test")
        var total = 0
        while total < 6 * 1024 {
            total = try fill(env, db, prefix: "k", untilShare: 0.5, from: total)
            while case .grown = try env.growMapIfNeeded(whenFull: true), env.usedBytes() > env.mapSize / 2 {}
        }
        #expect(env.mapSize > 4 * mib)
        env.closeWithoutCheckpoint()
        return total
    }

    @Test func recoveryGrowsTheMapToReplayTheJournal() throws {
        try withTemporaryDirectory { path in
            let total = try Self.writeGrowingThenCrash(path)

            // Opened as after a crash, with the first map size: the replay grows the map as it goes.
            let again = try Environment(path: path, options: Self.growable)
            defer { again.close() }
            #expect(again.recoveredTransactions > 0)
            let reopened = try again.openDatabase("test")
            #expect(try again.read { txn in try txn.count(reopened) } == total)
        }
    }

    @Test func recoveryWithAFixedMapTooSmallForTheJournalFails() throws {
        try withTemporaryDirectory { path in
            let total = try Self.writeGrowingThenCrash(path)
            var fixed = Self.growable
            fixed.maxMapSize = nil
            // Refused, not half replayed: the folder still recovers once the map may grow.
            #expect(throws: LMDBError.self) { _ = try Environment(path: path, options: fixed) }
            let again = try Environment(path: path, options: Self.growable)
            defer { again.close() }
            let reopened = try again.openDatabase("test")
            #expect(try again.read { txn in try txn.count(reopened) } == total)
        }
    }
}

/// A flag set once, read from other threads.
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

/// A thread running `body` once, whose result `join` waits for.
final class ReaderThread: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<Int, any Error> = .success(0)
    private let body: () throws -> Int

    init(_ body: @escaping () throws -> Int) { self.body = body }

    func start() {
        Thread {
            self.result = Result { try self.body() }
            self.done.signal()
        }.start()
    }

    func join() throws -> Int {
        done.wait()
        return try result.get()
    }
}
