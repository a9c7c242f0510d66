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
