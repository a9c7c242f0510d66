internal import CLMDB
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A handle to one named database inside an `Environment`.
///
/// Only meaningful for the environment that opened it. Cheap to copy and safe to share across threads.
public struct Database: Sendable, Hashable {
    let dbi: UInt32
}

/// An LMDB environment (a directory holding `data.mdb` and `lock.mdb`).
///
/// Open at most one `Environment` per path per process: LMDB's locking breaks if the same files are
/// opened twice in one process. The environment is always opened with `MDB_NOTLS`, so read transactions
/// are not tied to threads and may be used from any thread (one thread at a time).
public final class Environment: @unchecked Sendable {
    /// Configuration applied before the environment is opened.
    public struct Options: Sendable {
        /// Size of the memory map, i.e. of the database; writes fail with `isMapFull` beyond it
        /// unless the map grows (`maxMapSize`, `growMapIfNeeded`).
        public var mapSize: Int
        /// How large `growMapIfNeeded` may make the map: nil (the default) keeps it at `mapSize`;
        /// `Int.max` lets it grow for as long as the file system has room.
        public var maxMapSize: Int?
        /// Maximum number of named databases.
        public var maxDatabases: UInt32
        /// Maximum number of concurrent read transactions (reader lock-table slots).
        public var maxReaders: UInt32
        /// How commits reach the disk (default: `.journal`).
        public var durability: Durability
        /// With `.journal`: once the journal holds this many bytes since the base, and at least as
        /// many as the base itself, a background checkpoint copies a new base and drops the
        /// segments before it. Smaller means less to replay after a crash but more copying (each
        /// checkpoint copies the whole environment, which is why a large base waits for more).
        public var checkpointBytes: Int
        /// With `.journal`: the size of a journal segment. Segments are made at this size, filled
        /// with zeros, ahead of time, and written in place, so a commit's fdatasync never has to
        /// write the file's inode. 32 MiB: a segment lasts seconds at full write rate (so rotations,
        /// a rename each, are rare), making one in the background takes ~0.1 s of disk time, and
        /// the zeros kept on disk (the current segment and one spare) stay small next to the
        /// default `checkpointBytes`, which is four segments.
        public var journalSegmentBytes: Int

        public init(
            mapSize: Int = 1 << 30,
            maxDatabases: UInt32 = 16,
            maxReaders: UInt32 = 126,
            durability: Durability = .journal,
            checkpointBytes: Int = 128 << 20,
            journalSegmentBytes: Int = 32 << 20,
            maxMapSize: Int? = nil
        ) {
            self.mapSize = mapSize
            self.maxMapSize = maxMapSize
            self.maxDatabases = maxDatabases
            self.maxReaders = maxReaders
            self.durability = durability
            self.checkpointBytes = checkpointBytes
            self.journalSegmentBytes = journalSegmentBytes
        }
    }

    /// How a committed write transaction is made durable.
    public enum Durability: String, Sendable, CaseIterable {
        /// The transaction's changes are appended to a write-ahead journal and fdatasync'ed before the
        /// commit returns (one sequential write); LMDB itself is not synced, and recovery rebuilds it
        /// from a base copy plus the journal. Survives process and system crashes.
        case journal
        /// LMDB fsyncs every commit itself (every page the transaction touched). Survives crashes; slower.
        case syncEachCommit = "sync"
        /// Nothing is synced (`MDB_NOSYNC`): a system crash may lose or corrupt recent commits.
        /// Benchmarks of the CPU path only.
        case none

        /// Without per-commit syncs LMDB may write straight into the map (`MDB_NOSYNC |
        /// MDB_WRITEMAP`: no pwrite per page), which also makes `data.mdb` as large as the map.
        var writesThroughMap: Bool { self != .syncEachCommit }
    }

    /// Tracks live transactions so `close()` never frees the environment underneath one
    /// (`mdb_env_close` requires all transactions and cursors to be finished).
    private struct State {
        var activeUsers = 0
        /// A remap is waiting for the running transactions to end (see `remap`).
        var remapPending = false
        var closeRequested = false
        var closed = false
        var closeCleanly = true
    }

    /// The directory this environment was opened at.
    public let path: String
    /// How commits are made durable.
    public let durability: Durability
    /// `Options.maxMapSize`.
    public let maxMapSize: Int?
    // Set once in init and only freed by `close`, guarded by `state`, hence `@unchecked Sendable`.
    private let env: OpaquePointer
    private let state = Mutex(State())
    /// Ended read transactions kept for reuse (`mdb_txn_reset`): renewing one skips the allocation
    /// and the reader-table search of a new one, which List pays on every call. A reset transaction
    /// keeps its reader slot but pins no pages.
    private let idleReaders = Mutex(IdleReaders())
    private let lastCommit = Atomic<Int64>(0)
    private struct IdleReaders: @unchecked Sendable {
        var transactions: [OpaquePointer] = []
    }
    /// At most a quarter of the reader slots stay idle in the pool, so a checkpoint's copy (which
    /// needs a slot of its own) and other readers always find one.
    private let idleReaderLimit: Int
    /// The write-ahead journal, with `.journal` durability.
    let journal: Journal?
    /// `journal.lock`, flock'ed for as long as the environment is open.
    private let folderLock: Int32
    /// Journaled transactions replayed when this environment was opened.
    public let recoveredTransactions: Int

    /// Opens (creating if needed) the environment at `path`, which is a directory; it is created
    /// (with intermediate directories) if missing.
    ///
    /// Takes an exclusive lock on the folder (a second process, or a second `Environment` in this
    /// one, is refused with `EBUSY`), replays the journal if the last run left one, and runs
    /// `mdb_reader_check` to clear stale reader slots left by dead processes.
    public init(path: String, options: Options = .init()) throws {
        idleReaderLimit = Int(options.maxReaders / 4)
        try Self.makeDirectories(path)
        let folderLock = try Self.lockFolder(path)

        var env: OpaquePointer?
        do {
            try check(mdb_env_create(&env), "mdb_env_create")
        } catch {
            Glibc.close(folderLock)
            throw error
        }
        guard let env else {
            Glibc.close(folderLock)
            throw LMDBError(code: ENOMEM, operation: "mdb_env_create")
        }
        do {
            try check(mdb_env_set_mapsize(env, options.mapSize), "mdb_env_set_mapsize(\(options.mapSize))")
            let state = try JournalRecovery.prepare(directory: path)
            // One more for the journal's sequence marker when it is used: callers do not count it.
            var markerUsed = options.durability == .journal
            if case .restoredBase = state { markerUsed = true }
            try check(mdb_env_set_maxdbs(env, options.maxDatabases + (markerUsed ? 1 : 0)), "mdb_env_set_maxdbs")
            try check(mdb_env_set_maxreaders(env, options.maxReaders), "mdb_env_set_maxreaders")
            var flags = UInt32(MDB_NOTLS)
            if options.durability.writesThroughMap { flags |= UInt32(MDB_NOSYNC | MDB_WRITEMAP) }
            try check(mdb_env_open(env, path, flags, 0o664), "mdb_env_open(\(path))")
            var dead: Int32 = 0
            try check(mdb_reader_check(env, &dead), "mdb_reader_check(\(path))")
            let writeMap = options.durability.writesThroughMap
            self.recoveredTransactions = try Self.recover(
                env, path: path, state: state, maxMapSize: options.maxMapSize, writeMap: writeMap)
            try Self.makeHeadroom(env, maxMapSize: options.maxMapSize, writeMap: writeMap, path: path)
            if options.durability == .journal {
                var newBase = true
                if case .clean = state { newBase = false }
                let journal = Journal(
                    directory: path, env: env, lastSegment: state.segments.last ?? 0,
                    checkpointBytes: options.checkpointBytes,
                    segmentBytes: max(options.journalSegmentBytes, 4096))
                try journal.start(newBase: newBase)
                self.journal = journal
            } else {
                // Nothing journals from here on, so the journal must not outlive this moment: a
                // later start would replay it over newer data.
                try check(mdb_env_sync(env, 1), "mdb_env_sync")
                // The base goes first: segments left without a base mean data.mdb is authoritative.
                try Journal.removeFiles([JournalFiles.baseName], in: path)
                try Journal.remove(try JournalFiles.segments(in: path), in: path)
                self.journal = nil
            }
        } catch {
            // mdb_env_close is required even when mdb_env_open failed, to release the handle.
            mdb_env_close(env)
            Glibc.close(folderLock)
            throw error
        }
        self.env = env
        self.path = path
        self.durability = options.durability
        self.maxMapSize = options.maxMapSize
        self.folderLock = folderLock
    }

    deinit {
        close()
    }

    /// Closes the environment. Idempotent. If transactions are still running (on other threads), the
    /// actual close happens when the last one ends; new transactions fail immediately.
    /// With a journal, LMDB is synced and the folder marked clean, so the next open replays nothing.
    public func close() {
        close(checkpoint: true)
    }

    /// Closes without syncing or marking the folder clean, as a crash would leave it (the next
    /// open recovers from the journal). For crash tests.
    @_spi(Testing)
    public func closeWithoutCheckpoint() {
        close(checkpoint: false)
    }

    private func close(checkpoint: Bool) {
        let closeNow = state.withLock { state in
            state.closeRequested = true
            state.closeCleanly = state.closeCleanly && checkpoint
            guard state.activeUsers == 0, !state.closed else { return false }
            state.closed = true
            return true
        }
        if closeNow { finishClose() }
    }

    private func finishClose() {
        // No transaction is running now (finishClose waits for the last user); reset ones must be
        // freed before the environment.
        for txn in idleReaders.withLock({ $0.transactions }) { mdb_txn_abort(txn) }
        idleReaders.withLock { $0.transactions.removeAll() }
        journal?.shutdown(clean: state.withLock { $0.closeCleanly })
        mdb_env_close(env)
        Glibc.close(folderLock)
    }

    /// With a journal: copies a new base and drops the journal segments it covers (checkpoints also
    /// happen by themselves as segments fill up). Without one: syncs LMDB.
    public func checkpoint() throws {
        try withEnv("checkpoint") { env in
            if let journal {
                try journal.checkpointNow()
            } else {
                try check(mdb_env_sync(env, 1), "mdb_env_sync")
            }
        }
    }

    /// Number of journal checkpoints completed since opening (0 without a journal).
    public var completedCheckpoints: Int { journal?.completedCheckpoints ?? 0 }

    /// Checkpoints started by writes, failed ones included (for tests).
    @_spi(Testing) public var startedCheckpoints: Int { journal?.startedCheckpointCount ?? 0 }

    /// Why the last background checkpoint failed (nil once one succeeds). Writes go on meanwhile;
    /// the journal just grows until a checkpoint succeeds.
    public var checkpointFailure: LMDBError? { journal?.checkpointFailure }

    /// Opens (creating if needed) a named database. Call at startup, before concurrent use: LMDB forbids
    /// opening databases from concurrent transactions. Opening the same name again returns an equal handle.
    public func openDatabase(_ name: String) throws -> Database {
        try withEnv("mdb_dbi_open(\(name))") { env in
            journal?.writerLock.lock()
            defer { journal?.writerLock.unlock() }
            let dbi = try openNamedDatabase(env, name)
            // Registered while holding the write lock, like every use of the recorder.
            journal?.recorder.register(dbi: dbi, name: name)
            return Database(dbi: dbi)
        }
    }

    /// Runs `body` in a read-only transaction that is always ended when `body` returns or throws.
    ///
    /// `body` sees a consistent snapshot as of the start of the transaction. Buffers handed out point
    /// into the memory map and are valid only inside `body`; copy anything you need to keep.
    /// Keep `body` short: an open read transaction stops LMDB from reusing freed pages.
    public func read<T>(_ body: (borrowing ReadTransaction) throws -> T) throws -> T {
        try withEnv("mdb_txn_begin(read-only)") { env in
            let txn = try beginRead(env)
            // Ending a read transaction loses nothing; it goes back to the pool.
            defer { endRead(txn) }
            let transaction = ReadTransaction(txn: txn, recorder: nil)
            return try body(transaction)
        }
    }

    private func beginRead(_ env: OpaquePointer) throws -> OpaquePointer {
        if let idle = idleReaders.withLock({ $0.transactions.popLast() }) {
            if mdb_txn_renew(idle) == MDB_SUCCESS { return idle }
            mdb_txn_abort(idle)
        }
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), "mdb_txn_begin(read-only)")
        guard let txn else { throw LMDBError(code: EINVAL, operation: "mdb_txn_begin(read-only)") }
        return txn
    }

    private func endRead(_ txn: OpaquePointer) {
        mdb_txn_reset(txn)
        let kept = idleReaders.withLock { idle in
            guard idle.transactions.count < idleReaderLimit else { return false }
            idle.transactions.append(txn)
            return true
        }
        if !kept { mdb_txn_abort(txn) }
    }

    /// Runs `body` in a write transaction; commits if `body` returns, aborts if it throws.
    ///
    /// LMDB allows one writer at a time: concurrent calls from other threads block until this one ends.
    /// The write transaction is bound to the calling thread, which is why `body` is synchronous.
    /// Do not call `write` (or `openDatabase`) from inside `body`: that deadlocks.
    /// If a write operation fails (e.g. map full), the transaction can only be aborted: let the error
    /// propagate out of `body`.
    public func write<T>(_ body: (borrowing WriteTransaction) throws -> T) throws -> T {
        try withEnv("mdb_txn_begin(read-write)") { env in try writeOnce(env, body) }
    }

    private func writeOnce<T>(_ env: OpaquePointer, _ body: (borrowing WriteTransaction) throws -> T) throws -> T {
        journal?.writerLock.lock()
        defer { journal?.writerLock.unlock() }
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, 0, &txn), "mdb_txn_begin(read-write)")
        guard let txn else { throw LMDBError(code: EINVAL, operation: "mdb_txn_begin(read-write)") }
        let result: T
        do {
            try journal?.beforeWrite()
            let transaction = WriteTransaction(txn: txn, recorder: journal?.recorder)
            result = try body(transaction)
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
        // mdb_txn_commit frees the transaction even when it fails, so there is nothing to abort.
        let commitStart = ContinuousClock.now
        defer { lastCommit.store((ContinuousClock.now - commitStart).inNanoseconds, ordering: .relaxed) }
        if let journal {
            try journal.commit(txn)
        } else {
            try check(mdb_txn_commit(txn), "mdb_txn_commit")
        }
        return result
    }

    /// How long the last write transaction's commit took, in nanoseconds: the journal's append and
    /// fdatasync, or LMDB's own commit and syncs (0 before the first). What waiting to put more
    /// writes into one commit can save, at most.
    public var lastCommitNanoseconds: Int64 { lastCommit.load(ordering: .relaxed) }

    /// The current size of the memory map in bytes (0 once closed).
    public var mapSize: Int {
        (try? withEnv("mdb_env_info") { env in try Self.info(env).me_mapsize }) ?? 0
    }

    /// Bytes in use: (last used page number + 1) × page size, from `mdb_env_info`/`mdb_env_stat`.
    /// Returns 0 once closed.
    public func usedBytes() -> Int { mapUsage().used }

    /// The map's size and the bytes in use (see `usedBytes`), read together; zeros once closed.
    func mapUsage() -> (size: Int, used: Int) {
        (try? withEnv("mdb_env_info") { env in try Self.usage(env) }) ?? (0, 0)
    }

    /// Flushes LMDB's buffers to disk (`mdb_env_sync`); `checkpoint()` also drops the journal.
    public func sync() throws {
        try withEnv("mdb_env_sync") { env in
            try check(mdb_env_sync(env, 1), "mdb_env_sync")
        }
    }

    /// Clears reader slots left by dead processes; returns how many were cleared.
    public func readerCheck() throws -> Int {
        try withEnv("mdb_reader_check") { env in
            var dead: Int32 = 0
            try check(mdb_reader_check(env, &dead), "mdb_reader_check")
            return Int(dead)
        }
    }

    /// Remaps the environment at `size` bytes (`mdb_env_set_mapsize`; with `MDB_WRITEMAP` the
    /// sparse `data.mdb` is extended first). LMDB allows that only while nothing in the process uses
    /// the map. So new transactions wait a little (`remapPending`, at most `remapEntryWait` each,
    /// which also keeps a transaction opened inside another from waiting on itself) while those
    /// running end; the remap then happens under the state lock with no transaction running and the
    /// checkpoint thread not copying the base. Returns false, changing nothing, when that moment does
    /// not come within ~20 ms or a base is being copied: try again later. A map already at least
    /// `size` counts as done.
    func remap(to size: Int) throws(LMDBError) -> Bool {
        // A copy takes seconds: no point making callers wait for it.
        guard journal?.mapInUse.try() ?? true else { return false }
        journal?.mapInUse.unlock()
        state.withLock { $0.remapPending = true }
        defer { state.withLock { $0.remapPending = false } }
        for _ in 0..<200 {
            let outcome: Result<Bool, LMDBError>? = state.withLock { state in
                guard !state.closeRequested else { return .success(false) }
                guard state.activeUsers == 0, journal?.mapInUse.try() ?? true else { return nil }
                defer { journal?.mapInUse.unlock() }
                return Result { () throws(LMDBError) in try remapNow(to: size) }
            }
            if let outcome { return try outcome.get() }
            usleep(100)
        }
        return false
    }

    /// The remap itself, with nothing using the map.
    private func remapNow(to size: Int) throws(LMDBError) -> Bool {
        guard size > (try Self.info(env).me_mapsize) else { return true }
        // Reset readers hold no page, but LMDB only promises a remap with no transaction at all:
        // the pool starts again.
        for txn in idleReaders.withLock({ $0.transactions }) { mdb_txn_abort(txn) }
        idleReaders.withLock { $0.transactions.removeAll() }
        try Self.resize(env, to: size, writeMap: durability.writesThroughMap, path: path)
        return true
    }

    /// `mdb_env_set_mapsize` with no transaction in the process. LMDB unmaps before it maps again,
    /// so a failure would leave no map at all: the file is extended first (what fails on a full or
    /// size-limited file system), a failed remap is undone by mapping the old size again, and if
    /// even that fails the process stops rather than let a transaction touch the unmapped region.
    static func resize(_ env: OpaquePointer, to size: Int, writeMap: Bool, path: String) throws(LMDBError) {
        let current = try info(env).me_mapsize
        if writeMap {
            var fd: Int32 = -1
            try check(mdb_env_get_fd(env, &fd), "mdb_env_get_fd")
            guard ftruncate(fd, off_t(size)) == 0 else {
                throw LMDBError(code: errno, operation: "ftruncate(\(path)/data.mdb, \(size))")
            }
        }
        let rc = mdb_env_set_mapsize(env, size)
        guard rc == MDB_SUCCESS else {
            let error = LMDBError(code: rc, operation: "mdb_env_set_mapsize(\(size))")
            guard mdb_env_set_mapsize(env, current) == MDB_SUCCESS else {
                fatalError(
                    "LMDB could not map \(path)/data.mdb again after failing to grow it (\(error)); "
                        + "stopping before any transaction touches the unmapped region")
            }
            throw error
        }
    }

    /// At open, before any other thread: a store reopens at `--map-size-mb` or at what it uses,
    /// whichever is larger (LMDB keeps no grown size across a restart when a size is given), so
    /// one that had grown would start full. It gets its headroom back here.
    private static func makeHeadroom(
        _ env: OpaquePointer, maxMapSize: Int?, writeMap: Bool, path: String
    ) throws(LMDBError) {
        guard let maxMapSize else { return }
        while true {
            let (current, used) = try usage(env)
            guard Double(used) >= Double(current) * growthThreshold,
                let target = grownMapSize(
                    current: current, used: used, maxMapSize: maxMapSize, freeDiskBytes: freeDiskBytes(path))
            else { return }
            try resize(env, to: target, writeMap: writeMap, path: path)
        }
    }

    /// The map's size and the bytes in use: (last used page number + 1) × page size.
    static func usage(_ env: OpaquePointer) throws(LMDBError) -> (size: Int, used: Int) {
        let info = try info(env)
        var stat = MDB_stat()
        try check(mdb_env_stat(env, &stat), "mdb_env_stat")
        return (info.me_mapsize, (info.me_last_pgno + 1) * Int(stat.ms_psize))
    }

    /// How long a transaction waits to begin while a remap is pending (see `remap`).
    static let remapEntryWait: Duration = .milliseconds(5)

    // MARK: - Internals

    /// Runs `body` with the raw environment, keeping it open for the duration.
    private func withEnv<T>(_ operation: @autoclosure () -> String, _ body: (OpaquePointer) throws -> T) throws -> T {
        var waitUntil: ContinuousClock.Instant?
        while true {
            let entry = state.withLock { state -> Entry in
                guard !state.closeRequested else { return .closed }
                // Held back while a remap waits for the running transactions to end, briefly.
                if state.remapPending, waitUntil.map({ ContinuousClock.now < $0 }) ?? true { return .held }
                state.activeUsers += 1
                return .entered
            }
            if case .entered = entry { break }
            guard case .held = entry else {
                throw LMDBError(code: EINVAL, operation: "\(operation()): environment is closed")
            }
            if waitUntil == nil { waitUntil = ContinuousClock.now + Self.remapEntryWait }
            usleep(50)
        }
        defer {
            let closeNow = state.withLock { state in
                state.activeUsers -= 1
                guard state.activeUsers == 0, state.closeRequested, !state.closed else { return false }
                state.closed = true
                return true
            }
            if closeNow { finishClose() }
        }
        return try body(env)
    }

    private enum Entry { case entered, held, closed }

    private static func info(_ env: OpaquePointer) throws(LMDBError) -> MDB_envinfo {
        var info = MDB_envinfo()
        try check(mdb_env_info(env, &info), "mdb_env_info")
        return info
    }

    /// Finishes what `JournalRecovery.prepare` started, once LMDB is open; returns the number of
    /// transactions replayed.
    private static func recover(
        _ env: OpaquePointer, path: String, state: JournalRecovery.State, maxMapSize: Int?, writeMap: Bool
    ) throws -> Int {
        switch state {
        case .noJournal:
            return 0
        case .clean(let txnid, _):
            let current = try info(env).me_last_txnid
            guard UInt64(current) == txnid else {
                throw JournalRecovery.damaged(
                    "\(JournalFiles.cleanName) says txn \(txnid) but data.mdb is at txn \(current)", path)
            }
            // From the first write on, data.mdb is no longer the clean copy.
            try Journal.removeFiles([JournalFiles.cleanName], in: path)
            return 0
        case .restoredBase(let segments):
            let replayed = try JournalRecovery.replay(
                env: env, directory: path, segments: segments, maxMapSize: maxMapSize, writeMap: writeMap)
            try check(mdb_env_sync(env, 1), "mdb_env_sync(after journal replay)")
            return replayed
        }
    }

    /// Takes the folder's exclusive lock (`flock` on `journal.lock`), held until `close`.
    private static func lockFolder(_ path: String) throws(LMDBError) -> Int32 {
        let lockPath = path + "/" + JournalFiles.lockName
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o664)
        guard fd >= 0 else { throw LMDBError(code: errno, operation: "open(\(lockPath))") }
        // A lock just released may still be held for a moment: a child this process is spawning
        // has a copy of every descriptor, close-on-exec ones included, until it execs. So a busy
        // lock is tried again for up to half a second before the folder counts as open elsewhere.
        var attempts = 0
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EWOULDBLOCK && attempts < 20 {
                attempts += 1
                usleep(25_000)
                continue
            }
            Glibc.close(fd)
            if code == EWOULDBLOCK {
                throw LMDBError(
                    code: EBUSY, operation: "data folder \(path) is already open (in this or another process)")
            }
            throw LMDBError(code: code, operation: "flock(\(lockPath))")
        }
        return fd
    }

    /// `mkdir -p`: creates `path` and any missing parents. An existing directory is fine.
    private static func makeDirectories(_ path: String) throws(LMDBError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, 0o775) != 0 {
                let code = errno
                // EEXIST for a regular file is caught by the next mkdir (ENOTDIR) or by mdb_env_open.
                if code != EEXIST {
                    throw LMDBError(code: code, operation: "mkdir(\(prefix)) for environment \(path)")
                }
            }
            prefix += "/"
        }
    }
}

extension Duration {
    /// The duration in whole nanoseconds (commit and queue times are recorded in them).
    public var inNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
