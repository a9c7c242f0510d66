internal import CFileSync

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// The journal's file operations: reading files, writing them durably (temporary name, sync,
// rename, sync directory), and getting large files onto and off the disk in steps.

extension JournalFiles {
    /// Reads a whole file.
    static func read(_ path: String) throws(LMDBError) -> [UInt8] {
        var bytes: [UInt8] = []
        try readChunks(path) { chunk in bytes.append(contentsOf: chunk) }
        return bytes
    }

    /// Calls `body` with successive chunks of the file at `path` (each valid only during the call).
    static func readChunks(
        _ path: String, _ body: (UnsafeRawBufferPointer) throws(LMDBError) -> Void
    )
        throws(LMDBError)
    {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw LMDBError(code: errno, operation: "open(\(path))") }
        defer { close(fd) }
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw LMDBError(code: errno, operation: "read(\(path))")
            }
            if count == 0 { return }
            try chunk.withBytes { raw throws(LMDBError) in try body(UnsafeRawBufferPointer(rebasing: raw[..<count])) }
        }
    }

    /// Writes all of `bytes` at the end of `fd`.
    static func writeAll(
        _ fd: Int32, _ bytes: UnsafeRawBufferPointer, _ what: @autoclosure () -> String
    )
        throws(LMDBError)
    {
        var offset = 0
        while offset < bytes.count {
            let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw LMDBError(code: errno, operation: "write(\(what()))")
            }
            offset += written
        }
    }

    /// Writes all of `bytes` at `offset` of `fd`, over what is there (a prepared segment's zeros).
    static func writeAll(
        _ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, _ what: @autoclosure () -> String
    )
        throws(LMDBError)
    {
        var done = 0
        while done < bytes.count {
            let written = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if written < 0 {
                if errno == EINTR { continue }
                throw LMDBError(code: errno, operation: "pwrite(\(what()))")
            }
            done += written
        }
    }

    /// Writes a new file at `path` through `temporary` (default: `path` + ".tmp"): `fill` writes
    /// the contents, then the file is synced and renamed into place, so that after a crash it is
    /// whole or absent (a leftover temporary file is removed by `removeLeftovers(in:)` at the next
    /// open). Returns the file still open for appending with `keepOpen`, else closes it and returns -1.
    ///
    /// With `spare`, for a file replaced again and again (the base): the file `path` held before is
    /// kept under the name `spare` instead of being freed, and the next replacement is written over
    /// that spare (`fill` writing sequentially from offset 0), cut to what `fill` wrote. Why: a new
    /// file takes fresh page-cache memory and new disk blocks for every byte, and the base is the
    /// whole store. On a VM that hands freed memory back to its host (as the project's does), each
    /// fresh page costs a host fault, ~7 µs per 4 KiB here against ~0.4 µs for overwriting a cached
    /// page. The spare ends in `.tmp`, so a crash leaves nothing that counts.
    @discardableResult
    static func writeDurably(
        _ path: String, temporary: String? = nil, directory: String, keepOpen: Bool = false, spare: String? = nil,
        _ fill: (Int32) throws(LMDBError) -> Void
    ) throws(LMDBError) -> Int32 {
        let temporary = temporary ?? path + ".tmp"
        var fd: Int32 = -1
        if let spare, rename(spare, temporary) == 0 { fd = openUnshared(temporary, O_WRONLY) }
        if fd < 0 { fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o644) }
        guard fd >= 0 else { throw LMDBError(code: errno, operation: "open(\(temporary))") }
        var parked: String?
        var keptAsSpare = false
        do throws(LMDBError) {
            try fill(fd)
            if spare != nil {
                // A reused file may be longer than what was just written.
                let end = lseek(fd, 0, SEEK_CUR)
                guard end >= 0 else { throw LMDBError(code: errno, operation: "lseek(\(temporary))") }
                try shrink(fd, to: end, temporary)
            }
            try flushInSteps(fd, temporary)
            try syncData(fd, temporary)
            if let spare { keptAsSpare = link(path, spare) == 0 }
            if !keptAsSpare { parked = parkIfLarge(path, directory: directory) }
            guard rename(temporary, path) == 0 else { throw LMDBError(code: errno, operation: "rename(\(temporary))") }
            try syncDirectory(directory)
        } catch {
            close(fd)
            unlink(temporary)
            if keptAsSpare, let spare { unlink(spare) }
            if let parked { unlink(parked) }
            throw error
        }
        if let parked { shrinkAndUnlink(parked) }
        if keepOpen { return fd }
        close(fd)
        return -1
    }

    /// Sets (or clears) `O_DIRECT` on `fd`; false when the file system refuses it (or there is
    /// no such flag).
    static func setDirect(_ fd: Int32, _ on: Bool) -> Bool {
        let direct = Int32(CFILESYNC_O_DIRECT)
        let flags = fcntl(fd, F_GETFL)
        guard direct != 0, flags >= 0 else { return false }
        return fcntl(fd, F_SETFL, on ? flags | direct : flags & ~direct) == 0
    }

    /// Opens `path` to be written over, if no other name shares the file (someone's hard link,
    /// say a backup, must never be overwritten); otherwise unlinks this name and returns -1.
    static func openUnshared(_ path: String, _ mode: Int32) -> Int32 {
        let fd = open(path, mode | O_CLOEXEC)
        var status = stat()
        if fd >= 0, fstat(fd, &status) == 0, status.st_nlink == 1 { return fd }
        if fd >= 0 { close(fd) }
        unlink(path)
        return -1
    }

    /// Cuts an open file to `size`, a step at a time when much is cut (see `shrinkStep`).
    static func shrink(_ fd: Int32, to size: off_t, _ what: @autoclosure () -> String) throws(LMDBError) {
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw LMDBError(code: errno, operation: "fstat(\(what()))") }
        var current = status.st_size
        while current > size {
            current = max(size, current - off_t(shrinkStep))
            guard ftruncate(fd, current) == 0 else { throw LMDBError(code: errno, operation: "ftruncate(\(what()))") }
        }
    }

    /// `writeDurably` with fixed contents (a segment header, the clean marker).
    @discardableResult
    static func createDurably(
        _ path: String, directory: String, contents: [UInt8], keepOpen: Bool = true
    ) throws(LMDBError) -> Int32 {
        try writeDurably(path, directory: directory, keepOpen: keepOpen) { fd throws(LMDBError) in
            try contents.withBytes { raw throws(LMDBError) in try writeAll(fd, raw, path) }
        }
    }

    // Large files (a base copy: the whole store; old segments) must reach or leave the disk in
    // steps. Measured here (ext4, virtio): while 400 MB are written back in one go, a concurrent
    // 4 KiB append + fdatasync (a journal commit) waited up to 450 ms, and unlinking a 400 MB file
    // stalled it ~220 ms; written back 4 MiB at a time, or truncated 8 MiB at a time, ~20-30 ms.
    static let flushStep = 4 << 20
    static let shrinkStep = 8 << 20

    /// Writes the file's dirty pages back a step at a time, each waited for, so the final
    /// fdatasync has little left and journal commits never queue behind the whole file.
    ///
    /// An error must be reported here: the kernel reports a write-back error once per open file,
    /// so after `sync_file_range` has seen it the following fdatasync would return success.
    static func flushInSteps(_ fd: Int32, _ what: @autoclosure () -> String) throws(LMDBError) {
        #if os(Linux)
            var status = stat()
            guard fstat(fd, &status) == 0, status.st_size > flushStep else { return }
            let flags = UInt32(CFILESYNC_WAIT_BEFORE | CFILESYNC_WRITE | CFILESYNC_WAIT_AFTER)
            for offset in stride(from: 0, to: status.st_size, by: flushStep) {
                while sync_file_range(fd, Int64(offset), Int64(flushStep), flags) != 0 {
                    switch errno {
                    case EINTR: continue
                    // Not supported for this file: the fdatasync that follows does all the work.
                    case EINVAL, ENOSYS, ESPIPE: return
                    default: throw LMDBError(code: errno, operation: "sync_file_range(\(what()))")
                    }
                }
            }
        #endif
    }

    /// Links a large file at `path` to a trash name of its own (its inode number in the name), so
    /// that replacing or unlinking `path` frees nothing; `shrinkAndUnlink` frees it later in steps.
    /// Trash left by a crash starts with the journal prefix and ends in `.tmp`, so
    /// `removeLeftovers(in:)` removes it at the next start.
    static func parkIfLarge(_ path: String, directory: String) -> String? {
        var status = stat()
        guard stat(path, &status) == 0, status.st_size > shrinkStep else { return nil }
        let name = path.split(separator: "/").last.map(String.init) ?? "file"
        let trash = directory + "/" + prefix + "trash-\(status.st_ino)-" + name + ".tmp"
        return link(path, trash) == 0 ? trash : nil
    }

    /// Frees a parked file a step at a time, then unlinks it. Best effort: what is left is
    /// removed at the next start. A file that still has another name (someone else's hard link,
    /// say a backup) is only unlinked, never truncated.
    static func shrinkAndUnlink(_ path: String) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        if fd >= 0 {
            var status = stat()
            if fstat(fd, &status) == 0, status.st_nlink == 1 {
                var size = status.st_size
                while size > shrinkStep {
                    size -= shrinkStep
                    guard ftruncate(fd, size) == 0 else { break }
                    usleep(1000)
                }
            }
            close(fd)
        }
        unlink(path)
    }

    static func syncData(_ fd: Int32, _ what: @autoclosure () -> String) throws(LMDBError) {
        while fdatasync(fd) != 0 {
            if errno != EINTR { throw LMDBError(code: errno, operation: "fdatasync(\(what()))") }
        }
    }

    /// Makes renames and unlinks in `directory` durable.
    static func syncDirectory(_ directory: String) throws(LMDBError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw LMDBError(code: errno, operation: "open(\(directory))") }
        defer { close(fd) }
        while fsync(fd) != 0 {
            if errno != EINTR { throw LMDBError(code: errno, operation: "fsync(\(directory))") }
        }
    }
}
