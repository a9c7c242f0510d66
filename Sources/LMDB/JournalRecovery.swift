internal import CLMDB

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Brings an environment back to its last journaled state after any stop, clean or not.
enum JournalRecovery {
    /// Before `mdb_env_open`: if journal segments exist, writes the oldest one's base meta page back
    /// into `data.mdb`, so LMDB opens the durable snapshot the journal continues from.
    static func restoreBase(directory: String) throws(LMDBError) -> (segments: [UInt64], base: SegmentHeader?) {
        let segments = try JournalFiles.segments(in: directory)
        guard let oldest = segments.first else { return ([], nil) }
        let name = JournalFiles.name(oldest)
        let bytes = try JournalFiles.read(directory + "/" + name)
        guard let (header, _) = bytes.withUnsafeBytes({ SegmentHeader.decode($0) }), header.number == oldest else {
            throw damaged("the header of \(name) is damaged", directory)
        }
        let dataPath = directory + "/data.mdb"
        guard access(dataPath, F_OK) == 0 else {
            throw damaged("journal segments exist but data.mdb is missing", directory)
        }
        try MetaPage.restore(dataPath: dataPath, page: header.metaPage, txnid: header.baseTxnid)
        return (segments, header)
    }

    /// After `mdb_env_open` on a restored base: applies every journaled transaction after it, in
    /// order, each in its own transaction. Returns how many were applied.
    ///
    /// A partial record may end the newest segment (that write was never acknowledged); anything
    /// else that is not whole is damage, and recovery stops with an error rather than skip
    /// acknowledged writes.
    static func replay(env: OpaquePointer, directory: String, segments: [UInt64]) throws(LMDBError) -> Int {
        var applied = 0
        var databases: [[UInt8]: MDB_dbi] = [:]
        for segment in segments {
            let name = JournalFiles.name(segment)
            let bytes = try JournalFiles.read(directory + "/" + name)
            try bytes.withBytes { raw throws(LMDBError) in
                guard let (header, size) = SegmentHeader.decode(raw), header.number == segment else {
                    throw damaged("the header of \(name) is damaged", directory)
                }
                let (records, ending) = JournalFiles.records(raw, from: size)
                switch ending {
                case .clean: break
                case .tornTail where segment == segments.last: break
                case .tornTail:
                    throw damaged("\(name) ends in a partial record but newer segments follow it", directory)
                case .damaged(let offset):
                    throw damaged("\(name) has a damaged record at byte \(offset)", directory)
                }
                let cancelled = Set(records.filter { $0.kind == .cancel }.map(\.txnid))
                for (index, record) in records.enumerated() where record.kind == .transaction {
                    // A cancel names the transaction just before it that failed to commit.
                    let next = records.index(after: index)
                    if cancelled.contains(record.txnid), next < records.endIndex, records[next].kind == .cancel,
                        records[next].txnid == record.txnid
                    {
                        continue
                    }
                    try apply(raw[record.mutations], env: env, databases: &databases, segment: name)
                    applied += 1
                }
            }
        }
        return applied
    }

    private static func apply(
        _ mutations: UnsafeRawBufferPointer.SubSequence, env: OpaquePointer, databases: inout [[UInt8]: MDB_dbi],
        segment: String
    ) throws(LMDBError) {
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, 0, &txn), "mdb_txn_begin(journal replay)")
        do throws(LMDBError) {
            let bytes = UnsafeRawBufferPointer(rebasing: mutations)
            var offset = 0
            func take(_ count: Int) throws(LMDBError) -> UnsafeRawBufferPointer {
                guard count >= 0, bytes.count - offset >= count else {
                    throw LMDBError(code: EINVAL, operation: "journal replay: a record in \(segment) is malformed")
                }
                defer { offset += count }
                return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
            }
            while offset < bytes.count {
                let op = try take(1)[0]
                let name = Array(try take(Int(try take(1)[0])))
                let key = try take(Int(try take(4).loadLittleEndian(UInt32.self, at: 0)))
                let dbi = try database(name, txn: txn, cache: &databases)
                var k = MDB_val(key)
                switch op {
                case 1:
                    var v = MDB_val(try take(Int(try take(4).loadLittleEndian(UInt32.self, at: 0))))
                    try check(mdb_put(txn, dbi, &k, &v, 0), "mdb_put(journal replay)")
                case 2:
                    let rc = mdb_del(txn, dbi, &k, nil)
                    if rc != MDB_NOTFOUND { try check(rc, "mdb_del(journal replay)") }
                default:
                    throw LMDBError(code: EINVAL, operation: "journal replay: unknown operation \(op) in \(segment)")
                }
            }
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
        try check(mdb_txn_commit(txn), "mdb_txn_commit(journal replay)")
    }

    private static func database(
        _ name: [UInt8], txn: OpaquePointer?, cache: inout [[UInt8]: MDB_dbi]
    ) throws(LMDBError) -> MDB_dbi {
        if let dbi = cache[name] { return dbi }
        var dbi: MDB_dbi = 0
        try check(mdb_dbi_open(txn, String(decoding: name, as: UTF8.self), UInt32(MDB_CREATE), &dbi), "mdb_dbi_open")
        cache[name] = dbi
        return dbi
    }

    private static func damaged(_ what: String, _ directory: String) -> LMDBError {
        LMDBError(code: EIO, operation: "journal recovery in \(directory): \(what)")
    }
}
