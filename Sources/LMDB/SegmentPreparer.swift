import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A segment file made ahead of time: `size` bytes of real zeros, written and fdatasync'ed, under a
/// temporary name (`journal-*.tmp`) until `install` gives it a header and its segment name. Records
/// are then written over the zeros in place, so the file's size and block map never change and an
/// fdatasync writes data only (format and reasoning: `JournalFormat.swift`).
struct PreparedSegment {
    let fd: Int32
    let path: String
    let size: Int

    /// Creates `path` holding `size` zero bytes, written (not fallocate'd: unwritten extents would
    /// need a metadata update at their first write) and synced. A large one reaches the disk in
    /// steps, so that journal commits do not queue behind it.
    ///
    /// With `reusing`, the path of a retired segment (`SegmentPreparer.recycle`), that file is
    /// renamed to `path` and zeroed over instead: its blocks are already allocated and its pages
    /// are likely still cached, so the zeros cost a copy rather than new memory and new blocks.
    /// Every byte is still zeros or written for the new segment, as the format requires.
    static func create(_ path: String, size: Int, reusing old: String? = nil) throws(LMDBError) -> PreparedSegment {
        var fd: Int32 = -1
        if let old, rename(old, path) == 0 {
            fd = JournalFiles.openUnshared(path, O_RDWR)
        }
        if fd < 0 { fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644) }
        guard fd >= 0 else { throw LMDBError(code: errno, operation: "open(\(path))") }
        do throws(LMDBError) {
            if old != nil { try JournalFiles.shrink(fd, to: off_t(size), path) }
            let zeros = [UInt8](repeating: 0, count: min(size, 1 << 20))
            var offset = 0
            while offset < size {
                let count = min(zeros.count, size - offset)
                try zeros.withBytes { raw throws(LMDBError) in
                    try JournalFiles.writeAll(fd, UnsafeRawBufferPointer(rebasing: raw[..<count]), at: offset, path)
                }
                offset += count
            }
            try JournalFiles.flushInSteps(fd, path)
            try JournalFiles.syncData(fd, path)
        } catch {
            close(fd)
            unlink(path)
            throw error
        }
        return PreparedSegment(fd: fd, path: path, size: size)
    }

    /// Writes `header` over the first zeros and syncs it, then renames the file to `path` and syncs
    /// the directory: a segment file always has a whole header, and once this returns it survives a
    /// crash. On failure the file is closed and removed (an empty segment that did get its name is
    /// harmless either way: it holds no records and its header is whole).
    func install(_ header: SegmentHeader, at path: String, directory: String) throws(LMDBError) {
        var renamed = false
        do throws(LMDBError) {
            try header.encoded.withBytes { raw throws(LMDBError) in
                try JournalFiles.writeAll(fd, raw, at: 0, self.path)
            }
            try JournalFiles.syncData(fd, self.path)
            guard rename(self.path, path) == 0 else { throw LMDBError(code: errno, operation: "rename(\(self.path))") }
            renamed = true
            try JournalFiles.syncDirectory(directory)
        } catch {
            close(fd)
            unlink(renamed ? path : self.path)
            throw error
        }
    }

    func discard() {
        close(fd)
        unlink(path)
    }
}

/// Keeps one full-size segment ready, made on a background thread when the writer asks, so that
/// rotating to a new segment is a rename rather than writing and syncing tens of MiB of zeros on the
/// commit path. When none is ready the writer makes a small one itself (`Journal.rotate`).
///
/// Shares only what `condition` guards, hence `@unchecked Sendable`.
final class SegmentPreparer: @unchecked Sendable {
    let directory: String
    let size: Int
    private let condition = NSCondition()
    private var spare: PreparedSegment?
    /// Retired segments kept for reuse, newest last (their pages are the likeliest to be cached).
    private var retired: [String] = []
    private var wanted = false
    private var stopping = false
    private var running = false
    private var made = 0

    init(directory: String, size: Int) {
        self.directory = directory
        self.size = size
    }

    func start() {
        condition.withLock { running = true }
        let thread = Thread { [self] in
            nameCurrentThread("lmdb-segments")
            run()
        }
        thread.start()
    }

    /// Asks for a spare if none is ready. A failed attempt (say, a full disk) is not retried until
    /// asked again.
    func want() {
        condition.withLock {
            guard spare == nil, !wanted else { return }
            wanted = true
            condition.broadcast()
        }
    }

    /// The spare, if one is ready and holds at least `minimumSize` bytes.
    func take(minimumSize: Int) -> PreparedSegment? {
        condition.withLock {
            guard let ready = spare, ready.size >= minimumSize else { return nil }
            spare = nil
            return ready
        }
    }

    /// At most this many retired segments are kept for reuse: as much journal as a checkpoint
    /// interval of the default size writes (four 32 MiB segments), more only on disk.
    static let retiredLimit = 4

    /// Takes old segments a checkpoint no longer needs (`names`, in `directory`) to make later
    /// spares from, renaming them to `journal-retired-*.tmp`; returns the names of those it did not
    /// take, for the caller to remove. Only files of exactly `size` bytes are taken, up to
    /// `retiredLimit`.
    ///
    /// Why: making a segment from new zeros asks the system for fresh page-cache memory and new
    /// disk blocks, 32 MiB per segment. On a VM that hands freed memory back to its host (as the
    /// project's does), each fresh page then costs a host fault, ~7 µs per 4 KiB here against
    /// ~0.4 µs for overwriting a cached page. Until its name changes, nothing here makes the
    /// file count as journal: `*.tmp` files are removed at open.
    func recycle(_ names: [String]) -> [String] {
        let room: Int = condition.withLock { stopping ? 0 : Self.retiredLimit - retired.count }
        var taken: [String] = []
        var rest: [String] = []
        for name in names {
            var status = stat()
            let path = directory + "/" + name
            if taken.count < room, stat(path, &status) == 0, Int(status.st_size) == size {
                let newName = condition.withLock { () -> String in
                    made += 1
                    return JournalFiles.prefix + "retired-\(made).tmp"
                }
                if rename(path, directory + "/" + newName) == 0 {
                    taken.append(newName)
                    continue
                }
            }
            rest.append(name)
        }
        guard !taken.isEmpty else { return rest }
        // The renames must be durable before any of these files is zeroed: one that came back
        // under its segment name after a crash, half zeroed, would read as a damaged segment.
        do throws(LMDBError) {
            try JournalFiles.syncDirectory(directory)
        } catch {
            return rest + taken
        }
        condition.withLock { retired.append(contentsOf: taken.map { directory + "/" + $0 }) }
        return rest
    }

    /// Retired segments held for reuse (for tests).
    var retiredCount: Int { condition.withLock { retired.count } }

    /// Stops the thread and removes the spare and the retired segments.
    func stop() {
        let (left, old): (PreparedSegment?, [String]) = condition.withLock {
            stopping = true
            condition.broadcast()
            while running { condition.wait() }
            defer {
                spare = nil
                retired = []
            }
            return (spare, retired)
        }
        left?.discard()
        for path in old { JournalFiles.shrinkAndUnlink(path) }
    }

    private func run() {
        // Background work, like checkpoints: it must not take the CPU from the threads serving calls.
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
        while true {
            let job: (path: String, reusing: String?)? = condition.withLock {
                while !(wanted && spare == nil) && !stopping { condition.wait() }
                guard !stopping else { return nil }
                made += 1
                return (directory + "/" + JournalFiles.prefix + "prepared-\(made).tmp", retired.popLast())
            }
            guard let job else { break }
            var segment: PreparedSegment?
            do throws(LMDBError) {
                segment = try PreparedSegment.create(job.path, size: size, reusing: job.reusing)
            } catch {
                segment = nil
            }
            let unused: PreparedSegment? = condition.withLock {
                wanted = false
                guard !stopping else { return segment }
                spare = segment
                return nil
            }
            unused?.discard()
        }
        condition.withLock {
            running = false
            condition.broadcast()
        }
    }
}
