import Foundation
import Testing

@_spi(Testing) @testable import LMDB

/// The write-ahead journal: whatever state a crash leaves the files in, reopening finds every
/// committed transaction and nothing else.
@Suite struct JournalTests {
    /// No automatic checkpoints: the tests decide exactly which state is durable.
    static let manual = Environment.Options(
        mapSize: 64 << 20, checkpointInterval: .seconds(3600), checkpointBytes: 1 << 40)

    /// Puts, overwrites and deletes, so that pages are freed and (without the pin) would be reused.
    static func churn(_ env: Environment, _ db: Database, round: Int, model: inout [String: String]) throws {
        for batch in 0..<20 {
            try env.write { txn in
                for index in 0..<50 {
                    let key = "k\((round * 7 + batch * 13 + index * 31) % 400)"
                    if (index + batch) % 5 == 0 {
                        try txn.delete(db, key: bytes(key))
                        model[key] = nil
                    } else {
                        let value = "r\(round)-b\(batch)-" + String(repeating: "v", count: 40 + index * 3)
                        try txn.put(db, key, value)
                        model[key] = value
                    }
                }
            }
        }
    }

    static func contents(_ env: Environment, _ db: Database) throws -> [String: String] {
        try env.read { txn in
            try txn.withCursor(db) { cursor in
                var all: [String: String] = [:]
                try cursor.forEach(prefix: []) { key, value in
                    all[string(key)] = string(value)
                    return true
                }
                return all
            }
        }
    }

    static func segments(_ path: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasPrefix("journal-") }.sorted()
    }

    @Test func aCrashAfterCommitsReplaysThemAll() throws {
        try withTemporaryDirectory { path in
            var model: [String: String] = [:]
            do {
                let env = try Environment(path: path, options: Self.manual)
                let db = try env.openDatabase("test")
                try Self.churn(env, db, round: 1, model: &model)
                env.closeWithoutCheckpoint()
            }
            let env = try Environment(path: path, options: Self.manual)
            defer { env.close() }
            #expect(env.recoveredTransactions == 20)
            #expect(try Self.contents(env, try env.openDatabase("test")) == model)
            #expect(try Self.segments(path).count == 1)
        }
    }

    @Test func aCleanCloseLeavesNothingToReplay() throws {
        try withTemporaryDirectory { path in
            var model: [String: String] = [:]
            do {
                let env = try Environment(path: path, options: Self.manual)
                try Self.churn(env, try env.openDatabase("test"), round: 1, model: &model)
                env.close()
            }
            let env = try Environment(path: path, options: Self.manual)
            defer { env.close() }
            #expect(env.recoveredTransactions == 0)
            #expect(try Self.contents(env, try env.openDatabase("test")) == model)
        }
    }

    /// A power cut persists any subset of the page writes made since the last checkpoint (each page
    /// whole). The journal must recover from every such image: here all-new meta pages over the
    /// checkpointed data (LMDB alone would open a tree whose pages never reached the disk), the
    /// newest file, and random mixes.
    @Test(arguments: ["new metas over old pages", "newest file", "mix 1", "mix 2", "mix 3"])
    func recoversFromAnyDiskImageAPowerCutCanLeave(image: String) throws {
        try withTemporaryDirectory { path in
            var model: [String: String] = [:]
            let durable: [UInt8]
            let newest: [UInt8]
            do {
                let env = try Environment(path: path, options: Self.manual)
                let db = try env.openDatabase("test")
                try Self.churn(env, db, round: 1, model: &model)
                try env.checkpoint()
                durable = Array(try Data(contentsOf: URL(fileURLWithPath: path + "/data.mdb")))
                for round in 2...4 { try Self.churn(env, db, round: round, model: &model) }
                env.closeWithoutCheckpoint()
                newest = Array(try Data(contentsOf: URL(fileURLWithPath: path + "/data.mdb")))
            }
            let pageSize = 4096
            var crashed: [UInt8]
            switch image {
            case "new metas over old pages":
                crashed = durable
                crashed.replaceSubrange(0..<(2 * pageSize), with: newest[0..<(2 * pageSize)])
            case "newest file":
                crashed = newest
            default:
                var random = SeededRandom(seed: UInt64(image.utf8.last!))
                crashed = Bool.random(using: &random) ? newest : durable
                let pages = max(newest.count, durable.count) / pageSize
                crashed.append(contentsOf: repeatElement(0, count: max(0, pages * pageSize - crashed.count)))
                for page in 0..<pages where Bool.random(using: &random) {
                    let range = (page * pageSize)..<((page + 1) * pageSize)
                    let source = Bool.random(using: &random) ? newest : durable
                    if source.count >= range.upperBound { crashed.replaceSubrange(range, with: source[range]) }
                }
            }
            try Data(crashed).write(to: URL(fileURLWithPath: path + "/data.mdb"))

            let env = try Environment(path: path, options: Self.manual)
            defer { env.close() }
            #expect(env.recoveredTransactions == 60)
            #expect(try Self.contents(env, try env.openDatabase("test")) == model)
        }
    }

    @Test func aPartialLastRecordIsDroppedAndEverythingBeforeItKept() throws {
        try withTemporaryDirectory { path in
            do {
                let env = try Environment(path: path, options: Self.manual)
                let db = try env.openDatabase("test")
                try env.write { txn in try txn.put(db, "first", "1") }
                try env.write { txn in try txn.put(db, "second", "2") }
                env.closeWithoutCheckpoint()
            }
            let segment = path + "/" + (try Self.segments(path).last!)
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: segment))
            let size = try handle.seekToEnd()
            try handle.truncate(atOffset: size - 3)
            try handle.close()

            let env = try Environment(path: path, options: Self.manual)
            defer { env.close() }
            let db = try env.openDatabase("test")
            #expect(env.recoveredTransactions == 1)
            #expect(try env.read { txn in try txn.get(db, "first") } == "1")
            #expect(try env.read { txn in try txn.get(db, "second") } == nil)
        }
    }

    @Test func aDamagedRecordBeforeTheEndRefusesToOpenAndNamesTheSegment() throws {
        try withTemporaryDirectory { path in
            do {
                let env = try Environment(path: path, options: Self.manual)
                let db = try env.openDatabase("test")
                try env.write { txn in try txn.put(db, "first", "1") }
                try env.write { txn in try txn.put(db, "second", "2") }
                env.closeWithoutCheckpoint()
            }
            let name = try Self.segments(path).last!
            var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path + "/" + name)))
            let firstRecord = bytes.withUnsafeBytes { SegmentHeader.decode($0)!.size }
            bytes[firstRecord + 20] ^= 0xFF
            try Data(bytes).write(to: URL(fileURLWithPath: path + "/" + name))

            let error = try #require(throws: LMDBError.self) { try Environment(path: path, options: Self.manual) }
            #expect(error.description.contains(name))
            #expect(error.description.contains("damaged record at byte \(firstRecord)"))
            // Nothing was replayed or removed: the files are as the crash left them.
            #expect(try Self.segments(path) == [name])
        }
    }

    @Test func aTransactionCancelledAfterJournalingIsNotReplayed() throws {
        try withTemporaryDirectory { path in
            do {
                let env = try Environment(path: path, options: Self.manual)
                let db = try env.openDatabase("test")
                try env.write { txn in try txn.put(db, "kept", "1") }
                env.closeWithoutCheckpoint()
            }
            // Append by hand what `Journal.commit` writes when a commit fails after journaling,
            // followed by the retry that did commit.
            let recorder = MutationRecorder()
            recorder.register(dbi: 7, name: "test")
            var tail: [UInt8] = []
            "ghost".utf8.withContiguousStorageIfAvailable { key in
                recorder.put(7, key: UnsafeRawBufferPointer(key), value: UnsafeRawBufferPointer(key))
            }
            tail += recorder.seal(txnid: 1000)
            recorder.reset()
            tail += recorder.seal(kind: JournalRecord.Kind.cancel.rawValue, txnid: 1000)
            recorder.reset()
            "retried".utf8.withContiguousStorageIfAvailable { key in
                recorder.put(7, key: UnsafeRawBufferPointer(key), value: UnsafeRawBufferPointer(key))
            }
            tail += recorder.seal(txnid: 1000)
            let segment = path + "/" + (try Self.segments(path).last!)
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: segment))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(tail))
            try handle.close()

            let env = try Environment(path: path, options: Self.manual)
            defer { env.close() }
            let db = try env.openDatabase("test")
            #expect(env.recoveredTransactions == 2)
            #expect(try env.read { txn in try txn.get(db, "kept") } == "1")
            #expect(try env.read { txn in try txn.get(db, "ghost") } == nil)
            #expect(try env.read { txn in try txn.get(db, "retried") } == "retried")
        }
    }

    @Test func checkpointsRunByThemselvesAndDropOldSegments() throws {
        try withTemporaryDirectory { path in
            var model: [String: String] = [:]
            do {
                let options = Environment.Options(
                    mapSize: 64 << 20, checkpointInterval: .milliseconds(1), checkpointBytes: 8 << 10)
                let env = try Environment(path: path, options: options)
                let db = try env.openDatabase("test")
                for round in 1...5 { try Self.churn(env, db, round: round, model: &model) }
                #expect(env.completedCheckpoints > 0)
                // The live segment and at most one whose checkpoint is still running.
                #expect(try Self.segments(path).count <= 2)
                env.closeWithoutCheckpoint()
            }
            let env = try Environment(path: path, options: Self.manual)
            defer { env.close() }
            #expect(try Self.contents(env, try env.openDatabase("test")) == model)
        }
    }

    @Test func reopeningWithoutAJournalStillReplaysTheOneLeftBehind() throws {
        try withTemporaryDirectory { path in
            var model: [String: String] = [:]
            do {
                let env = try Environment(path: path, options: Self.manual)
                try Self.churn(env, try env.openDatabase("test"), round: 1, model: &model)
                env.closeWithoutCheckpoint()
            }
            let env = try Environment(path: path, options: .init(mapSize: 64 << 20, durability: .syncEachCommit))
            defer { env.close() }
            #expect(env.recoveredTransactions == 20)
            #expect(try Self.contents(env, try env.openDatabase("test")) == model)
            #expect(try Self.segments(path).isEmpty)
        }
    }

    @Test func aSecondOpenOfTheSameFolderIsRefused() throws {
        try withTemporaryDirectory { path in
            let env = try Environment(path: path, options: Self.manual)
            defer { env.close() }
            let error = try #require(throws: LMDBError.self) { try Environment(path: path, options: Self.manual) }
            #expect(error.code == EBUSY)
            #expect(error.description.contains("already open"))
        }
    }

    @Test func mapFullWhileSnapshotsArePinnedCheckpointsAndRetries() throws {
        // Without the retry, pinned pages would fill this small map long before the data does.
        try withTestEnvironment(options: .init(mapSize: 256 << 10, checkpointInterval: .seconds(3600))) { env, db in
            let value = [UInt8](repeating: 1, count: 512)
            for round in 0..<400 {
                try env.write { txn in try txn.put(db, key: bytes("k\(round % 20)"), value: value) }
            }
            #expect(env.completedCheckpoints > 0)
            #expect(try env.read { txn in try txn.count(db) } == 20)
        }
    }
}

/// SplitMix64: reproducible randomness for the crash images.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
