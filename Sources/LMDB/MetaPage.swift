#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// LMDB's two meta pages (pages 0 and 1 of `data.mdb`); the one with the higher txnid is current and
/// transaction N writes slot N % 2.
///
/// The journal copies a meta page as opaque bytes and puts it back on recovery. It only relies on
/// the few fields below (LMDB 0.9's `MDB_page` header and `MDB_meta` on 64-bit), and checks them
/// every time it reads a page, so a different layout fails loudly instead of restoring garbage.
enum MetaPage {
    static let pageNumberOffset = 0
    static let flagsOffset = 10
    static let metaFlag: UInt16 = 0x08
    static let magicOffset = 16
    static let magic: UInt32 = 0xBEEF_C0DE
    static let txnidOffset = 144

    /// Reads the meta page of the committed transaction `txnid` through LMDB's own file descriptor
    /// (the page cache: it need not be on disk yet).
    static func read(fd: Int32, pageSize: Int, txnid: UInt64) throws(LMDBError) -> [UInt8] {
        let slot = txnid & 1
        var page = [UInt8](repeating: 0, count: pageSize)
        let count = page.withUnsafeMutableBytes { pread(fd, $0.baseAddress, pageSize, off_t(Int(slot) * pageSize)) }
        guard count == pageSize else {
            throw LMDBError(code: count < 0 ? errno : EIO, operation: "pread(meta page \(slot))")
        }
        try check(page, slot: slot, txnid: txnid)
        return page
    }

    /// Writes `page` (the meta page of `txnid`) into both slots of the data file and syncs it, so that
    /// LMDB opens exactly that snapshot. The copy in the other slot gets that slot's page number.
    static func restore(dataPath: String, page: [UInt8], txnid: UInt64) throws(LMDBError) {
        let slot = txnid & 1
        try check(page, slot: slot, txnid: txnid)
        let fd = open(dataPath, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw LMDBError(code: errno, operation: "open(\(dataPath)) to restore the journal base") }
        defer { close(fd) }
        var other = page
        withUnsafeBytes(of: (1 - slot).littleEndian) { raw in
            for index in 0..<8 { other[pageNumberOffset + index] = raw[index] }
        }
        for (target, bytes) in [(slot, page), (1 - slot, other)] {
            let written = bytes.withUnsafeBytes {
                pwrite(fd, $0.baseAddress, $0.count, off_t(Int(target) * bytes.count))
            }
            guard written == bytes.count else {
                throw LMDBError(
                    code: written < 0 ? errno : EIO, operation: "pwrite(meta page \(target) of \(dataPath))")
            }
        }
        try JournalFiles.syncData(fd, dataPath)
    }

    private static func check(_ page: [UInt8], slot: UInt64, txnid: UInt64) throws(LMDBError) {
        guard page.count > txnidOffset + 8 else {
            throw LMDBError(code: EINVAL, operation: "journal: a meta page of \(page.count) bytes is too short")
        }
        let fields = page.withUnsafeBytes { raw in
            (
                number: raw.loadLittleEndian(UInt64.self, at: pageNumberOffset),
                flags: raw.loadLittleEndian(UInt16.self, at: flagsOffset),
                magic: raw.loadLittleEndian(UInt32.self, at: magicOffset),
                txnid: raw.loadLittleEndian(UInt64.self, at: txnidOffset)
            )
        }
        guard fields.number == slot, fields.flags & metaFlag != 0,
            fields.magic == magic, fields.txnid == txnid
        else {
            throw LMDBError(
                code: EINVAL,
                operation:
                    "journal: LMDB meta page \(slot) does not have the expected layout (page \(fields.number), "
                    + "magic \(String(fields.magic, radix: 16)), txnid \(fields.txnid), expected \(txnid))")
        }
    }
}
