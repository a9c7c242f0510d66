internal import CLMDB

/// A cursor over one database, lent to the body of `Transaction.withCursor`, which closes it.
///
/// Returned buffers point into the memory map and follow the transaction's validity rules.
public struct Cursor: ~Copyable {
    /// A key/value pair pointing into the memory map.
    public typealias Entry = (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)

    let cursor: OpaquePointer

    /// Moves to the first entry; nil if the database is empty.
    public func first() throws -> Entry? { try get(MDB_FIRST, "MDB_FIRST") }

    /// Moves to the last entry; nil if the database is empty.
    public func last() throws -> Entry? { try get(MDB_LAST, "MDB_LAST") }

    /// Moves to the next entry (the first one on a fresh cursor); nil past the end.
    public func next() throws -> Entry? { try get(MDB_NEXT, "MDB_NEXT") }

    /// Moves to the previous entry (the last one on a fresh cursor); nil before the start.
    public func prev() throws -> Entry? { try get(MDB_PREV, "MDB_PREV") }

    /// Moves to the first entry whose key is >= `key` (`MDB_SET_RANGE`); nil if there is none.
    public func seek(atLeast key: UnsafeRawBufferPointer) throws -> Entry? {
        try get(MDB_SET_RANGE, "MDB_SET_RANGE", key: key)
    }

    /// Calls `body` for each entry whose key starts with `prefix`, in key order; `body` returns false
    /// to stop early. An empty prefix visits every entry.
    public func forEach(
        prefix: UnsafeRawBufferPointer,
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        // LMDB rejects zero-length keys, so an empty prefix starts at the first entry instead.
        var entry = prefix.isEmpty ? try first() : try seek(atLeast: prefix)
        while let (key, value) = entry, Self.hasPrefix(key, prefix) {
            guard try body(key, value) else { return }
            entry = try next()
        }
    }

    /// Copying convenience for `forEach(prefix:_:)` taking the prefix as bytes.
    public func forEach(
        prefix: [UInt8],
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        try prefix.withUnsafeBytes { prefix in try forEach(prefix: prefix, body) }
    }

    private func get(
        _ op: MDB_cursor_op,
        _ name: @autoclosure () -> String,
        key: UnsafeRawBufferPointer? = nil
    ) throws -> Entry? {
        var k = key.map(MDB_val.init) ?? MDB_val()
        var v = MDB_val()
        let rc = mdb_cursor_get(cursor, &k, &v, op)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "mdb_cursor_get(\(name()))")
        return (k.buffer, v.buffer)
    }

    private static func hasPrefix(_ key: UnsafeRawBufferPointer, _ prefix: UnsafeRawBufferPointer) -> Bool {
        guard key.count >= prefix.count else { return false }
        return UnsafeRawBufferPointer(rebasing: key[..<prefix.count]).elementsEqual(prefix)
    }
}
