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
// pages for 64 random awards, ~6 ms here). The journal makes a commit durable with one sequential
// append + fdatasync instead (~0.2 ms), and LMDB itself runs with MDB_NOSYNC. A checkpoint later
// flushes LMDB (mdb_env_sync) and drops the journal segments it covers.
//
// With MDB_NOSYNC a system crash can leave LMDB's newest meta page on disk pointing at pages that
// never reached it. So every segment starts with a *base*: the txnid and the bytes of the meta page
// of a snapshot whose pages are all on disk, and a read transaction pins that snapshot so LMDB never
// overwrites its pages until the segment is gone. Recovery writes the base meta page back into
// both meta slots (LMDB then opens exactly that snapshot) and replays every journaled transaction
// after it, in order.
//
// Files, all in the environment's directory:
//   journal-<16 hex digits: segment number>.log   segments; the oldest one's base is durable
//   journal.lock                                   flock'ed while an Environment has the folder open
//
// Segment header (little-endian): "BDGJRNL1", u32 format (1), u32 page size, u64 segment number,
// u64 base txnid, the base meta page (page size bytes), u32 CRC-32 of everything before it.
// Record: u32 body length, u32 CRC-32 of the body, body.
// Body: u8 kind, u64 txnid, then for kind 1 (transaction) the mutations:
//   u8 op (1 put, 2 delete), u8 database name length, name, u32 key length, key,
//   and for a put u32 value length, value.
// Kind 2 (cancel) says the transaction with that txnid failed to commit after it was journaled.

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
    /// A write in this transaction failed with MDB_MAP_FULL (callers may turn the error into
    /// their own, so the environment cannot rely on seeing it).
    var mapFull = false

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
        mapFull = false
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
    func seal(kind: UInt8 = 1, txnid: UInt64) -> [UInt8] {
        bytes[Self.recordHeaderSize] = kind
        storeUInt64(txnid, at: Self.recordHeaderSize + 1)
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

/// One journal segment's header: the durable base snapshot its records start from.
struct SegmentHeader: Equatable {
    static let magic = Array("BDGJRNL1".utf8)
    static let format: UInt32 = 1

    var number: UInt64
    var baseTxnid: UInt64
    var metaPage: [UInt8]

    var encoded: [UInt8] {
        var bytes = Self.magic
        bytes.appendLittleEndian(Self.format)
        bytes.appendLittleEndian(UInt32(metaPage.count))
        bytes.appendLittleEndian(number)
        bytes.appendLittleEndian(baseTxnid)
        bytes.append(contentsOf: metaPage)
        bytes.appendLittleEndian(bytes.withUnsafeBytes { crc32($0) })
        return bytes
    }

    /// Decodes a header at the start of `bytes`; nil when it is missing or damaged.
    static func decode(_ bytes: UnsafeRawBufferPointer) -> (header: SegmentHeader, size: Int)? {
        let fixed = magic.count + 4 + 4 + 8 + 8
        guard bytes.count >= fixed, bytes.prefix(magic.count).elementsEqual(magic) else { return nil }
        guard bytes.loadLittleEndian(UInt32.self, at: 8) == format else { return nil }
        let pageSize = Int(bytes.loadLittleEndian(UInt32.self, at: 12))
        let size = fixed + pageSize + 4
        guard pageSize > 0, bytes.count >= size else { return nil }
        let crc = crc32(UnsafeRawBufferPointer(rebasing: bytes[..<(size - 4)]))
        guard crc == bytes.loadLittleEndian(UInt32.self, at: size - 4) else { return nil }
        let header = SegmentHeader(
            number: bytes.loadLittleEndian(UInt64.self, at: 16),
            baseTxnid: bytes.loadLittleEndian(UInt64.self, at: 24),
            metaPage: Array(bytes[fixed..<(fixed + pageSize)]))
        return (header, size)
    }
}

/// A journal record read back from a segment.
struct JournalRecord {
    enum Kind: UInt8 {
        case transaction = 1
        case cancel = 2
    }

    var kind: Kind
    var txnid: UInt64
    /// The mutations (after the body header), within the segment's bytes.
    var mutations: Range<Int>
}

/// The segment files in a directory and their contents.
enum JournalFiles {
    static let prefix = "journal-"
    static let suffix = ".log"
    static let lockName = "journal.lock"

    static func name(_ number: UInt64) -> String {
        let hex = String(number, radix: 16)
        return prefix + String(repeating: "0", count: max(0, 16 - hex.count)) + hex + suffix
    }

    /// Segment numbers present in `directory`, oldest first. Leftover temporary files are removed.
    static func segments(in directory: String) throws(LMDBError) -> [UInt64] {
        guard let dir = opendir(directory) else { throw LMDBError(code: errno, operation: "opendir(\(directory))") }
        defer { closedir(dir) }
        var numbers: [UInt64] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard name.hasPrefix(prefix) else { continue }
            if name.hasSuffix(suffix + ".tmp") {
                unlink(directory + "/" + name)
                continue
            }
            guard name.hasSuffix(suffix) else { continue }
            let digits = name.dropFirst(prefix.count).dropLast(suffix.count)
            if digits.count == 16, let number = UInt64(digits, radix: 16) { numbers.append(number) }
        }
        return numbers.sorted()
    }

    /// Reads a whole file.
    static func read(_ path: String) throws(LMDBError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw LMDBError(code: errno, operation: "open(\(path))") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw LMDBError(code: errno, operation: "read(\(path))")
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[..<count])
        }
    }

    /// How a segment's records end.
    enum Ending: Equatable {
        /// At the end of the file.
        case clean
        /// With a record cut short by the end of the file: a write that never completed (harmless at
        /// the end of the newest segment, where it was never acknowledged).
        case tornTail
        /// With a record that fails its CRC or is malformed while more bytes follow it: damage.
        case damaged(offset: Int)
    }

    /// Parses the records of a segment, stopping at the first one that is incomplete or damaged.
    static func records(_ bytes: UnsafeRawBufferPointer, from start: Int) -> (records: [JournalRecord], ending: Ending)
    {
        var records: [JournalRecord] = []
        var offset = start
        let headerSize = MutationRecorder.recordHeaderSize
        while offset < bytes.count {
            guard bytes.count - offset >= headerSize else { return (records, .tornTail) }
            let length = Int(bytes.loadLittleEndian(UInt32.self, at: offset))
            let crc = bytes.loadLittleEndian(UInt32.self, at: offset + 4)
            let bodyStart = offset + headerSize
            guard bytes.count - bodyStart >= length else {
                // A length that runs past the end is a torn write, unless it is implausibly short.
                return (records, length >= MutationRecorder.bodyHeaderSize ? .tornTail : .damaged(offset: offset))
            }
            let end = bodyStart + length
            guard length >= MutationRecorder.bodyHeaderSize,
                crc32(UnsafeRawBufferPointer(rebasing: bytes[bodyStart..<end])) == crc,
                let kind = JournalRecord.Kind(rawValue: bytes[bodyStart])
            else {
                // The last record's bytes may be partly written even though its length is in place.
                return (records, end == bytes.count ? .tornTail : .damaged(offset: offset))
            }
            records.append(
                JournalRecord(
                    kind: kind, txnid: bytes.loadLittleEndian(UInt64.self, at: bodyStart + 1),
                    mutations: (bodyStart + MutationRecorder.bodyHeaderSize)..<end))
            offset = end
        }
        return (records, .clean)
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
