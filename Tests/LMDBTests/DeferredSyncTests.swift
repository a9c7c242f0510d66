import BadgeTestSupport
import Foundation
import Testing

@_spi(Testing) @testable import LMDB

/// `write(syncingLater:)`: the commit is visible at once and durable only once its journal
/// record's sync is done; the journal never writes a record while an earlier one is unsynced.
@Suite struct DeferredSyncTests {
    @Test("a deferred commit is visible at once, durable after its sync, and the next record waits for it")
    func visibleThenDurable() throws {
        try withTemporaryDirectory { path in
            let env = try Environment(path: path, options: JournalTests.manual)
            defer { env.close() }
            let db = try env.openDatabase("test")
            let hold = SyncHold()
            hold.install(on: env)

            let ticket = try env.write(syncingLater: true) { txn in try txn.put(db, "a", "1") }.ticket
            #expect(!env.isSynced(ticket))
            #expect(try env.read { try $0.get(db, "a") } == "1")

            // A second write, on its own thread: its record must not be written before the first is synced.
            let finished = Finished()
            let writer = Thread {
                try? env.write { txn in try txn.put(db, "b", "2") }
                finished.set()
            }
            writer.start()
            Thread.sleep(forTimeInterval: 0.2)
            #expect(!finished.isSet)
            #expect(!env.isSynced(ticket))

            hold.release(on: env)
            try env.waitUntilSynced(ticket)
            #expect(env.isSynced(ticket))
            #expect(finished.wait(seconds: 30))
            #expect(try env.read { try $0.get(db, "b") } == "2")
            #expect(hold.entered.load(ordering: .relaxed) == 1)
        }
    }

    @Test("a failed deferred sync refuses every later write, and a restart recovers what was synced")
    func failedSyncStopsTheJournal() throws {
        try withTemporaryDirectory { path in
            do {
                let env = try Environment(path: path, options: JournalTests.manual)
                let db = try env.openDatabase("test")
                try env.write { txn in try txn.put(db, "kept", "yes") }
                SyncHold.failSyncs(of: env, with: EIO)
                let ticket = try env.write(syncingLater: true) { txn in try txn.put(db, "maybe", "1") }.ticket
                #expect(throws: LMDBError.self) { try env.waitUntilSynced(ticket) }
                #expect(!env.isSynced(ticket))
                #expect(env.syncFailure?.code == EIO)
                let refused = #expect(throws: LMDBError.self) {
                    try env.write { txn in try txn.put(db, "after", "1") }
                }
                #expect(refused?.operation.contains("restart to recover") == true)
                env.close()
            }
            let env = try Environment(path: path, options: JournalTests.manual)
            defer { env.close() }
            let db = try env.openDatabase("test")
            #expect(try env.read { try $0.get(db, "kept") } == "yes")
            #expect(try env.read { try $0.get(db, "after") } == nil)
            try env.write { txn in try txn.put(db, "again", "1") }
        }
    }

    @Test("a checkpoint waits for a deferred sync, and its base then survives a crash")
    func checkpointWaitsForTheSync() throws {
        try withTemporaryDirectory { path in
            do {
                let env = try Environment(path: path, options: JournalTests.manual)
                let db = try env.openDatabase("test")
                let hold = SyncHold()
                hold.install(on: env)
                let ticket = try env.write(syncingLater: true) { txn in try txn.put(db, "x", "1") }.ticket
                let before = env.completedCheckpoints
                let finished = Finished()
                let checkpointer = Thread {
                    try? env.checkpoint()
                    finished.set()
                }
                checkpointer.start()
                Thread.sleep(forTimeInterval: 0.2)
                #expect(!finished.isSet)
                #expect(env.completedCheckpoints == before)
                hold.release(on: env)
                #expect(finished.wait(seconds: 30))
                #expect(env.isSynced(ticket))
                #expect(env.completedCheckpoints == before + 1)
                env.closeWithoutCheckpoint()
            }
            let env = try Environment(path: path, options: JournalTests.manual)
            defer { env.close() }
            let db = try env.openDatabase("test")
            #expect(try env.read { try $0.get(db, "x") } == "1")
        }
    }

    @Test("a checkpoint under way when a commit's own sync fails ends with an error instead of waiting forever")
    func checkpointDuringAFailedInlineSync() throws {
        try withTemporaryDirectory { path in
            let env = try Environment(path: path, options: JournalTests.manual)
            let db = try env.openDatabase("test")
            try env.write { txn in try txn.put(db, "kept", "yes") }
            let entered = Finished()
            let failNow = DispatchSemaphore(value: 0)
            env.setBeforeInlineSync {
                entered.set()
                failNow.wait()
                return EIO
            }
            // A commit that syncs its record itself: written, then its sync fails.
            let writer = Thread { _ = try? env.write { txn in try txn.put(db, "lost", "1") } }
            writer.start()
            #expect(entered.wait(seconds: 30))
            // The checkpoint starts before the failure, and waits for the write lock the commit holds.
            let checkpointed = Finished()
            let checkpointer = Thread {
                _ = try? env.checkpoint()
                checkpointed.set()
            }
            checkpointer.start()
            Thread.sleep(forTimeInterval: 0.2)
            failNow.signal()
            let ended = checkpointed.wait(seconds: 30)
            #expect(ended)
            // A checkpoint that never ends hangs the close too: then the environment is left open.
            if ended { env.close() }
        }
    }

    @Test("a deferred commit LMDB refuses leaves one unsynced record at most: a crash then still opens")
    func refusedDeferredCommitThenCrash() throws {
        try withTemporaryDirectory { path in
            var options = JournalTests.manual
            options.mapSize = 1 << 20
            var lastKept = ""
            var refused: [String] = []
            do {
                let env = try Environment(path: path, options: options)
                let db = try env.openDatabase("test")
                // The process dies at the first sync the writer makes itself (after a refused
                // commit): what it would have synced may reach the disk in part, in any order.
                env.setBeforeInlineSync { EIO }
                // Fills the map until LMDB refuses a commit (MDB_MAP_FULL saving its free list).
                var random = SplitMix64(state: 3)
                var live: [Int] = []
                var next = 0
                while refused.isEmpty && next < 10_000 {
                    let deleting = !live.isEmpty && Int.random(in: 0..<8, using: &random) == 0
                    let count = Int.random(in: 1...6, using: &random)
                    let size = Int.random(in: 1_500...3_000, using: &random)
                    let keys = deleting ? Array(live.prefix(count)) : Array(next..<(next + count))
                    do {
                        _ = try env.write(syncingLater: true) { txn in
                            for key in keys {
                                if deleting {
                                    _ = try txn.delete(db, key: Array("k\(key)".utf8))
                                } else {
                                    try txn.put(db, "k\(key)", String(repeating: "v", count: size))
                                }
                            }
                        }
                        if deleting {
                            live.removeFirst(keys.count)
                        } else {
                            live += keys
                            next += count
                            lastKept = "k\(keys.last!)"
                        }
                    } catch let error as LMDBError where error.operation.hasPrefix("mdb_txn_commit") {
                        refused = deleting ? [] : keys.map { "k\($0)" }
                        break
                    } catch {}
                }
                #expect(!refused.isEmpty)
                env.closeWithoutCheckpoint()
            }
            // A page in the middle of the refused transaction's record never reached the disk.
            let segment = try JournalTests.lastSegment(path)
            let record = try #require(try JournalTests.recordRanges(segment).last { $0.count > 2 * 4096 })
            let page = (record.lowerBound / 4096 + 1) * 4096
            try JournalTests.overwrite(segment, at: page, with: [UInt8](repeating: 0, count: 4096))

            let env = try Environment(path: path, options: options)
            defer { env.close() }
            let db = try env.openDatabase("test")
            #expect(try env.read { try $0.get(db, lastKept) } != nil)
            for key in refused { #expect(try env.read { try $0.get(db, key) } == nil) }
        }
    }

    @Test("a deferred commit without a journal is durable at once")
    func withoutJournal() throws {
        var options = JournalTests.manual
        options.durability = .syncEachCommit
        try withTestEnvironment(options: options) { env, db in
            let ticket = try env.write(syncingLater: true) { txn in try txn.put(db, "a", "1") }.ticket
            #expect(env.isSynced(ticket))
            try env.waitUntilSynced(ticket)
        }
    }
}
