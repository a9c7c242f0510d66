internal import CLMDB

/// An error returned by an LMDB call (or an OS call made while setting up an environment).
public struct LMDBError: Error, CustomStringConvertible, Sendable {
    /// LMDB's return code, or an `errno` value for OS-level failures.
    public let code: Int32
    /// Human-readable text for `code`, from `mdb_strerror` (which also covers `errno` values).
    public let message: String
    /// The call that failed, e.g. `"mdb_put"` or `"mdb_env_open(/path)"`.
    public let operation: String

    init(code: Int32, operation: String) {
        self.code = code
        self.message = String(cString: mdb_strerror(code))
        self.operation = operation
    }

    /// The map is full: the environment needs a larger `mapSize`.
    public var isMapFull: Bool { code == MDB_MAP_FULL }

    /// The key already exists (only surfaced by calls that do not map it to a `false` result).
    public var isKeyExists: Bool { code == MDB_KEYEXIST }

    /// All reader slots are in use: raise `maxReaders` or end long-lived read transactions.
    public var isReadersFull: Bool { code == MDB_READERS_FULL }

    public var description: String { "\(operation): \(message) (\(code))" }
}

/// Throws an `LMDBError` for any non-zero return code. The operation name is built lazily so the
/// success path pays nothing for string interpolation.
@inline(__always)
func check(_ rc: Int32, _ operation: @autoclosure () -> String) throws(LMDBError) {
    if rc != MDB_SUCCESS {
        throw LMDBError(code: rc, operation: operation())
    }
}

extension MDB_val {
    /// Borrows caller memory; LMDB never writes through input keys/values, so `mutating:` is safe.
    init(_ buffer: UnsafeRawBufferPointer) {
        self.init(mv_size: buffer.count, mv_data: UnsafeMutableRawPointer(mutating: buffer.baseAddress))
    }

    var buffer: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: mv_data, count: mv_size)
    }
}
