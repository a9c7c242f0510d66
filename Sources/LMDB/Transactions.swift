internal import CLMDB

/// Marker for what a `Transaction` may do. Only `ReadOnlyMode` and `ReadWriteMode` are meaningful.
public protocol TransactionMode {}

/// Marks a read-only transaction.
public enum ReadOnlyMode: TransactionMode {}

/// Marks a read-write transaction.
public enum ReadWriteMode: TransactionMode {}

/// A read-only transaction, handed to the body of `Environment.read`.
public typealias ReadTransaction = Transaction<ReadOnlyMode>

/// A read-write transaction, handed to the body of `Environment.write`.
public typealias WriteTransaction = Transaction<ReadWriteMode>

/// An LMDB transaction, lent to the body of `Environment.read`/`Environment.write`.
///
/// Non-copyable and only ever borrowed, so it cannot escape that body; the environment ends it.
/// One generic type (rather than two) lets the read API be written once for both modes.
/// Buffers returned by reads point into the memory map: they are valid until the transaction ends and,
/// in a write transaction, only until the next write (put/delete) in it.
public struct Transaction<Mode: TransactionMode>: ~Copyable {
    let txn: OpaquePointer
    /// Collects the changes of a write transaction for the journal (nil without one, and for reads).
    let recorder: MutationRecorder?
}

// MARK: - Reads (both modes)

extension Transaction {
    /// Returns the value stored for `key`, or nil when there is none. The buffer points into the map.
    public func get(_ db: Database, key: UnsafeRawBufferPointer) throws -> UnsafeRawBufferPointer? {
        var k = MDB_val(key)
        var v = MDB_val()
        let rc = mdb_get(txn, db.dbi, &k, &v)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "mdb_get")
        return v.buffer
    }

    /// Copying convenience for `get(_:key:)`: the result stays valid after the transaction.
    public func get(_ db: Database, key: [UInt8]) throws -> [UInt8]? {
        try key.withUnsafeBytes { key in try get(db, key: key).map { Array($0) } }
    }

    /// Runs `body` with a cursor over `db`; the cursor is always closed afterwards.
    public func withCursor<T>(_ db: Database, _ body: (borrowing Cursor) throws -> T) throws -> T {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(txn, db.dbi, &cursor), "mdb_cursor_open")
        guard let cursor else { throw LMDBError(code: MDB_BAD_TXN, operation: "mdb_cursor_open") }
        defer { mdb_cursor_close(cursor) }
        let wrapped = Cursor(cursor: cursor)
        return try body(wrapped)
    }

    /// Number of entries in `db` as of this transaction.
    public func count(_ db: Database) throws -> Int {
        var stat = MDB_stat()
        try check(mdb_stat(txn, db.dbi, &stat), "mdb_stat")
        return stat.ms_entries
    }

    /// Bytes of the pages `db`'s tree takes (branch, leaf and overflow pages) as of this transaction.
    public func treeBytes(_ db: Database) throws -> Int {
        var stat = MDB_stat()
        try check(mdb_stat(txn, db.dbi, &stat), "mdb_stat")
        return (stat.ms_branch_pages + stat.ms_leaf_pages + stat.ms_overflow_pages) * Int(stat.ms_psize)
    }
}

// MARK: - Writes

extension Transaction where Mode == ReadWriteMode {
    /// Stores `value` under `key`, replacing any existing value.
    /// With `noOverwrite`, returns false (and writes nothing) if the key already exists.
    @discardableResult
    public func put(
        _ db: Database,
        key: UnsafeRawBufferPointer,
        value: UnsafeRawBufferPointer,
        noOverwrite: Bool = false
    ) throws -> Bool {
        var k = MDB_val(key)
        var v = MDB_val(value)
        let rc = mdb_put(txn, db.dbi, &k, &v, noOverwrite ? UInt32(MDB_NOOVERWRITE) : 0)
        if noOverwrite && rc == MDB_KEYEXIST { return false }
        try check(rc, "mdb_put")
        recorder?.put(db.dbi, key: key, value: value)
        return true
    }

    /// Stores `value` under a new `key`, expected to sort after every key already in `db`
    /// (`MDB_APPEND`: LMDB then touches only the last leaf page and leaves full pages behind it,
    /// where keys put in random order leave them ~70% full). A key that does not sort last is
    /// inserted where it belongs. Returns false, writing nothing, when `key` is already there.
    @discardableResult
    public func append(_ db: Database, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws -> Bool {
        var k = MDB_val(key)
        var v = MDB_val(value)
        var rc = mdb_put(txn, db.dbi, &k, &v, UInt32(MDB_APPEND))
        if rc == MDB_KEYEXIST { rc = mdb_put(txn, db.dbi, &k, &v, UInt32(MDB_NOOVERWRITE)) }
        if rc == MDB_KEYEXIST { return false }
        try check(rc, "mdb_put")
        recorder?.put(db.dbi, key: key, value: value)
        return true
    }

    /// Copying convenience for `put(_:key:value:noOverwrite:)` that always overwrites.
    public func put(_ db: Database, key: [UInt8], value: [UInt8]) throws {
        try key.withUnsafeBytes { key in
            try value.withUnsafeBytes { value in
                _ = try put(db, key: key, value: value)
            }
        }
    }

    /// Stores every entry (replacing existing values) through one cursor, in key order: LMDB then
    /// finds a key that falls on the page the cursor is already on without walking down from the
    /// root, which is most of a put when the keys are neighbours (one customer's records).
    /// A key given twice keeps its last value, as separate puts would. (This wrapper opens no
    /// `MDB_DUPSORT` database, where a cursor put would add a value instead of replacing it.)
    public func put(_ db: Database, entries: [(key: [UInt8], value: [UInt8])]) throws {
        var bytes: [UInt8] = []
        var ranges: [(key: Range<Int>, value: Range<Int>)] = []
        for (key, value) in entries {
            let keyStart = bytes.count
            bytes.append(contentsOf: key)
            bytes.append(contentsOf: value)
            ranges.append((keyStart..<keyStart + key.count, keyStart + key.count..<bytes.count))
        }
        try put(db, packed: bytes, ranges)
    }

    /// `put(_:entries:)` for entries packed in one buffer: each is a range of `bytes` for its key
    /// and one for its value (a caller building many entries then allocates once, not twice each).
    public func put(_ db: Database, packed bytes: [UInt8], _ ranges: [(key: Range<Int>, value: Range<Int>)]) throws {
        guard ranges.count > 1 else {
            // One entry: a plain put (opening a cursor allocates).
            if let only = ranges.first {
                try bytes.withUnsafeBytes { buffer in
                    _ = try put(
                        db, key: UnsafeRawBufferPointer(rebasing: buffer[only.key]),
                        value: UnsafeRawBufferPointer(rebasing: buffer[only.value]))
                }
            }
            return
        }
        // LMDB's default order (bytes compared up to the shorter length, then the shorter first);
        // the order only matters for speed. The index breaks ties so that the last of equal keys
        // is written last.
        let order = ranges.indices.sorted { a, b in
            let (left, right) = (bytes[ranges[a].key], bytes[ranges[b].key])
            if left.lexicographicallyPrecedes(right) { return true }
            if right.lexicographicallyPrecedes(left) { return false }
            return a < b
        }
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(txn, db.dbi, &cursor), "mdb_cursor_open")
        guard let cursor else { throw LMDBError(code: MDB_BAD_TXN, operation: "mdb_cursor_open") }
        defer { mdb_cursor_close(cursor) }
        try bytes.withUnsafeBytes { buffer in
            for index in order {
                let key = UnsafeRawBufferPointer(rebasing: buffer[ranges[index].key])
                let value = UnsafeRawBufferPointer(rebasing: buffer[ranges[index].value])
                var k = MDB_val(key)
                var v = MDB_val(value)
                try check(mdb_cursor_put(cursor, &k, &v, 0), "mdb_cursor_put")
                recorder?.put(db.dbi, key: key, value: value)
            }
        }
    }

    /// `MDB_RESERVE`: reserves `count` bytes for the value of `key` and lets `fill` write them in place,
    /// avoiding an intermediate buffer. `fill` must initialize all `count` bytes and must not keep the
    /// buffer. If `fill` throws, the key is deleted (its previous value was already replaced) and the
    /// error is rethrown; let it abort the transaction to restore the previous state.
    public func put(
        _ db: Database,
        key: UnsafeRawBufferPointer,
        reservingCount count: Int,
        _ fill: (UnsafeMutableRawBufferPointer) throws -> Void
    ) throws {
        var k = MDB_val(key)
        var v = MDB_val(mv_size: count, mv_data: nil)
        try check(mdb_put(txn, db.dbi, &k, &v, UInt32(MDB_RESERVE)), "mdb_put(reserve)")
        do {
            try fill(UnsafeMutableRawBufferPointer(start: v.mv_data, count: v.mv_size))
            recorder?.put(db.dbi, key: key, value: v.buffer)
        } catch {
            // Don't leave uninitialized bytes behind if the caller catches and commits anyway.
            var k = MDB_val(key)
            if mdb_del(txn, db.dbi, &k, nil) == MDB_SUCCESS { recorder?.delete(db.dbi, key: key) }
            throw error
        }
    }

    /// Deletes `key`; returns false when it was absent.
    @discardableResult
    public func delete(_ db: Database, key: UnsafeRawBufferPointer) throws -> Bool {
        var k = MDB_val(key)
        let rc = mdb_del(txn, db.dbi, &k, nil)
        if rc == MDB_NOTFOUND { return false }
        try check(rc, "mdb_del")
        recorder?.delete(db.dbi, key: key)
        return true
    }

    /// Copying convenience for `delete(_:key:)`.
    @discardableResult
    public func delete(_ db: Database, key: [UInt8]) throws -> Bool {
        try key.withUnsafeBytes { key in try delete(db, key: key) }
    }
}

/// Opens (creating if needed) a named database in a write transaction of its own. The caller makes
/// sure no other write transaction of this process is running.
func openNamedDatabase(_ env: OpaquePointer, _ name: String) throws(LMDBError) -> MDB_dbi {
    var txn: OpaquePointer?
    try check(mdb_txn_begin(env, nil, 0, &txn), "mdb_txn_begin(mdb_dbi_open(\(name)))")
    var dbi: MDB_dbi = 0
    let rc = mdb_dbi_open(txn, name, UInt32(MDB_CREATE), &dbi)
    guard rc == MDB_SUCCESS else {
        mdb_txn_abort(txn)
        throw LMDBError(code: rc, operation: "mdb_dbi_open(\(name))")
    }
    // mdb_txn_commit frees the transaction even when it fails.
    try check(mdb_txn_commit(txn), "mdb_txn_commit(mdb_dbi_open(\(name)))")
    return dbi
}
