internal import CLMDB

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Brings an environment back to its last journaled state after any stop, clean or not.
enum JournalRecovery {
    /// What the files say about `data.mdb` before it is opened.
    enum State {
        /// No journal files: a new folder, or one written with LMDB syncing every commit.
        case noJournal
        /// Closed cleanly: `data.mdb` was synced at this txnid and the journal is not needed.
        case clean(txnid: UInt64, segments: [UInt64])
        /// Not closed cleanly: `data.mdb` has been replaced by the base; replay `segments`.
        case restoredBase(segments: [UInt64])

        /// The journal segments still present (none after `.noJournal`, which removes leftovers).
        var segments: [UInt64] {
            switch self {
            case .noJournal: []
            case .clean(_, let segments), .restoredBase(let segments): segments
            }
        }
    }

    /// Before `mdb_env_open`: inspects the journal files and, after an unclean stop, copies the base
    /// back over `data.mdb` (whatever the crash left in it).
    static func prepare(directory: String) throws(LMDBError) -> State {
        try JournalFiles.removeLeftovers(in: directory)
        let segments = try JournalFiles.segments(in: directory)
        let cleanPath = directory + "/" + JournalFiles.cleanName
        let basePath = directory + "/" + JournalFiles.baseName
        if access(cleanPath, F_OK) == 0 {
            let text = String(decoding: try JournalFiles.read(cleanPath), as: UTF8.self)
            guard let txnid = UInt64(text.filter { !$0.isWhitespace }) else {
                throw damaged("\(JournalFiles.cleanName) does not hold a transaction id", directory)
            }
            return .clean(txnid: txnid, segments: segments)
        }
        if access(basePath, F_OK) == 0 {
            try copy(basePath, to: directory + "/data.mdb", directory: directory)
            return .restoredBase(segments: segments)
        }
        // Segments without a base hold nothing data.mdb lacks: the base is the first file written
        // (before any record) and the last removed (a non-journal open removes it first, once
        // data.mdb is synced). So a crash during either leaves data.mdb authoritative.
        try Journal.remove(segments, in: directory)
        return .noJournal
    }

    /// After `mdb_env_open` on a restored base: applies every journaled transaction newer than the
    /// base (per `SequenceMarker`), in order, each in its own transaction. Returns how many were applied.
    ///
    /// What may end each segment, and what is damage: the top of `JournalFormat.swift`. On damage
    /// recovery stops with an error rather than skip acknowledged writes.
    /// Replays the records above the base's sequence. A map that fills up grows within
    /// `maxMapSize` (as `Environment.growMapIfNeeded` would have while they were written).
    static func replay(
        env: OpaquePointer, directory: String, segments: [UInt64], maxMapSize: Int?, writeMap: Bool
    ) throws(LMDBError) -> Int {
        let base = try SequenceMarker.read(env)
        var parsed: [ParsedSegment] = []
        for segment in segments {
            let name = JournalFiles.name(segment)
            let bytes = try JournalFiles.read(directory + "/" + name)
            let (header, records, end, ending) = try bytes.withBytes { raw throws(LMDBError) in
                guard let header = SegmentHeader.decode(raw), header.number == segment else {
                    throw damaged("the header of \(name) is damaged", directory)
                }
                let (records, end, ending) = JournalFiles.records(raw, from: SegmentHeader.size)
                return (header, records, end, ending)
            }
            parsed.append(
                ParsedSegment(name: name, header: header, bytes: bytes, records: records, end: end, ending: ending))
        }
        // A checkpoint removes the segments its base covers once the base is in place; a crash
        // during that removal can leave some behind, apart from the rest. Segments before the last
        // gap are passed over (the checkpoint after this recovery removes them) when the base
        // covers them: the segment after the gap begins at or below the base's sequence, and they
        // are sound and hold nothing newer than the base. Otherwise the gap is a segment lost.
        let lastGap = parsed.indices.dropFirst().last { parsed[$0].header.number != parsed[$0 - 1].header.number + 1 }
        if let lastGap, parsed[lastGap].header.previousSequence <= base,
            parsed[..<lastGap].allSatisfy({ segment in
                if case .damaged = segment.ending { return false }
                return (segment.records.last?.sequence ?? 0) <= base
            })
        {
            parsed.removeFirst(lastGap)
        }
        // The rest are numbered one after another; a gap means a segment went missing.
        let numbers = parsed.map(\.header.number)
        for (earlier, later) in zip(numbers, numbers.dropFirst()) where later != earlier + 1 {
            throw damaged("\(JournalFiles.name(earlier + 1)) is missing between two segments", directory)
        }
        try checkEndings(parsed, directory)
        var applied = 0
        var last = base
        var databases: [[UInt8]: MDB_dbi] = [:]
        var marker: MDB_dbi?
        for segment in parsed {
            try segment.bytes.withBytes { raw throws(LMDBError) in
                let records = segment.records
                for (index, record) in records.enumerated() where record.kind == .transaction && record.sequence > base
                {
                    // A cancel right after a record says that transaction failed to commit.
                    let next = records.index(after: index)
                    if next < records.endIndex, records[next].kind == .cancel, records[next].sequence == record.sequence
                    {
                        continue
                    }
                    guard record.sequence > last else {
                        throw damaged("\(segment.name) has record \(record.sequence) after \(last)", directory)
                    }
                    last = record.sequence
                    while true {
                        do throws(LMDBError) {
                            try apply(
                                raw[record.mutations], sequence: record.sequence, env: env, databases: &databases,
                                marker: &marker, segment: segment.name)
                            break
                        } catch  where error.isMapFull {
                            let (current, used) = try Environment.usage(env)
                            guard let maxMapSize,
                                let size = Environment.grownMapSize(
                                    current: current, used: used, maxMapSize: maxMapSize,
                                    freeDiskBytes: Environment.freeDiskBytes(directory))
                            else { throw error }
                            // The aborted transaction may have opened databases: their handles went with it.
                            databases.removeAll()
                            try Environment.resize(env, to: size, writeMap: writeMap, path: directory)
                        }
                    }
                    applied += 1
                }
            }
        }
        return applied
    }

    /// A segment as read back.
    struct ParsedSegment {
        var name: String
        var header: SegmentHeader
        var bytes: [UInt8]
        var records: [JournalRecord]
        /// Where its valid records end.
        var end: Int
        var ending: JournalFiles.Ending
    }

    /// Refuses segments whose endings are not what a crash can leave (see `JournalFormat.swift`):
    /// the newest may end in anything but proven damage; an older one must hold every record up
    /// to the sequence its successor's header names, and may end unfinished only if no later
    /// segment holds records.
    static func checkEndings(_ segments: [ParsedSegment], _ directory: String) throws(LMDBError) {
        var reached = segments.first?.header.previousSequence ?? 0
        for (index, segment) in segments.enumerated() {
            if case .damaged(let offset) = segment.ending {
                throw damaged("\(segment.name) has a damaged record at byte \(offset)", directory)
            }
            if let last = segment.records.last { reached = max(reached, last.sequence) }
            guard index + 1 < segments.count else { break }
            let next = segments[index + 1]
            if next.header.previousSequence > reached {
                throw damaged(
                    "\(segment.name) has a damaged record at byte \(segment.end): its records end at sequence "
                        + "\(reached) but \(next.name) begins after sequence \(next.header.previousSequence)",
                    directory)
            }
            if case .unfinished(let offset) = segment.ending,
                let later = segments[(index + 1)...].first(where: { !$0.records.isEmpty })
            {
                throw damaged(
                    "\(segment.name) has a damaged record at byte \(offset) (not at its end: \(later.name) has records)",
                    directory)
            }
        }
    }

    private static func apply(
        _ mutations: UnsafeRawBufferPointer.SubSequence, sequence: UInt64, env: OpaquePointer,
        databases: inout [[UInt8]: MDB_dbi], marker: inout MDB_dbi?, segment: String
    ) throws(LMDBError) {
        if marker == nil { marker = try SequenceMarker.open(env) }
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, 0, &txn), "mdb_txn_begin(journal replay)")
        do throws(LMDBError) {
            var reader = ByteReader(bytes: UnsafeRawBufferPointer(rebasing: mutations), segment: segment)
            while !reader.atEnd {
                let op = try reader.take(1)[0]
                let name = Array(try reader.take(Int(try reader.take(1)[0])))
                let key = try reader.take(Int(try reader.uint32()))
                let dbi = try database(name, txn: txn, cache: &databases)
                var k = MDB_val(key)
                switch op {
                case 1:
                    var v = MDB_val(try reader.take(Int(try reader.uint32())))
                    try check(mdb_put(txn, dbi, &k, &v, 0), "mdb_put(journal replay)")
                case 2:
                    let rc = mdb_del(txn, dbi, &k, nil)
                    if rc != MDB_NOTFOUND { try check(rc, "mdb_del(journal replay)") }
                default:
                    throw LMDBError(code: EINVAL, operation: "journal replay: unknown operation \(op) in \(segment)")
                }
            }
            try SequenceMarker.write(txn!, marker!, sequence)
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

    /// Copies `source` over `target` through a temporary file, synced and renamed into place.
    private static func copy(_ source: String, to target: String, directory: String) throws(LMDBError) {
        let temporary = directory + "/journal-restore.tmp"
        try JournalFiles.writeDurably(target, temporary: temporary, directory: directory) { fd throws(LMDBError) in
            try JournalFiles.readChunks(source) { chunk throws(LMDBError) in
                try JournalFiles.writeAll(fd, chunk, temporary)
            }
        }
    }

    static func damaged(_ what: String, _ directory: String) -> LMDBError {
        LMDBError(code: EIO, operation: "journal recovery in \(directory): \(what)")
    }
}

/// Reads a record's fields in order, refusing to read past its end.
private struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let segment: String
    var offset = 0

    var atEnd: Bool { offset >= bytes.count }

    mutating func take(_ count: Int) throws(LMDBError) -> UnsafeRawBufferPointer {
        guard count >= 0, bytes.count - offset >= count else {
            throw LMDBError(code: EINVAL, operation: "journal replay: a record in \(segment) is malformed")
        }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }

    mutating func uint32() throws(LMDBError) -> UInt32 {
        try take(4).loadLittleEndian(UInt32.self, at: 0)
    }
}
