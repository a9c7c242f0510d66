import BadgeTestSupport
import Foundation
import Testing

@_spi(Testing) @testable import LMDB

/// The write-ahead journal: whatever state a crash leaves the files in, reopening finds every
/// committed transaction and nothing else.
@Suite struct JournalTests {
    /// No automatic checkpoints: the tests decide exactly which state is durable.
    static let manual = Environment.Options(mapSize: 4 << 20, checkpointBytes: 1 << 40)

    /// Puts, overwrites and deletes, so that pages are freed and reused.
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

    /// Opens the folder, commits each pair in a transaction of its own, and stops as a crash would.
    static func crash(_ path: String, afterCommitting pairs: [(String, String)]) throws {
        let env = try Environment(path: path, options: manual)
        let db = try env.openDatabase("test")
        for (key, value) in pairs { try env.write { txn in try txn.put(db, key, value) } }
        env.closeWithoutCheckpoint()
    }

    /// The newest journal segment's URL.
    static func lastSegment(_ path: String) throws -> URL {
        URL(fileURLWithPath: path + "/" + (try segments(path).last!))
    }

    /// The byte ranges of a segment's whole records. Segments are made full of zeros and written in
    /// place, so a torn write is imitated by overwriting bytes, not by cutting the file.
    static func recordRanges(_ url: URL) throws -> [Range<Int>] {
        let bytes = Array(try Data(contentsOf: url))
        return bytes.withUnsafeBytes { raw in
            JournalFiles.records(raw, from: SegmentHeader.size).records.map {
                ($0.mutations.lowerBound - MutationRecorder.recordHeaderSize - MutationRecorder.bodyHeaderSize)..<$0
                    .mutations.upperBound
            }
        }
    }

    static func overwrite(_ url: URL, at offset: Int, with bytes: [UInt8]) throws {
        let handle = try FileHandle(forUpdating: url)
        try handle.seek(toOffset: UInt64(offset))
        try handle.write(contentsOf: Data(bytes))
        try handle.close()
    }

    static func segments(_ path: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).filter {
            $0.hasPrefix("journal-") && $0.hasSuffix(".log")
        }.sorted()
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

    @Test func putsThroughOneCursorAreStoredJournaledAndReplayed() throws {
        try withTemporaryDirectory { path in
            // Out of order, one key twice (its last value wins), keys that are prefixes of others,
            // and a key already stored (replaced).
            let entries: [(String, String)] = [
                ("b2", "one"), ("a", "two"), ("b", "three"), ("b2", "four"), ("ab", "five"), ("kept", "new"),
                ("c", "six"),
            ]
            let expected = ["a": "two", "ab": "five", "b": "three", "b2": "four", "c": "six", "kept": "new"]
            do {
                let env = try Environment(path: path, options: Self.manual)
                let db = try env.openDatabase("test")
                try env.write { txn in try txn.put(db, "kept", "old") }
                try env.write { txn in
                    try txn.put(db, entries: entries.map { (key: bytes($0.0), value: bytes($0.1)) })
                }
                #expect(try Self.contents(env, db) == expected)
                env.closeWithoutCheckpoint()
            }
            let env = try Environment(path: path, options: Self.manual)
            defer { env.close() }
            #expect(env.recoveredTransactions == 2)
            #expect(try Self.contents(env, try env.openDatabase("test")) == expected)
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

    /// A power cut persists any subset of the page writes made to `data.mdb` (LMDB runs without
    /// syncs), so recovery must not trust it at all: whatever it holds, the base and the journal
    /// bring back exactly what was committed.
    @Test(arguments: ["garbage", "empty", "as of the last checkpoint", "newest", "mix"])
    func recoversWhateverAPowerCutLeavesInTheDataFile(image: String) throws {
        try withTemporaryDirectory { path in
            var model: [String: String] = [:]
            let checkpointed: [UInt8]
            let newest: [UInt8]
            let dataURL = URL(fileURLWithPath: path + "/data.mdb")
            do {
                let env = try Environment(path: path, options: Self.manual)
                let db = try env.openDatabase("test")
                try Self.churn(env, db, round: 1, model: &model)
                try env.checkpoint()
                checkpointed = Array(try Data(contentsOf: dataURL))
                for round in 2...4 { try Self.churn(env, db, round: round, model: &model) }
                env.closeWithoutCheckpoint()
                newest = Array(try Data(contentsOf: dataURL))
            }
            var random = SplitMix64(state: 7)
            let crashed: [UInt8]
            switch image {
            case "garbage": crashed = (0..<newest.count).map { _ in UInt8.random(in: 0...255, using: &random) }
            case "empty": crashed = []
            case "as of the last checkpoint": crashed = checkpointed
            case "newest": crashed = newest
            default:
                let pageSize = 4096
                crashed = (0..<(newest.count / pageSize)).flatMap { page in
                    let range = (page * pageSize)..<((page + 1) * pageSize)
                    return Bool.random(using: &random) || checkpointed.count < range.upperBound
                        ? Array(newest[range]) : Array(checkpointed[range])
                }
            }
            try Data(crashed).write(to: dataURL)

            let env = try Environment(path: path, options: Self.manual)
            defer { env.close() }
            #expect(env.recoveredTransactions == 60)
            #expect(try Self.contents(env, try env.openDatabase("test")) == model)
        }
    }

    @Test func aPartialLastRecordIsDroppedAndEverythingBeforeItKept() throws {
        try withTemporaryDirectory { path in
            try Self.crash(path, afterCommitting: [("first", "1"), ("second", "2")])
            let segment = try Self.lastSegment(path)
            try Self.overwrite(segment, at: try Self.recordRanges(segment).last!.upperBound - 3, with: [0, 0, 0])

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
            try Self.crash(path, afterCommitting: [("first", "1"), ("second", "2")])
            let name = try Self.segments(path).last!
            var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path + "/" + name)))
            let firstRecord = SegmentHeader.size
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
            try Self.crash(path, afterCommitting: [("kept", "1")])
            // Append by hand what `Journal.commit` writes when a commit fails after journaling,
            // followed by the retry that did commit.
            let recorder = MutationRecorder()
            recorder.register(dbi: 7, name: "test")
            var tail: [UInt8] = []
            "ghost".utf8.withContiguousStorageIfAvailable { key in
                recorder.put(7, key: UnsafeRawBufferPointer(key), value: UnsafeRawBufferPointer(key))
            }
            tail += recorder.seal(sequence: 1000)
            recorder.reset()
            tail += recorder.seal(kind: JournalRecord.Kind.cancel.rawValue, sequence: 1000)
            recorder.reset()
            "retried".utf8.withContiguousStorageIfAvailable { key in
                recorder.put(7, key: UnsafeRawBufferPointer(key), value: UnsafeRawBufferPointer(key))
            }
            tail += recorder.seal(sequence: 1001)
            let segment = try Self.lastSegment(path)
            try Self.overwrite(segment, at: try Self.recordRanges(segment).last!.upperBound, with: tail)

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
                let env = try Environment(path: path, options: .init(mapSize: 4 << 20, checkpointBytes: 8 << 10))
                let db = try env.openDatabase("test")
                for round in 1...5 { try Self.churn(env, db, round: round, model: &model) }
                #expect(env.completedCheckpoints > 1)
                // The live segment and at most one whose checkpoint is still running.
                #expect(try Self.segments(path).count <= 2)
                env.closeWithoutCheckpoint()
            }
            try Data("junk".utf8).write(to: URL(fileURLWithPath: path + "/data.mdb"))
            let env = try Environment(path: path, options: Self.manual)
            defer { env.close() }
            #expect(try Self.contents(env, try env.openDatabase("test")) == model)
        }
    }

    @Test func aLargeBaseWaitsForAsMuchJournalBeforeTheNextCheckpoint() throws {
        try withTemporaryDirectory { path in
            let env = try Environment(path: path, options: .init(mapSize: 16 << 20, checkpointBytes: 8 << 10))
            defer { env.close() }
            let db = try env.openDatabase("test")
            func write(_ prefix: String, _ count: Int) throws {
                for index in 0..<count {
                    try env.write { txn in
                        try txn.put(db, key: bytes("\(prefix)\(index)"), value: [UInt8](repeating: 7, count: 1000))
                    }
                }
            }
            // ~1 MB of data, then a checkpoint now (it waits for any running one): a ~1 MB base.
            try write("a", 1000)
            try env.checkpoint()
            let copied = env.completedCheckpoints
            var info = stat()
            #expect(stat(path + "/journal-base.mdb", &info) == 0 && info.st_size > 1_000_000)
            // ~250 KB more: far past checkpointBytes, but less than the base holds.
            try write("b", 250)
            Thread.sleep(forTimeInterval: 0.2)
            #expect(env.completedCheckpoints == copied)
            // Once the journal since the base outgrows the base, the next write asks for one.
            try write("c", 2000)
            for _ in 0..<500 where env.completedCheckpoints == copied { Thread.sleep(forTimeInterval: 0.01) }
            #expect(env.completedCheckpoints == copied + 1)
        }
    }

    @Test func journalLeftByCleanRunsStillCountsTowardsTheNextCheckpoint() throws {
        try withTemporaryDirectory { path in
            let options = Environment.Options(mapSize: 4 << 20, checkpointBytes: 16 << 10)
            let value = [UInt8](repeating: 9, count: 6 << 10)
            for run in 0..<3 {
                let env = try Environment(path: path, options: options)
                let db = try env.openDatabase("test")
                try env.write { txn in try txn.put(db, key: bytes("run\(run)"), value: value) }
                env.close()
            }
            // 18 KiB of journal over three clean runs: the fourth run's first write asks for a checkpoint.
            let env = try Environment(path: path, options: options)
            defer { env.close() }
            let db = try env.openDatabase("test")
            try env.write { txn in try txn.put(db, "last", "1") }
            for _ in 0..<200 where env.completedCheckpoints == 0 { Thread.sleep(forTimeInterval: 0.01) }
            #expect(env.completedCheckpoints == 1)
            #expect(try Self.segments(path).count == 1)
        }
    }

    @Test func aFailedCheckpointKeepsWritesGoingAndTheNextOneSucceeds() throws {
        try withTemporaryDirectory { path in
            var model: [String: String] = [:]
            let env = try Environment(path: path, options: .init(mapSize: 4 << 20, checkpointBytes: 8 << 10))
            defer { env.close() }
            let db = try env.openDatabase("test")
            let blocker = try Self.blockBaseCopies(path)
            try Self.churn(env, db, round: 1, model: &model)
            for _ in 0..<200 where env.checkpointFailure == nil { Thread.sleep(forTimeInterval: 0.01) }
            #expect(env.checkpointFailure != nil)
            #expect(env.completedCheckpoints == 1)  // only the one made at open
            try FileManager.default.removeItem(atPath: blocker)
            try Self.churn(env, db, round: 2, model: &model)
            for _ in 0..<200 where env.completedCheckpoints == 1 { Thread.sleep(forTimeInterval: 0.01) }
            #expect(env.completedCheckpoints > 1)
            #expect(try Self.contents(env, db) == model)
        }
    }

    /// A checkpoint threshold well above the base of `writeKiBs` (ten keys overwritten again and
    /// again), so it is what decides when checkpoints are due.
    static let smallBase = Environment.Options(
        mapSize: 4 << 20, checkpointBytes: 64 << 10, journalSegmentBytes: 1 << 20)

    /// Makes the next segment's creation fail: a directory where its temporary file goes.
    /// Returns the current (last) segment's name and the blocker's path.
    static func blockNextSegment(_ path: String) throws -> (current: String, blocker: String) {
        let current = try segments(path).last!
        let next = UInt64(current.dropFirst(8).prefix(16), radix: 16)! + 1
        let blocker = path + "/" + JournalFiles.name(next) + ".tmp"
        try FileManager.default.createDirectory(atPath: blocker, withIntermediateDirectories: false)
        return (current, blocker)
    }

    /// Makes every base copy in `path` fail until the returned path is removed: a directory where
    /// the copy's temporary file goes.
    static func blockBaseCopies(_ path: String) throws -> String {
        let blocker = path + "/journal-base.mdb.tmp"
        try FileManager.default.createDirectory(atPath: blocker, withIntermediateDirectories: false)
        return blocker
    }

    /// An environment in `path` (`smallBase`) after `kib` ~1 KiB writes and an
    /// `Environment.checkpoint()` whose base copy failed; copies work again afterwards.
    static func afterAFailedCheckpointNow(_ path: String, writingKiBs kib: Int) throws -> (Environment, Database) {
        let env = try Environment(path: path, options: smallBase)
        do {
            let db = try env.openDatabase("test")
            let blocker = try blockBaseCopies(path)
            try writeKiBs(env, db, kib)
            #expect(throws: LMDBError.self) { try env.checkpoint() }
            #expect(env.checkpointFailure != nil)
            try FileManager.default.removeItem(atPath: blocker)
            return (env, db)
        } catch {
            env.close()
            throw error
        }
    }

    /// Commits `count` transactions of ~1 KiB of journal each.
    static func writeKiBs(_ env: Environment, _ db: Database, _ count: Int) throws {
        for index in 0..<count {
            try env.write { txn in
                try txn.put(db, key: bytes("k\(index % 10)"), value: [UInt8](repeating: 7, count: 1000))
            }
        }
    }

    /// A failed checkpoint keeps the old base and every segment, so a crash would still replay all
    /// of them: the next checkpoint must come once the journal since the last base actually made
    /// reaches the threshold, not a whole threshold after the failed attempt.
    @Test func afterAFailedCheckpointTheJournalItKeptStillCounts() throws {
        try withTemporaryDirectory { path in
            let env = try Environment(path: path, options: Self.smallBase)
            defer { env.close() }
            let db = try env.openDatabase("test")
            let blocker = try Self.blockBaseCopies(path)
            // ~64 KiB: the write that asks for a checkpoint starts a segment; its copy then fails.
            let before = try Self.segments(path).count
            var asked = 0
            while try Self.segments(path).count == before && asked < 200 {
                try Self.writeKiBs(env, db, 1)
                asked += 1
            }
            #expect((60...70).contains(asked))
            for _ in 0..<200 where env.checkpointFailure == nil { Thread.sleep(forTimeInterval: 0.01) }
            #expect(env.checkpointFailure != nil)
            #expect(env.completedCheckpoints == 1)  // only the one made at open
            // Not retried on the very next writes: a copy that keeps failing would otherwise start
            // a segment and copy the whole store on every write.
            try Self.writeKiBs(env, db, 8)
            #expect(try Self.segments(path).count == before + 1)
            // ~24 KiB after the failed attempt, far less than the threshold, but ~88 KiB since the base.
            try FileManager.default.removeItem(atPath: blocker)
            try Self.writeKiBs(env, db, 16)
            for _ in 0..<300 where env.completedCheckpoints == 1 { Thread.sleep(forTimeInterval: 0.01) }
            #expect(env.completedCheckpoints == 2)
            #expect(try Self.segments(path).count == 1)
            // The journal the new base covers stopped counting: the next checkpoint waits for a
            // whole threshold again.
            try Self.writeKiBs(env, db, 40)
            Thread.sleep(forTimeInterval: 0.2)
            #expect(env.completedCheckpoints == 2)
            try Self.writeKiBs(env, db, 30)
            for _ in 0..<300 where env.completedCheckpoints == 2 { Thread.sleep(forTimeInterval: 0.01) }
            #expect(env.completedCheckpoints == 3)
        }
    }

    /// The same for a checkpoint asked for directly (`Environment.checkpoint()`).
    @Test func afterAFailedCheckpointNowTheJournalItKeptStillCounts() throws {
        try withTemporaryDirectory { path in
            let (env, db) = try Self.afterAFailedCheckpointNow(path, writingKiBs: 40)
            defer { env.close() }
            // ~70 KiB since the base, ~30 KiB since the failed checkpoint.
            try Self.writeKiBs(env, db, 30)
            for _ in 0..<300 where env.completedCheckpoints == 1 { Thread.sleep(forTimeInterval: 0.01) }
            #expect(env.completedCheckpoints == 2)
        }
    }

    @Test func aCheckpointNowThatSucceedsClearsAnEarlierFailure() throws {
        try withTemporaryDirectory { path in
            let (env, _) = try Self.afterAFailedCheckpointNow(path, writingKiBs: 8)
            defer { env.close() }
            try env.checkpoint()
            #expect(env.checkpointFailure == nil)
        }
    }

    @Test func writesFromSeveralThreadsAllReplayInCommitOrder() throws {
        try withTemporaryDirectory { path in
            do {
                let env = try Environment(path: path, options: .init(mapSize: 4 << 20, checkpointBytes: 16 << 10))
                let db = try env.openDatabase("test")
                DispatchQueue.concurrentPerform(iterations: 4) { thread in
                    for index in 0..<100 {
                        // The shared key ends with the last committed value; each thread's own keys must all be there.
                        try? env.write { txn in
                            try txn.put(db, "t\(thread)-\(index)", "\(index)")
                            try txn.put(db, "shared", "t\(thread)-\(index)")
                        }
                    }
                }
                let expected = try Self.contents(env, db)
                env.closeWithoutCheckpoint()
                try Data("junk".utf8).write(to: URL(fileURLWithPath: path + "/data.mdb"))
                let reopened = try Environment(path: path, options: Self.manual)
                defer { reopened.close() }
                #expect(expected.count == 401)
                #expect(try Self.contents(reopened, try reopened.openDatabase("test")) == expected)
            }
        }
    }

    @Test func aMissingSegmentBetweenOthersRefusesToOpen() throws {
        try withTemporaryDirectory { path in
            try Self.crash(path, afterCommitting: [("first", "1")])
            let last = try Self.segments(path).last!
            let number = UInt64(last.dropFirst(8).prefix(16), radix: 16)!
            let skipped = SegmentHeader(number: number + 2, previousSequence: 0)
            let name = String(format: "journal-%016llx.log", number + 2)
            try Data(skipped.encoded).write(to: URL(fileURLWithPath: path + "/" + name))
            let error = try #require(throws: LMDBError.self) { try Environment(path: path, options: Self.manual) }
            #expect(error.description.contains("is missing between two segments"))
        }
    }

    /// A checkpoint removes the segments its base covers; a crash part way through used to leave an
    /// older one behind a gap (reusable segments were renamed away first, smaller ones unlinked
    /// after), and reopening refused the folder as a segment gone missing.
    @Test func anOldSegmentLeftBehindAGapByACheckpointIsPassedOver() throws {
        try withTemporaryDirectory { path in
            var stale: (name: String, bytes: Data)?
            do {
                let env = try Environment(path: path, options: Self.manual)
                let db = try env.openDatabase("test")
                for index in 0..<10 { try env.write { txn in try txn.put(db, "a\(index)", "1") } }
                let name = try Self.segments(path).last!
                stale = (name, try Data(contentsOf: URL(fileURLWithPath: path + "/" + name)))
                try env.checkpoint()
                for index in 0..<10 { try env.write { txn in try txn.put(db, "b\(index)", "2") } }
                try env.checkpoint()
                for index in 0..<10 { try env.write { txn in try txn.put(db, "c\(index)", "3") } }
                env.closeWithoutCheckpoint()
            }
            let (name, bytes) = try #require(stale)
            #expect(!(try Self.segments(path).contains(name)))
            try bytes.write(to: URL(fileURLWithPath: path + "/" + name))
            let numbers = try Self.segments(path).map { UInt64($0.dropFirst(8).prefix(16), radix: 16)! }
            #expect(numbers.count == 2 && numbers[1] > numbers[0] + 1, "a gap: \(numbers)")
            let env = try Environment(path: path, options: Self.manual)
            defer { env.close() }
            #expect(env.recoveredTransactions == 10)
            let all = try Self.contents(env, try env.openDatabase("test"))
            #expect(all.count == 30)
            #expect(all["a0"] == "1" && all["b9"] == "2" && all["c9"] == "3")
            // The recovery's own checkpoint removed the stale segment.
            #expect(!(try Self.segments(path).contains(name)))
        }
    }

    @Test func aSegmentThatCannotBeCreatedDelaysTheCheckpointButNotTheWrites() throws {
        try withTemporaryDirectory { path in
            var model: [String: String] = [:]
            let env = try Environment(path: path, options: .init(mapSize: 4 << 20, checkpointBytes: 8 << 10))
            defer { env.close() }
            let db = try env.openDatabase("test")
            let (current, blocker) = try Self.blockNextSegment(path)
            try Self.churn(env, db, round: 1, model: &model)
            #expect(env.checkpointFailure != nil)
            #expect(try Self.segments(path) == [current])
            try FileManager.default.removeItem(atPath: blocker)
            try Self.churn(env, db, round: 2, model: &model)
            for _ in 0..<200 where env.completedCheckpoints == 1 { Thread.sleep(forTimeInterval: 0.01) }
            #expect(env.completedCheckpoints > 1)
            #expect(try Self.contents(env, db) == model)
        }
    }

    @Test func aSegmentThatCannotBeCreatedIsNotRetriedOnEveryWrite() throws {
        try withTemporaryDirectory { path in
            let env = try Environment(path: path, options: Self.smallBase)
            defer { env.close() }
            let db = try env.openDatabase("test")
            _ = try Self.blockNextSegment(path)
            // ~64 KiB makes a checkpoint due; its segment cannot be made. 15 KiB more is under a
            // quarter threshold (16 KiB): no second attempt.
            try Self.writeKiBs(env, db, 64 + 15)
            #expect(env.checkpointFailure != nil)
            #expect(env.startedCheckpoints == 1)
            // Past the quarter, it is tried again.
            try Self.writeKiBs(env, db, 4)
            #expect(env.startedCheckpoints == 2)
        }
    }

    /// A base larger than the shrink step replaces the old one, and segments that large are
    /// dropped, through trash links freed in steps; none is left behind, and a crash's leftover
    /// trash goes at the next open.
    @Test func largeFilesAreFreedInStepsAndLeaveNoTrash() throws {
        try withTemporaryDirectory { path in
            let large = Environment.Options(mapSize: 64 << 20, checkpointBytes: 1 << 40)
            var expected: [String: String] = [:]
            do {
                let env = try Environment(path: path, options: large)
                let db = try env.openDatabase("test")
                // ~12 MiB of values: a base and a segment past the 8 MiB step.
                let value = String(repeating: "x", count: 3000)
                for batch in 0..<40 {
                    try env.write { txn in
                        for index in 0..<100 {
                            let key = "k\(batch)-\(index)"
                            try txn.put(db, key, value + key)
                            expected[key] = value + key
                        }
                    }
                }
                try env.checkpoint()
                try env.write { txn in try txn.put(db, "after", "first checkpoint") }
                expected["after"] = "first checkpoint"
                try env.checkpoint()
                let names = try FileManager.default.contentsOfDirectory(atPath: path)
                #expect(!names.contains { $0.contains("trash") }, "\(names)")
                #expect(try Self.contents(env, db) == expected)
                env.close()
            }
            // Trash a crash left behind is removed at the next open.
            #expect(
                FileManager.default.createFile(
                    atPath: path + "/journal-trash-journal-base.mdb.tmp", contents: Data([1, 2])))
            let env = try Environment(path: path, options: large)
            defer { env.close() }
            let db = try env.openDatabase("test")
            #expect(try Self.contents(env, db) == expected)
            #expect(!FileManager.default.fileExists(atPath: path + "/journal-trash-journal-base.mdb.tmp"))
        }
    }

    @Test func parkingKeepsTheFileUntilItIsShrunkAndUnlinked() throws {
        try withTemporaryDirectory { path in
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            let big = path + "/journal-0000000000000009.log"
            #expect(FileManager.default.createFile(atPath: big, contents: Data(count: 20 << 20)))
            let small = path + "/journal.clean"
            #expect(FileManager.default.createFile(atPath: small, contents: Data(count: 10)))
            #expect(JournalFiles.parkIfLarge(small, directory: path) == nil)
            let trash = try #require(JournalFiles.parkIfLarge(big, directory: path))
            #expect(trash.hasSuffix(".tmp") && trash.contains("/journal-trash-"))
            // The same file under two names: unlinking the original frees nothing.
            #expect(unlink(big) == 0)
            let size = try FileManager.default.attributesOfItem(atPath: trash)[.size] as? Int
            #expect(size == 20 << 20)
            JournalFiles.shrinkAndUnlink(trash)
            #expect(!FileManager.default.fileExists(atPath: trash))
        }
    }

    @Test func segmentsLeftWithoutABaseMeanTheDataFileIsAuthoritative() throws {
        // What a crash leaves while a sync-mode open removes the journal (base first), or during
        // the very first base copy of a folder.
        try withTemporaryDirectory { path in
            do {
                let env = try Environment(path: path, options: Self.manual)
                let db = try env.openDatabase("test")
                try env.write { txn in try txn.put(db, "k", "v") }
                env.close()
            }
            try FileManager.default.removeItem(atPath: path + "/journal.clean")
            try FileManager.default.removeItem(atPath: path + "/journal-base.mdb")
            let env = try Environment(path: path, options: Self.manual)
            defer { env.close() }
            #expect(env.recoveredTransactions == 0)
            let db = try env.openDatabase("test")
            #expect(try env.read { txn in try txn.get(db, "k") } == "v")
        }
    }

    /// Two crashes in a row, the first with nothing to replay: the journal's numbering must carry
    /// on from the base (LMDB's own txnids restart when a compacting copy is restored).
    @Test func secondCrashAfterARecoveryThatReplayedNothingLosesNothing() throws {
        try withTemporaryDirectory { path in
            do {
                let env = try Environment(path: path, options: Self.manual)
                let db = try env.openDatabase("test")
                for index in 0..<30 { try env.write { txn in try txn.put(db, "a\(index)", "1") } }
                try env.checkpoint()
                env.closeWithoutCheckpoint()
            }
            do {
                let env = try Environment(path: path, options: Self.manual)
                #expect(env.recoveredTransactions == 0)
                let db = try env.openDatabase("test")
                for index in 0..<10 { try env.write { txn in try txn.put(db, "b\(index)", "2") } }
                env.closeWithoutCheckpoint()
            }
            try Data("junk".utf8).write(to: URL(fileURLWithPath: path + "/data.mdb"))
            let env = try Environment(path: path, options: Self.manual)
            defer { env.close() }
            #expect(env.recoveredTransactions == 10)
            let db = try env.openDatabase("test")
            let all = try Self.contents(env, db)
            #expect(all.count == 40)
            #expect(all["b9"] == "2")
        }
    }

    @Test func aTornTailFollowedByAnEmptySegmentStillRecovers() throws {
        try withTemporaryDirectory { path in
            try Self.crash(path, afterCommitting: [("first", "1"), ("second", "2")])
            let last = try Self.segments(path).last!
            // Cut short as a growing segment (an older version's) would be.
            let handle = try FileHandle(forUpdating: try Self.lastSegment(path))
            try handle.truncate(
                atOffset: UInt64(try Self.recordRanges(try Self.lastSegment(path)).last!.upperBound - 3))
            try handle.close()
            // A crash in the next start's checkpoint, right after it began a new segment.
            let next = String(format: "journal-%016llx.log", UInt64(last.dropFirst(8).prefix(16), radix: 16)! + 1)
            let header = SegmentHeader(
                number: UInt64(last.dropFirst(8).prefix(16), radix: 16)! + 1, previousSequence: 0)
            try Data(header.encoded).write(to: URL(fileURLWithPath: path + "/" + next))

            let env = try Environment(path: path, options: Self.manual)
            defer { env.close() }
            let db = try env.openDatabase("test")
            #expect(env.recoveredTransactions == 1)
            #expect(try env.read { txn in try txn.get(db, "first") } == "1")
        }
    }

    @Test func zerosAfterTheLastRecordAreATornWriteNotDamage() throws {
        try withTemporaryDirectory { path in
            try Self.crash(path, afterCommitting: [("first", "1")])
            let handle = try FileHandle(forUpdating: try Self.lastSegment(path))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(repeating: 0, count: 300))
            try handle.close()
            let env = try Environment(path: path, options: Self.manual)
            defer { env.close() }
            #expect(env.recoveredTransactions == 1)
            let db = try env.openDatabase("test")
            #expect(try env.read { txn in try txn.get(db, "first") } == "1")
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
            let env = try Environment(path: path, options: .init(mapSize: 4 << 20, durability: .syncEachCommit))
            defer { env.close() }
            #expect(env.recoveredTransactions == 20)
            #expect(try Self.contents(env, try env.openDatabase("test")) == model)
            #expect(try Self.segments(path).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: path + "/journal-base.mdb"))
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

}
