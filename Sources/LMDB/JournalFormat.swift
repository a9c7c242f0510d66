internal import CLMDB
internal import CZlib

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// The write-ahead journal: why it exists and how it stays correct.
//
// A durable LMDB commit fsyncs every page the transaction touched, scattered over the file (~150
// pages for 64 random awards, ~6 ms here). With the journal, a commit is made durable by one
// sequential append + fdatasync instead (~0.2 ms), and LMDB itself runs with MDB_NOSYNC, so
// `data.mdb` on disk is only a cache that the kernel writes back when it likes.
//
// What survives any crash is a *base*, `journal-base.mdb`: a consistent copy of the environment
// (a compacting mdb_env_copyfd2 written with O_DIRECT where the file system allows, made by a
// background checkpoint), plus the journal segments written since. Each journal record carries a
// sequence number of the journal's own, which the same transaction also stores in the
// environment (`SequenceMarker`); recovery copies the base
// back over `data.mdb` and replays, in order, every record with a sequence above the base's.
// (Not LMDB's txnids: a compacting copy renumbers them from 1.)
// A clean close syncs `data.mdb` and writes `journal.clean` (its txnid), so the next open skips
// recovery. (Keeping `data.mdb` itself crash-consistent would need its old pages pinned between
// checkpoints; an earlier version did that and every commit's copy-on-write pages then had to
// reach the disk: ~300 MB/s of writes at 10k awards/s.)
//
// Files, all in the environment's directory:
//   journal-<16 hex digits: segment number>.log   segments, oldest first
//   journal-base.mdb                               the base copy
//   journal.clean                                  present only after a clean close
//   journal.lock                                   flock'ed while an Environment has the folder open
//   journal-*.tmp                                  work in progress: a file being written before
//                                                  its rename, a prepared segment waiting to be
//                                                  used, old segments kept to be zeroed into new
//                                                  ones (retired-*), the previous base kept to be
//                                                  written over by the next (spare-base), or a
//                                                  large old file (trash-*) being freed in steps;
//                                                  any left at open is deleted
//
// Segment header (little-endian): "BDGJRNL2", u32 format (2), u64 segment number, u64 the last
// sequence journaled before the segment began, u32 CRC-32 of everything before it.
// Record: u32 body length, u32 CRC-32 of the body, body.
// Body: u8 kind, u64 sequence, then for kind 1 (transaction) the mutations:
//   u8 op (1 put, 2 delete), u8 database name length, name, u32 key length, key,
//   and for a put u32 value length, value.
// Kind 2 (cancel) says the transaction with that sequence failed to commit after it was journaled.
//
// Segments are written in place, never grown. A segment file is created at its final size filled
// with real zeros (written and fdatasync'ed: fallocate alone would leave unwritten extents, whose
// first write is a metadata update again), then its header is written and synced and it is renamed
// into place (and the directory synced) when the writer rotates to it (`SegmentPreparer`). Records
// are pwrite'n one after another from the header on, each followed by fdatasync before its commit
// is acknowledged. As the size never changes, that fdatasync writes the data only, not the inode
// (ext4 without a journal writes the inode, a second I/O, whenever the size changed). A record
// that does not fit (with room for a cancel after it) goes into the next segment; one larger than a
// segment gets a segment sized for it. A clean close truncates the current segment to its records,
// so the files a clean run leaves behind measure what they hold. A segment holds only zeros and
// bytes written for it, so no stale record from an earlier use can be read as current: an old
// segment a checkpoint retires may become a new one (`SegmentPreparer.recycle`), but only after
// its rename out of the journal is durable and every byte of it has been zeroed and synced again.
// Reusing files this way saves fresh page-cache memory and new blocks (on the project's VM, which
// hands freed memory back to its host, each new page costs ~7 µs against ~0.4 µs for a cached one);
// so does writing each base over the one before the last (`JournalFiles.writeDurably` with a spare).
// (Older versions appended to growing files; those read back the same way.)
//
// Where a segment's records end, after a crash. Writes are serial: a record is appended and synced
// before the next is written, and the writer rotates only after every record of the old segment is
// synced (a failed write or sync stops the journal until a restart recovers it). So at any crash at
// most one record is unsynced: the last one written, in the newest segment; everything after it is
// still the zeros the file was made with, and everything before it is synced. Its pages may reach
// the disk in any order, so its bytes may be anything: a whole record, part of one, zeros followed
// by some of its later pages. Hence, reading a segment (`JournalFiles.records`):
//   - Whole, CRC-valid records are read from the header on. Only zeros (or nothing) after the last
//     one is a clean end: every segment ends that way once its writer moved on, and a segment with
//     a header and no records (a crash right after a rotation) is clean and empty. A zero body
//     length never starts a record, so zeros are never mistaken for one.
//   - A record that fails (length, CRC, kind) followed right after its extent by a whole, valid
//     record is damage wherever it is: the record after it was written later, so the failed one had
//     been synced and acknowledged.
//   - Anything else after the last valid record is "unfinished": the unsynced last write if this
//     is the newest segment, and then ignored (it was never acknowledged), including non-zero bytes
//     after zeros.
// Across segments (`JournalRecovery.replay`), an older segment (one with a successor) was fully
// synced before its successor began, and that successor's header holds the last sequence journaled
// before it (`previousSequence`). So:
//   - The records of the segments up to an older one must reach that sequence; if they do not, a
//     record the writer had synced is missing or damaged (even when only zeros follow: a write that
//     was lost), and recovery stops with an error naming the segment rather than skip it.
//   - An older segment may end "unfinished" only in one case: a recovery ignored the unsynced tail
//     of what was then the newest segment, started a new segment (whose header says the journal
//     ended at the last valid record) and crashed before its first checkpoint removed the old one.
//     Then no later segment holds records; if one does, the old segment is damaged.
//   - Segment numbers follow one another; a gap is a segment lost, with one exception. A
//     checkpoint removes the segments its base covers, oldest first (so a crash part way leaves
//     the newest of them, in line); an earlier version renamed the reusable ones away first and
//     could leave an older, smaller one behind a gap. Segments before the last gap are passed
//     over when the base covers them: the segment after the gap begins at or below the base's
//     sequence, and they are sound and hold no record newer than the base.
// What this cannot see: a damaged *cancel* record at the very end of an older segment (its
// transaction's sequence is still reached), which would replay a transaction whose commit had
// reported failure. Cancels are rare (a failed mdb_txn_commit) and the caller was told of the error.

/// Encodes the mutations of the running write transaction as a journal record.
///
/// Only touched by the thread that holds LMDB's write lock (there is one write transaction at a time),
/// hence `@unchecked Sendable`.
final class MutationRecorder: @unchecked Sendable {
    static let recordHeaderSize = 8
    static let bodyHeaderSize = 9

    /// Database names by dbi, registered as databases are opened.
    var names: [[UInt8]] = []
    private(set) var bytes: [UInt8] = []

    init() {
        bytes.reserveCapacity(64 << 10)
        reset()
    }

    var hasMutations: Bool { bytes.count > Self.recordHeaderSize + Self.bodyHeaderSize }

    func register(dbi: UInt32, name: String) {
        let index = Int(dbi)
        if names.count <= index { names.append(contentsOf: repeatElement([], count: index + 1 - names.count)) }
        names[index] = Array(name.utf8)
    }

    func reset() {
        bytes.removeAll(keepingCapacity: true)
        bytes.append(contentsOf: repeatElement(0, count: Self.recordHeaderSize + Self.bodyHeaderSize))
    }

    func put(_ dbi: UInt32, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        appendTarget(op: 1, dbi: dbi, key: key)
        appendUInt32(UInt32(value.count))
        bytes.append(contentsOf: value)
    }

    func delete(_ dbi: UInt32, key: UnsafeRawBufferPointer) {
        appendTarget(op: 2, dbi: dbi, key: key)
    }

    /// Fills in the record and body headers; returns the finished record.
    func seal(kind: UInt8 = 1, sequence: UInt64) -> [UInt8] {
        bytes[Self.recordHeaderSize] = kind
        storeUInt64(sequence, at: Self.recordHeaderSize + 1)
        let bodyCount = bytes.count - Self.recordHeaderSize
        storeUInt32(UInt32(bodyCount), at: 0)
        let crc = bytes.withUnsafeBytes { crc32(UnsafeRawBufferPointer(rebasing: $0[Self.recordHeaderSize...])) }
        storeUInt32(crc, at: 4)
        return bytes
    }

    private func appendTarget(op: UInt8, dbi: UInt32, key: UnsafeRawBufferPointer) {
        let name = Int(dbi) < names.count ? names[Int(dbi)] : []
        precondition(!name.isEmpty, "journal: database \(dbi) was not opened through Environment.openDatabase")
        bytes.append(op)
        bytes.append(UInt8(name.count))
        bytes.append(contentsOf: name)
        appendUInt32(UInt32(key.count))
        bytes.append(contentsOf: key)
    }

    private func appendUInt32(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    private func storeUInt32(_ value: UInt32, at offset: Int) {
        withUnsafeBytes(of: value.littleEndian) { raw in
            for index in 0..<4 { bytes[offset + index] = raw[index] }
        }
    }

    private func storeUInt64(_ value: UInt64, at offset: Int) {
        withUnsafeBytes(of: value.littleEndian) { raw in
            for index in 0..<8 { bytes[offset + index] = raw[index] }
        }
    }
}

/// CRC-32 (zlib's) of `buffer`: detects a torn or damaged journal record.
func crc32(_ buffer: UnsafeRawBufferPointer) -> UInt32 {
    guard let base = buffer.baseAddress, !buffer.isEmpty else { return 0 }
    return UInt32(CZlib.crc32(0, base.assumingMemoryBound(to: Bytef.self), uInt(buffer.count)))
}

/// One journal segment's header.
struct SegmentHeader: Equatable {
    static let magic = Array("BDGJRNL2".utf8)
    static let format: UInt32 = 2
    static let size = magic.count + 4 + 8 + 8 + 4

    var number: UInt64
    /// The last sequence journaled before this segment began: its records all come after it.
    var previousSequence: UInt64

    var encoded: [UInt8] {
        var bytes = Self.magic
        bytes.appendLittleEndian(Self.format)
        bytes.appendLittleEndian(number)
        bytes.appendLittleEndian(previousSequence)
        bytes.appendLittleEndian(bytes.withUnsafeBytes { crc32($0) })
        return bytes
    }

    /// Decodes a header at the start of `bytes`; nil when it is missing or damaged.
    static func decode(_ bytes: UnsafeRawBufferPointer) -> SegmentHeader? {
        guard bytes.count >= size, bytes.prefix(magic.count).elementsEqual(magic),
            bytes.loadLittleEndian(UInt32.self, at: 8) == format,
            crc32(UnsafeRawBufferPointer(rebasing: bytes[..<(size - 4)]))
                == bytes.loadLittleEndian(UInt32.self, at: size - 4)
        else { return nil }
        return SegmentHeader(
            number: bytes.loadLittleEndian(UInt64.self, at: 12),
            previousSequence: bytes.loadLittleEndian(UInt64.self, at: 20))
    }
}

/// A journal record read back from a segment.
struct JournalRecord {
    enum Kind: UInt8 {
        case transaction = 1
        case cancel = 2
    }

    var kind: Kind
    var sequence: UInt64
    /// The mutations (after the body header), within the segment's bytes.
    var mutations: Range<Int>
}

/// The segment files in a directory and their contents.
enum JournalFiles {
    static let prefix = "journal-"
    static let suffix = ".log"
    static let lockName = "journal.lock"
    static let baseName = "journal-base.mdb"
    static let cleanName = "journal.clean"

    static func name(_ number: UInt64) -> String {
        let hex = String(number, radix: 16)
        return prefix + String(repeating: "0", count: max(0, 16 - hex.count)) + hex + suffix
    }

    /// Segment numbers present in `directory`, oldest first.
    static func segments(in directory: String) throws(LMDBError) -> [UInt64] {
        var numbers: [UInt64] = []
        try forEachJournalFile(in: directory) { name in
            guard name.hasSuffix(suffix) else { return }
            let digits = name.dropFirst(prefix.count).dropLast(suffix.count)
            if digits.count == 16, let number = UInt64(digits, radix: 16) { numbers.append(number) }
        }
        return numbers.sorted()
    }

    /// Removes temporary files a crash left behind (`journal-*.tmp`). Only at open: while the
    /// journal runs, such files are work in progress (a prepared segment, a base copy).
    static func removeLeftovers(in directory: String) throws(LMDBError) {
        try forEachJournalFile(in: directory) { name in
            if name.hasSuffix(".tmp") { unlink(directory + "/" + name) }
        }
    }

    private static func forEachJournalFile(in directory: String, _ body: (String) -> Void) throws(LMDBError) {
        guard let dir = opendir(directory) else { throw LMDBError(code: errno, operation: "opendir(\(directory))") }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name.hasPrefix(prefix) { body(name) }
        }
    }

    /// How a segment's records end (the rules: the top of this file).
    enum Ending: Equatable {
        /// Only zeros, or nothing, after the last record.
        case clean
        /// Something else after the last record, at `offset`: the unsynced last write if this is
        /// the newest segment.
        case unfinished(offset: Int)
        /// A record that fails, followed right after it by a whole one: damage.
        case damaged(offset: Int)
    }

    /// Parses the records of a segment, stopping at the first one that is not whole and valid.
    static func records(
        _ bytes: UnsafeRawBufferPointer, from start: Int
    ) -> (records: [JournalRecord], end: Int, ending: Ending) {
        var records: [JournalRecord] = []
        var offset = start
        while offset < bytes.count {
            if let record = record(bytes, at: offset) {
                records.append(record)
                offset = record.mutations.upperBound
                continue
            }
            if isZero(UnsafeRawBufferPointer(rebasing: bytes[offset...])) { break }
            // Where the failed record would end if its length is right; a whole record there
            // proves it was written before another, so it had been synced.
            let headerSize = MutationRecorder.recordHeaderSize
            if bytes.count - offset >= headerSize {
                let next = offset + headerSize + Int(bytes.loadLittleEndian(UInt32.self, at: offset))
                if next < bytes.count, record(bytes, at: next) != nil {
                    return (records, offset, .damaged(offset: offset))
                }
            }
            return (records, offset, .unfinished(offset: offset))
        }
        return (records, offset, .clean)
    }

    /// The whole, CRC-valid record at `offset`, if there is one.
    static func record(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> JournalRecord? {
        let headerSize = MutationRecorder.recordHeaderSize
        guard bytes.count - offset >= headerSize else { return nil }
        let length = Int(bytes.loadLittleEndian(UInt32.self, at: offset))
        let bodyStart = offset + headerSize
        // A zero length (as in never-written space) is never a record.
        guard length >= MutationRecorder.bodyHeaderSize, bytes.count - bodyStart >= length else { return nil }
        let end = bodyStart + length
        guard
            crc32(UnsafeRawBufferPointer(rebasing: bytes[bodyStart..<end]))
                == bytes.loadLittleEndian(UInt32.self, at: offset + 4),
            let kind = JournalRecord.Kind(rawValue: bytes[bodyStart])
        else { return nil }
        return JournalRecord(
            kind: kind, sequence: bytes.loadLittleEndian(UInt64.self, at: bodyStart + 1),
            mutations: (bodyStart + MutationRecorder.bodyHeaderSize)..<end)
    }

    /// Whether every byte is zero (compared a page at a time: a segment's tail can be tens of MiB).
    static func isZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let page = 4096
        return withUnsafeTemporaryAllocation(byteCount: page, alignment: 16) { zeros in
            zeros.initializeMemory(as: UInt8.self, repeating: 0)
            var offset = 0
            while offset < bytes.count {
                let count = min(page, bytes.count - offset)
                if memcmp(bytes.baseAddress! + offset, zeros.baseAddress!, count) != 0 { return false }
                offset += count
            }
            return true
        }
    }

}

extension [UInt8] {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    /// `withUnsafeBytes` keeping the body's typed error (the standard one rethrows `any Error`).
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws(LMDBError) -> R) throws(LMDBError) -> R {
        let result = withUnsafeBytes { raw in Result { () throws(LMDBError) -> R in try body(raw) } }
        return try result.get()
    }
}

extension UnsafeRawBufferPointer {
    func loadLittleEndian<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

/// Every journaled (and replayed) transaction also stores its journal sequence under one key of a
/// database of its own, so a base copy knows which journal records it already contains.
enum SequenceMarker {
    static let database = "__journal"
    static let key = Array("last_sequence".utf8)

    /// Opens (creating) the marker database; call with the write lock free, once.
    static func open(_ env: OpaquePointer) throws(LMDBError) -> MDB_dbi {
        try openNamedDatabase(env, database)
    }

    /// Stores `sequence` in `txn` (not journaled: replay writes its own).
    static func write(_ txn: OpaquePointer, _ dbi: MDB_dbi, _ sequence: UInt64) throws(LMDBError) {
        var value = sequence.littleEndian
        try key.withBytes { key throws(LMDBError) in
            try Swift.withUnsafeBytes(of: &value) { value throws(LMDBError) in
                var k = MDB_val(key)
                var v = MDB_val(value)
                try check(mdb_put(txn, dbi, &k, &v, 0), "mdb_put(journal marker)")
            }
        }
    }

    /// The sequence of the last journaled transaction the environment holds; 0 if none.
    static func read(_ env: OpaquePointer) throws(LMDBError) -> UInt64 {
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), "mdb_txn_begin(journal marker)")
        defer { mdb_txn_abort(txn) }
        var dbi: MDB_dbi = 0
        let rc = mdb_dbi_open(txn, database, 0, &dbi)
        if rc == MDB_NOTFOUND { return 0 }
        try check(rc, "mdb_dbi_open(\(database))")
        return try key.withBytes { key throws(LMDBError) in
            var k = MDB_val(key)
            var v = MDB_val()
            let rc = mdb_get(txn, dbi, &k, &v)
            if rc == MDB_NOTFOUND { return 0 }
            try check(rc, "mdb_get(journal marker)")
            guard v.mv_size == 8 else {
                throw LMDBError(code: EINVAL, operation: "journal marker of \(v.mv_size) bytes")
            }
            return v.buffer.loadLittleEndian(UInt64.self, at: 0)
        }
    }
}
