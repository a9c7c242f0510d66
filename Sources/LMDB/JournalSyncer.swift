import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Syncs the journal's newest record on a thread of its own, so that the writer that committed it
/// can build its next transaction meanwhile (`Environment.write(syncingLater:_:)`).
///
/// One record is synced at a time, and the journal writes its next record only once the sync
/// before it is done (`waitIdle`): no record is ever written while an earlier one is unsynced, so
/// a crash still leaves at most one unsynced record, the last (what recovery's reading of a
/// segment's end relies on: `JournalFormat.swift`).
final class JournalSyncer: @unchecked Sendable {
    // @unchecked: everything below is guarded by `condition` except the two atomics.
    private let condition = NSCondition()
    private var request: (fd: Int32, name: String, sequence: UInt64)?
    private var failure: LMDBError?
    private var stopping = false
    private var running = false
    private var observer: (@Sendable () -> Void)?
    private var beforeSync: (@Sendable () -> Int32)?
    private var beforeInlineSync: (@Sendable () -> Int32)?
    /// The highest journal sequence known to be on disk.
    private let synced = Atomic<UInt64>(0)
    /// The highest journal sequence written (synced or not), set before its transaction commits.
    private let written = Atomic<UInt64>(0)

    /// Starts the thread; every record up to `sequence` is on disk already.
    func start(syncedThrough sequence: UInt64) {
        synced.store(sequence, ordering: .releasing)
        written.store(sequence, ordering: .relaxed)
        condition.withLock { running = true }
        let thread = Thread { [self] in run() }
        thread.name = "lmdb-journal-sync"
        thread.start()
    }

    /// Runs after every sync (and after a failed one), on the sync thread.
    func setObserver(_ observer: (@Sendable () -> Void)?) {
        condition.withLock { self.observer = observer }
    }

    /// For tests: runs on the sync thread before each sync it makes, and may block; a non-zero
    /// result fails that sync with this errno instead.
    func setBeforeSync(_ hook: (@Sendable () -> Int32)?) {
        condition.withLock { beforeSync = hook }
    }

    /// For tests: `setBeforeSync` for the syncs the writer makes itself (`syncInline`).
    func setBeforeInlineSync(_ hook: (@Sendable () -> Int32)?) {
        condition.withLock { beforeInlineSync = hook }
    }

    /// Syncs a record on the calling thread (a commit that does not sync later, a cancel record).
    func syncInline(_ fd: Int32, _ name: String) throws(LMDBError) {
        if let hook = condition.withLock({ beforeInlineSync }) {
            let injected = hook()
            if injected != 0 { throw LMDBError(code: injected, operation: "fdatasync(\(name))") }
        }
        try JournalFiles.syncData(fd, name)
    }

    /// The journal failed on the writer's side (a record's write or its inline sync): records
    /// written but not synced never will be, so nothing may wait for them (`waitSynced`).
    func fail(_ error: LMDBError) {
        condition.withLock {
            if failure == nil { failure = error }
            condition.broadcast()
        }
    }

    /// Why a sync failed, once one has: the journal then takes no more writes.
    var failed: LMDBError? { condition.withLock { failure } }

    func isSynced(_ sequence: UInt64) -> Bool {
        synced.load(ordering: .acquiring) >= sequence
    }

    var writtenSequence: UInt64 { written.load(ordering: .acquiring) }

    /// Records that `sequence` was written (before its transaction commits).
    func noteWritten(_ sequence: UInt64) {
        written.store(sequence, ordering: .releasing)
    }

    /// Records that the writer synced everything up to `sequence` itself.
    func noteSynced(_ sequence: UInt64) {
        noteWritten(sequence)
        condition.withLock {
            synced.store(max(synced.load(ordering: .relaxed), sequence), ordering: .releasing)
            condition.broadcast()
        }
    }

    /// Has record `sequence`, just written to `fd`, synced on the sync thread. Call `waitIdle`
    /// before writing the next record.
    func requestSync(fd: Int32, name: String, sequence: UInt64) {
        condition.withLock {
            precondition(request == nil, "one journal sync at a time")
            request = (fd, name, sequence)
            condition.broadcast()
        }
    }

    /// Waits until no sync is in flight; throws if one failed (then nothing may be written again).
    func waitIdle() throws(LMDBError) {
        let failure = condition.withLock {
            while request != nil { condition.wait() }
            return self.failure
        }
        if let failure { throw failure }
    }

    /// Waits until every record up to `sequence` is on disk; throws if a sync failed first.
    func waitSynced(through sequence: UInt64) throws(LMDBError) {
        let failure = condition.withLock {
            while synced.load(ordering: .relaxed) < sequence && self.failure == nil { condition.wait() }
            return synced.load(ordering: .relaxed) >= sequence ? nil : self.failure
        }
        if let failure { throw failure }
    }

    /// Finishes the sync in flight, if any, and stops the thread.
    func stop() {
        condition.withLock {
            while request != nil { condition.wait() }
            stopping = true
            condition.broadcast()
            while running { condition.wait() }
        }
    }

    private func run() {
        while true {
            let next: (fd: Int32, name: String, sequence: UInt64, hook: (@Sendable () -> Int32)?)? =
                condition.withLock {
                    while request == nil && !stopping { condition.wait() }
                    guard let request else { return nil }
                    return (request.fd, request.name, request.sequence, beforeSync)
                }
            guard let next else { break }
            var error: LMDBError?
            let injected = next.hook?() ?? 0
            if injected != 0 {
                error = LMDBError(code: injected, operation: "fdatasync(\(next.name))")
            } else {
                do throws(LMDBError) {
                    try JournalFiles.syncData(next.fd, next.name)
                } catch let failed {
                    error = failed
                }
            }
            let observer = condition.withLock {
                if let error {
                    if failure == nil { failure = error }
                } else {
                    synced.store(next.sequence, ordering: .releasing)
                }
                request = nil
                condition.broadcast()
                return self.observer
            }
            observer?()
        }
        condition.withLock {
            running = false
            condition.broadcast()
        }
    }
}
