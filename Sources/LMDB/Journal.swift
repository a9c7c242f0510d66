internal import CLMDB
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The write-ahead journal of one environment (format and reasoning: `JournalFormat.swift`).
///
/// Segment state is touched only while LMDB's write lock is held (`beforeWrite`, `commit`,
/// `rotate`), so one write transaction at a time. The checkpoint thread shares only what
/// `condition` guards. Hence `@unchecked Sendable`.
final class Journal: @unchecked Sendable {
    let directory: String
    let recorder = MutationRecorder()
    private let env: OpaquePointer
    private let dataFD: Int32
    private let pageSize: Int
    private let interval: Duration
    private let maxSegmentBytes: Int

    // Under LMDB's write lock.
    private var segmentFD: Int32 = -1
    private var segmentNumber: UInt64
    private var segmentBytes = 0
    private var headerBytes = 0
    private var lastRotation = ContinuousClock.now

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var failure: LMDBError?
    /// The segment whose base is waiting to be made durable by the checkpoint thread.
    private var job: UInt64?
    /// A checkpoint is queued or running (on the thread or in `checkpointNow`): no new rotation.
    private var inProgress = false
    /// Read transactions pinning the base snapshot of each live segment, by segment number.
    private var pins: [(segment: UInt64, reader: OpaquePointer)] = []
    private var stopping = false
    private var threadDone = false
    private var checkpoints = 0

    init(
        directory: String, env: OpaquePointer, lastSegment: UInt64, interval: Duration, maxSegmentBytes: Int
    ) throws(LMDBError) {
        self.directory = directory
        self.env = env
        self.segmentNumber = lastSegment
        self.interval = interval
        self.maxSegmentBytes = maxSegmentBytes
        var fd: Int32 = -1
        try check(mdb_env_get_fd(env, &fd), "mdb_env_get_fd")
        self.dataFD = fd
        var stat = MDB_stat()
        try check(mdb_env_stat(env, &stat), "mdb_env_stat")
        self.pageSize = Int(stat.ms_psize)
    }

    /// Starts the first segment from the current, fully synced state and removes `oldSegments`
    /// (already replayed), then starts the checkpoint thread.
    func start(removing oldSegments: [UInt64]) throws(LMDBError) {
        try check(mdb_env_sync(env, 1), "mdb_env_sync")
        try withWriteLock { () throws(LMDBError) in try rotate(handToCheckpointer: false) }
        try Self.remove(oldSegments, in: directory)
        let thread = Thread { [self] in runCheckpoints() }
        thread.name = "lmdb-checkpoint"
        thread.start()
    }

    // MARK: - Writes (under LMDB's write lock)

    /// Called right after a write transaction begins: refuses writes once the journal has failed,
    /// and starts a new segment when the current one is due for a checkpoint.
    func beforeWrite() throws(LMDBError) {
        let (failure, idle) = condition.withLock { (self.failure, !inProgress) }
        if let failure { throw failure }
        recorder.reset()
        guard idle, segmentBytes > headerBytes else { return }
        if segmentBytes >= maxSegmentBytes || ContinuousClock.now - lastRotation >= interval {
            do throws(LMDBError) {
                try rotate(handToCheckpointer: true)
            } catch {
                fail(error)
                throw error
            }
        }
    }

    /// Journals the transaction's mutations (append + fdatasync), then commits it. Nothing is visible
    /// to readers before it is durable. On failure the transaction is gone (committed or aborted).
    func commit(_ txn: OpaquePointer) throws(LMDBError) {
        guard recorder.hasMutations else {
            try check(mdb_txn_commit(txn), "mdb_txn_commit")
            return
        }
        let txnid = UInt64(mdb_txn_id(txn))
        let record = recorder.seal(txnid: txnid)
        do throws(LMDBError) {
            try append(record)
        } catch {
            mdb_txn_abort(txn)
            // What reached the file is unknown: a later record after a torn one would be lost on
            // replay, so the journal takes no more writes until a restart recovers it.
            fail(error)
            throw error
        }
        let rc = mdb_txn_commit(txn)
        guard rc == MDB_SUCCESS else {
            recorder.reset()
            do throws(LMDBError) {
                try append(recorder.seal(kind: JournalRecord.Kind.cancel.rawValue, txnid: txnid))
            } catch {
                fail(error)
            }
            recorder.mapFull = rc == MDB_MAP_FULL
            throw LMDBError(code: rc, operation: "mdb_txn_commit")
        }
    }

    private func append(_ record: [UInt8]) throws(LMDBError) {
        try record.withBytes { raw throws(LMDBError) in
            try JournalFiles.writeAll(segmentFD, raw, JournalFiles.name(segmentNumber))
        }
        segmentBytes += record.count
        try JournalFiles.syncData(segmentFD, JournalFiles.name(segmentNumber))
    }

    /// Starts segment `segmentNumber + 1` based on the last committed snapshot, which a new read
    /// transaction pins. Written under a temporary name and renamed, so a segment file is whole.
    @discardableResult
    private func rotate(handToCheckpointer: Bool) throws(LMDBError) -> UInt64 {
        var reader: OpaquePointer?
        try check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &reader), "mdb_txn_begin(journal base)")
        guard let reader else { throw LMDBError(code: EINVAL, operation: "mdb_txn_begin(journal base)") }
        do throws(LMDBError) {
            let base = UInt64(mdb_txn_id(reader))
            let header = SegmentHeader(
                number: segmentNumber + 1, baseTxnid: base,
                metaPage: try MetaPage.read(fd: dataFD, pageSize: pageSize, txnid: base))
            let fd = try createSegment(header)
            if segmentFD >= 0 { close(segmentFD) }
            segmentFD = fd
            segmentNumber = header.number
            headerBytes = header.encoded.count
            segmentBytes = headerBytes
            lastRotation = .now
        } catch {
            mdb_txn_abort(reader)
            throw error
        }
        condition.withLock {
            pins.append((segmentNumber, reader))
            if handToCheckpointer {
                inProgress = true
                job = segmentNumber
                condition.broadcast()
            }
        }
        return segmentNumber
    }

    private func createSegment(_ header: SegmentHeader) throws(LMDBError) -> Int32 {
        let path = directory + "/" + JournalFiles.name(header.number)
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LMDBError(code: errno, operation: "open(\(temporary))") }
        do throws(LMDBError) {
            try header.encoded.withBytes { raw throws(LMDBError) in
                try JournalFiles.writeAll(fd, raw, temporary)
            }
            try JournalFiles.syncData(fd, temporary)
            guard rename(temporary, path) == 0 else {
                throw LMDBError(code: errno, operation: "rename(\(temporary))")
            }
            try JournalFiles.syncDirectory(directory)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        return fd
    }

    // MARK: - Checkpoints

    /// Makes everything committed so far durable in LMDB itself and drops the journal before it.
    /// Waits for a checkpoint already running. Used at close and by tests.
    func checkpointNow() throws(LMDBError) {
        condition.withLock {
            while inProgress { condition.wait() }
            inProgress = true
        }
        defer {
            condition.withLock {
                inProgress = false
                condition.broadcast()
            }
        }
        var segment: UInt64 = 0
        try withWriteLock { () throws(LMDBError) in
            if let failure = condition.withLock({ failure }) { throw failure }
            segment = try rotate(handToCheckpointer: false)
        }
        try checkpoint(upTo: segment)
    }

    /// The checkpoint thread: waits for a rotated segment and makes its base durable.
    private func runCheckpoints() {
        while true {
            let next: UInt64? = condition.withLock {
                while job == nil && !stopping { condition.wait() }
                defer { job = nil }
                return job
            }
            guard let segment = next else { break }
            do throws(LMDBError) {
                try checkpoint(upTo: segment)
            } catch {
                fail(error)
            }
            condition.withLock {
                inProgress = false
                condition.broadcast()
            }
        }
        condition.withLock {
            threadDone = true
            condition.broadcast()
        }
    }

    /// Syncs LMDB (which flushes the base of `segment` and everything before), then removes the
    /// older segments and releases the snapshots they pinned.
    private func checkpoint(upTo segment: UInt64) throws(LMDBError) {
        try check(mdb_env_sync(env, 1), "mdb_env_sync(checkpoint)")
        let older = condition.withLock { pins.filter { $0.segment < segment } }
        try Self.remove(older.map(\.segment), in: directory)
        condition.withLock {
            pins.removeAll { $0.segment < segment }
            checkpoints += 1
        }
        // Only now may LMDB reuse the pages of those snapshots.
        for pin in older { mdb_txn_abort(pin.reader) }
    }

    /// Number of completed checkpoints (for tests).
    var completedCheckpoints: Int { condition.withLock { checkpoints } }

    /// Live segment numbers (for tests).
    var liveSegments: [UInt64] { condition.withLock { pins.map(\.segment) } }

    private func fail(_ error: LMDBError) {
        condition.withLock {
            if failure == nil {
                failure = LMDBError(
                    code: error.code,
                    operation: "journal unusable after an I/O error, restart to recover (\(error.operation))")
            }
        }
    }

    /// Stops the checkpoint thread; with `finalCheckpoint`, first leaves LMDB synced with one empty
    /// segment so the next start has nothing to replay. Releases every pinned snapshot.
    func shutdown(finalCheckpoint: Bool) {
        condition.withLock {
            while inProgress { condition.wait() }
            stopping = true
            condition.broadcast()
            while !threadDone { condition.wait() }
        }
        if finalCheckpoint, condition.withLock({ failure == nil }) {
            try? checkpointNow()
        }
        let readers = condition.withLock {
            defer { pins.removeAll() }
            return pins.map(\.reader)
        }
        for reader in readers { mdb_txn_abort(reader) }
        if segmentFD >= 0 {
            close(segmentFD)
            segmentFD = -1
        }
    }

    /// Runs `body` while holding LMDB's write lock, through an empty write transaction.
    private func withWriteLock(_ body: () throws(LMDBError) -> Void) throws(LMDBError) {
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, 0, &txn), "mdb_txn_begin(journal)")
        defer { mdb_txn_abort(txn) }
        try body()
    }

    static func remove(_ segments: [UInt64], in directory: String) throws(LMDBError) {
        guard !segments.isEmpty else { return }
        for segment in segments {
            let path = directory + "/" + JournalFiles.name(segment)
            if unlink(path) != 0 && errno != ENOENT { throw LMDBError(code: errno, operation: "unlink(\(path))") }
        }
        try JournalFiles.syncDirectory(directory)
    }
}
