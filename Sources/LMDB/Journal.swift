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
/// `rotate`), so by one write transaction at a time. The checkpoint thread shares only what
/// `condition` guards. Hence `@unchecked Sendable`.
final class Journal: @unchecked Sendable {
    let directory: String
    let recorder = MutationRecorder()
    /// Held from a write transaction's begin until its record (and any cancel record) is appended.
    /// LMDB's own write lock is not enough: a failed `mdb_txn_commit` releases it before the cancel
    /// record is written. Taken before LMDB's lock, always.
    let writerLock = NSLock()
    /// Held while a checkpoint copies the map into a base (`mdb_env_copyfd2`, which reads it outside
    /// any `Environment` transaction), so that `Environment.remap` never moves the map underneath it.
    let mapInUse = NSLock()
    private let env: OpaquePointer
    private let checkpointBytes: Int
    private var markerDatabase: MDB_dbi = 0
    /// The next journal sequence number (under the write lock).
    private var nextSequence: UInt64 = 1

    // Under LMDB's write lock.
    private var segmentFD: Int32 = -1
    private var segmentNumber: UInt64
    /// The current segment's size, fixed when it was made, and where its next record goes.
    private var segmentSize = 0
    private var writeOffset = 0
    /// The sequence of the last record journaled: the next segment's header names it, so recovery
    /// can tell that an older segment holds every record it should.
    private var lastJournaled: UInt64 = 0
    /// The preparer was asked for a spare while this segment is current.
    private var spareAsked = false
    private let preparer: SegmentPreparer
    /// Journal bytes the current base does not cover: every segment no checkpoint has yet removed,
    /// which is what a crash would replay and what triggers the next checkpoint. Only a checkpoint
    /// that succeeds lowers it (through `coveredBytes`): a failed one leaves the old base and every
    /// segment in place, so they still count, and the next checkpoint is due one threshold after
    /// the last base that was made, not a whole threshold after the failed attempt.
    private var bytesSinceBase = 0

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var failure: LMDBError?
    /// A checkpoint is queued or running (on the thread or in `checkpointNow`).
    private var inProgress = false
    /// The segment a checkpoint thread should copy a base for (the one just started), and the
    /// journal bytes before it (`rotateForCheckpoint`).
    private var requested: (segment: UInt64, olderBytes: Int)?
    private var stopping = false
    private var threadDone = false
    private var checkpoints = 0
    private var lastCheckpointFailure: LMDBError?
    /// The size of the current base: the next checkpoint waits for at least as much journal.
    private var baseBytes = 0
    /// Journal bytes a successful checkpoint's base covers, not yet taken off `bytesSinceBase`:
    /// only the write lock's holder changes that, and the checkpoint thread does not hold it.
    private var coveredBytes = 0
    /// After a failed checkpoint, the `bytesSinceBase` the next one also waits for: a quarter of a
    /// threshold past the failed attempt, so that a copy that keeps failing (say, a full disk) is
    /// not retried, each time with a new segment, on every write. 0 otherwise.
    private var retryBytes = 0
    /// Checkpoints `beforeWrite` claimed, for tests.
    private var startedCheckpoints = 0

    /// A segment the writer has to make itself (none ready) is at most this large, so that wait stays
    /// short (~6 ms for 1 MiB here, against ~100 ms for 32 MiB).
    static let fallbackSegmentBytes = 1 << 20
    /// Room kept after every record for the cancel record a failed commit appends, so that a record
    /// and its cancel are always in the same segment.
    static let cancelSize = MutationRecorder.recordHeaderSize + MutationRecorder.bodyHeaderSize

    init(directory: String, env: OpaquePointer, lastSegment: UInt64, checkpointBytes: Int, segmentBytes: Int) {
        self.directory = directory
        self.env = env
        self.segmentNumber = lastSegment
        self.checkpointBytes = checkpointBytes
        self.preparer = SegmentPreparer(directory: directory, size: segmentBytes)
    }

    /// Starts a new segment and the checkpoint thread. With `newBase` (a fresh folder, or right
    /// after a recovery) first copies a base and drops every older segment, so that the journal
    /// never mixes records from before and after a replay.
    func start(newBase: Bool) throws(LMDBError) {
        do throws(LMDBError) {
            try startSegments(newBase: newBase)
        } catch {
            // The environment fails to open: the segment this got as far as starting is not leaked.
            if segmentFD >= 0 {
                close(segmentFD)
                segmentFD = -1
            }
            throw error
        }
        preparer.start()
        let thread = Thread { [self] in
            nameCurrentThread("lmdb-checkpoint")
            runCheckpoints()
        }
        thread.start()
    }

    private func startSegments(newBase: Bool) throws(LMDBError) {
        markerDatabase = try SequenceMarker.open(env)
        lastJournaled = try SequenceMarker.read(env)
        nextSequence = lastJournaled + 1
        // Never into an old segment: after a recovery its tail may hold an unsynced write.
        if newBase {
            try checkpoint()
        } else {
            noteBaseSize()
            // The existing segments still count towards the next checkpoint, by their sizes. A
            // clean close cut the last one to its records; older ones may still end in zeros, which
            // only brings the next checkpoint forward.
            let existing = try JournalFiles.segments(in: directory).reduce(0) { total, segment in
                var info = stat()
                return total + (stat(directory + "/" + JournalFiles.name(segment), &info) == 0 ? Int(info.st_size) : 0)
            }
            _ = try withWriteLock { () throws(LMDBError) in try rotate(fitting: 0) }
            bytesSinceBase += existing
        }
    }

    // MARK: - Writes (under LMDB's write lock)

    /// Called right after a write transaction begins: refuses writes once the journal has failed,
    /// and asks for a checkpoint once the journal since the base holds `checkpointBytes` and at
    /// least as many bytes as the base itself. A checkpoint copies the whole store, so with a fixed
    /// interval its cost grew with the store: at 600 MB, a copy every 128 MiB of journal wrote
    /// ~5x more than the journal did, in bursts that stalled the journal's syncs. Sized by the
    /// base, copies write at most as much as the journal, and a crash replays at most about one
    /// base's worth of journal (a quarter more after a failed checkpoint: `retryBytes`).
    func beforeWrite() throws(LMDBError) {
        let (failure, claimed) = condition.withLock {
            takeCoveredBytes()
            let due = bytesSinceBase >= max(checkpointBytes, baseBytes, retryBytes)
            // Claimed here, before rotating, so that `checkpointNow` cannot run a second one.
            let claim = due && !inProgress && self.failure == nil
            if claim {
                inProgress = true
                startedCheckpoints += 1
            }
            return (self.failure, claim)
        }
        if let failure { throw failure }
        recorder.reset()
        guard claimed else { return }
        // Rotating here, while this thread holds the write lock anyway: a checkpoint thread
        // waiting for that lock could starve behind a busy writer.
        do throws(LMDBError) {
            let started = try rotateForCheckpoint()
            condition.withLock {
                requested = started
                condition.broadcast()
            }
        } catch {
            // Nothing changed (the new segment file is whole or absent): keep writing to the
            // current segment, and try again once a quarter threshold more has built up, as after a
            // failed copy. On a full disk every retry costs this write a segment's creation (~6 ms
            // for 1 MiB here): retrying on every write would add that to each commit.
            condition.withLock {
                lastCheckpointFailure = error
                retryBytes = bytesSinceBase + max(checkpointBytes, baseBytes) / 4
                inProgress = false
                condition.broadcast()
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
        // A record that does not fit goes into the next segment, with room for a cancel after it.
        let needed = recorder.bytes.count + Self.cancelSize
        if writeOffset + needed > segmentSize {
            do throws(LMDBError) {
                try rotate(fitting: needed)
            } catch {
                // Nothing was written: the current segment stays, and later writes may still fit.
                mdb_txn_abort(txn)
                throw error
            }
            // Writes are filling segments: the next one will be needed soon, so ask now rather than
            // a quarter in (when the spare was not ready, this segment is a small one).
            if !spareAsked {
                spareAsked = true
                preparer.want()
            }
        }
        let sequence = nextSequence
        do throws(LMDBError) {
            try SequenceMarker.write(txn, markerDatabase, sequence)
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
        // Taken only now: a sequence is never skipped, so a segment's header names a record that exists.
        nextSequence += 1
        lastJournaled = sequence
        let record = recorder.seal(sequence: sequence)
        do throws(LMDBError) {
            try append(record)
        } catch {
            mdb_txn_abort(txn)
            // What reached the file is unknown, and a record after a damaged one would be refused
            // on replay: the journal takes no more writes until a restart recovers it.
            fail(error)
            throw error
        }
        let rc = mdb_txn_commit(txn)
        guard rc == MDB_SUCCESS else {
            recorder.reset()
            do throws(LMDBError) {
                try append(recorder.seal(kind: JournalRecord.Kind.cancel.rawValue, sequence: sequence))
            } catch {
                fail(error)
            }
            throw LMDBError(code: rc, operation: "mdb_txn_commit")
        }
    }

    /// Writes `record` over the zeros at the current offset and syncs it: the file's size never
    /// changes, so the fdatasync writes no inode.
    private func append(_ record: [UInt8]) throws(LMDBError) {
        try record.withBytes { raw throws(LMDBError) in
            try JournalFiles.writeAll(segmentFD, raw, at: writeOffset, JournalFiles.name(segmentNumber))
        }
        writeOffset += record.count
        bytesSinceBase += record.count
        try JournalFiles.syncData(segmentFD, JournalFiles.name(segmentNumber))
        // A quarter in, a spare is made in the background, long before this segment is full.
        if !spareAsked && writeOffset >= segmentSize / 4 {
            spareAsked = true
            preparer.want()
        }
    }

    /// Starts segment `segmentNumber + 1`, with room for `needed` bytes of records; returns its
    /// number. Uses the prepared spare when it is ready and large enough, else makes a segment
    /// here: a small one, or one sized for a record larger than a segment.
    @discardableResult
    private func rotate(fitting needed: Int) throws(LMDBError) -> UInt64 {
        let header = SegmentHeader(number: segmentNumber + 1, previousSequence: lastJournaled)
        let path = directory + "/" + JournalFiles.name(header.number)
        let minimum = SegmentHeader.size + needed
        var ready = preparer.take(minimumSize: minimum)
        if ready == nil {
            let small = min(preparer.size, Self.fallbackSegmentBytes)
            ready = try PreparedSegment.create(path + ".tmp", size: max(small, (minimum + 4095) / 4096 * 4096))
        }
        guard let segment = ready else { preconditionFailure("a segment was prepared") }
        try segment.install(header, at: path, directory: directory)
        if segmentFD >= 0 { close(segmentFD) }
        segmentFD = segment.fd
        segmentNumber = header.number
        segmentSize = segment.size
        writeOffset = SegmentHeader.size
        bytesSinceBase += SegmentHeader.size
        spareAsked = false
        return segmentNumber
    }

    /// Starts the segment a checkpoint's base will be followed by: the journal since the base
    /// starts there. Returns its number and the journal bytes before it, which stop counting only
    /// once the checkpoint has succeeded (`finishCheckpoint`).
    private func rotateForCheckpoint() throws(LMDBError) -> (segment: UInt64, olderBytes: Int) {
        // An earlier checkpoint's credit first, so that it is not counted twice.
        condition.withLock { takeCoveredBytes() }
        let olderBytes = bytesSinceBase
        return (try rotate(fitting: 0), olderBytes)
    }

    /// Takes what successful checkpoints covered off `bytesSinceBase`. Under the write lock and
    /// `condition`.
    private func takeCoveredBytes() {
        bytesSinceBase -= coveredBytes
        coveredBytes = 0
    }

    // MARK: - Checkpoints

    /// Starts a new segment, copies the environment to a new base, and removes the segments the
    /// base covers. Waits for a checkpoint already running. Used at start and by tests.
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
        if let failure = condition.withLock({ failure }) { throw failure }
        // Its outcome is the last checkpoint's, as the thread's is: a success clears what the
        // metrics and the log report as failing.
        do throws(LMDBError) {
            try checkpoint()
        } catch {
            condition.withLock { lastCheckpointFailure = error }
            throw error
        }
        condition.withLock { lastCheckpointFailure = nil }
    }

    /// The checkpoint thread: runs a checkpoint whenever `beforeWrite` asks for one.
    private func runCheckpoints() {
        // Copying a base is background work: it must not take the CPU from the threads serving
        // calls (on Linux the nice value of PRIO_PROCESS 0 is the calling thread's own).
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
        while true {
            let next: (segment: UInt64, olderBytes: Int)? = condition.withLock {
                while requested == nil && !stopping { condition.wait() }
                defer { requested = nil }
                return requested
            }
            guard let next else { break }
            // A failed checkpoint (say, a full disk while copying) leaves the old base and every
            // segment in place, so the journal stays correct: writes go on, the segments kept
            // still count, and the next checkpoint is tried once it is due again (`retryBytes`).
            var failure: LMDBError?
            do throws(LMDBError) {
                try finishCheckpoint(next.segment, olderBytes: next.olderBytes)
            } catch {
                failure = error
            }
            condition.withLock {
                lastCheckpointFailure = failure
                inProgress = false
                condition.broadcast()
            }
        }
        condition.withLock {
            threadDone = true
            condition.broadcast()
        }
    }

    /// Every record in the segments before the new one is at or below the copy's sequence, so once
    /// the base is durably in place they can go.
    private func checkpoint() throws(LMDBError) {
        let started = try withWriteLock { () throws(LMDBError) in try rotateForCheckpoint() }
        try finishCheckpoint(started.segment, olderBytes: started.olderBytes)
    }

    /// The part of a checkpoint after `segment` was started: no lock needed. `olderBytes`, the
    /// journal before `segment`, stops counting only once the base is in place and the segments
    /// before `segment` are gone.
    private func finishCheckpoint(_ segment: UInt64, olderBytes: Int) throws(LMDBError) {
        do throws(LMDBError) {
            try makeBase()
            // Oldest first, one at a time, whether kept for reuse or unlinked: a crash part way
            // then leaves the newest of them, still in line with the segment the base precedes.
            // (Renaming every reusable one first left older, smaller ones behind a gap.)
            for older in try JournalFiles.segments(in: directory).filter({ $0 < segment }).sorted() {
                try Self.removeFiles(preparer.recycle([JournalFiles.name(older)]), in: directory)
            }
        } catch {
            // The segments kept still count (any removed before the failure only bring the next
            // checkpoint forward).
            condition.withLock { retryBytes = olderBytes + max(checkpointBytes, baseBytes) / 4 }
            throw error
        }
        condition.withLock {
            checkpoints += 1
            coveredBytes += olderBytes
            retryBytes = 0
        }
    }

    /// Copies the environment (a compacting copy: one read transaction's snapshot, without blocking
    /// writers) to a temporary file, syncs it and renames it into place. The snapshot holds the
    /// sequence of its last journaled transaction (`SequenceMarker`): recovery replays what came after.
    ///
    /// The copy is written around the page cache (`O_DIRECT`, as LMDB's own `mdb_env_copy` writes):
    /// through the cache, copying the base into it was ~5% of the server's samples under Evaluate
    /// load, and took fresh page-cache memory for the whole store at every checkpoint. Where the
    /// file system refuses the flag, or LMDB's writes under it, the copy goes through the cache.
    private func makeBase() throws(LMDBError) {
        let path = directory + "/" + JournalFiles.baseName
        try JournalFiles.writeDurably(path, directory: directory, spare: spareBasePath) { fd throws(LMDBError) in
            // Only the copy reads the map; syncing and renaming the file need not hold a remap up.
            mapInUse.lock()
            defer { mapInUse.unlock() }
            let direct = JournalFiles.setDirect(fd, true)
            var rc = mdb_env_copyfd2(env, fd, UInt32(MDB_CP_COMPACT))
            if rc == EINVAL && direct {
                guard JournalFiles.setDirect(fd, false), lseek(fd, 0, SEEK_SET) == 0, ftruncate(fd, 0) == 0 else {
                    throw LMDBError(code: errno, operation: "restarting \(path).tmp without O_DIRECT")
                }
                rc = mdb_env_copyfd2(env, fd, UInt32(MDB_CP_COMPACT))
            }
            try check(rc, "mdb_env_copyfd2(\(path).tmp)")
        }
        noteBaseSize()
    }

    /// The base before the current one, kept to write the next base over (`JournalFiles.writeDurably`).
    private var spareBasePath: String { directory + "/" + JournalFiles.prefix + "spare-base.tmp" }

    /// Reads the base's size for `beforeWrite` (0 when there is none yet).
    private func noteBaseSize() {
        var info = stat()
        let size = stat(directory + "/" + JournalFiles.baseName, &info) == 0 ? Int(info.st_size) : 0
        condition.withLock { baseBytes = size }
    }

    /// Number of completed checkpoints (for tests).
    var completedCheckpoints: Int { condition.withLock { checkpoints } }

    /// Number of checkpoints `beforeWrite` has started, failed ones included (for tests).
    var startedCheckpointCount: Int { condition.withLock { startedCheckpoints } }

    /// Why the last background checkpoint failed; nil once one succeeds.
    var checkpointFailure: LMDBError? { condition.withLock { lastCheckpointFailure } }

    private func fail(_ error: LMDBError) {
        condition.withLock {
            if failure == nil {
                failure = LMDBError(
                    code: error.code,
                    operation: "journal unusable after an I/O error, restart to recover (\(error.operation))")
            }
        }
    }

    /// Stops the checkpoint thread. With `clean`, syncs LMDB and writes `journal.clean` so the next
    /// open needs no recovery; without it, leaves the files as a crash would.
    func shutdown(clean: Bool) {
        condition.withLock {
            while inProgress { condition.wait() }
            stopping = true
            condition.broadcast()
            while !threadDone { condition.wait() }
        }
        preparer.stop()
        // Kept only to be written over by the next checkpoint, and a restart removes it anyway.
        JournalFiles.shrinkAndUnlink(spareBasePath)
        let usable = condition.withLock { failure == nil }
        if segmentFD >= 0 {
            // Cut to its records: the next clean start counts what the segments left hold by
            // their sizes, and a folder restarted often does not keep megabytes of zeros per run.
            if clean && usable && ftruncate(segmentFD, off_t(writeOffset)) == 0 {
                try? JournalFiles.syncData(segmentFD, JournalFiles.name(segmentNumber))
            }
            close(segmentFD)
            segmentFD = -1
        }
        guard clean, usable else { return }
        var info = MDB_envinfo()
        guard mdb_env_sync(env, 1) == MDB_SUCCESS, mdb_env_info(env, &info) == MDB_SUCCESS else { return }
        let marker = directory + "/" + JournalFiles.cleanName
        _ = try? JournalFiles.createDurably(
            marker, directory: directory, contents: Array("\(info.me_last_txnid)\n".utf8), keepOpen: false)
    }

    /// Runs `body` while holding LMDB's write lock, through an empty write transaction.
    private func withWriteLock<T>(_ body: () throws(LMDBError) -> T) throws(LMDBError) -> T {
        writerLock.lock()
        defer { writerLock.unlock() }
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, 0, &txn), "mdb_txn_begin(journal)")
        defer { mdb_txn_abort(txn) }
        return try body()
    }

    static func remove(_ segments: [UInt64], in directory: String) throws(LMDBError) {
        try removeFiles(segments.map(JournalFiles.name), in: directory)
    }

    /// Unlinks `names` (missing ones are fine) and syncs the directory.
    static func removeFiles(_ names: [String], in directory: String) throws(LMDBError) {
        guard !names.isEmpty else { return }
        var parked: [String] = []
        for name in names {
            let path = directory + "/" + name
            // A large file is linked aside first, so this unlink frees nothing and cannot stall
            // the disk; it is freed in steps once the directory is synced.
            if let trash = JournalFiles.parkIfLarge(path, directory: directory) { parked.append(trash) }
            if unlink(path) != 0 && errno != ENOENT { throw LMDBError(code: errno, operation: "unlink(\(path))") }
        }
        try JournalFiles.syncDirectory(directory)
        for trash in parked { JournalFiles.shrinkAndUnlink(trash) }
    }
}
