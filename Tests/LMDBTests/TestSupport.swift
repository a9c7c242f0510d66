import Foundation
import LMDB

/// A fresh directory under the system temp dir, removed by `withTemporaryDirectory`.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let path = NSTemporaryDirectory() + "lmdb-tests-" + UUID().uuidString
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

/// Opens an environment with one database "test" in a temporary directory; closes and removes it afterwards.
func withTestEnvironment<T>(
    options: Environment.Options = .init(mapSize: 16 << 20),
    _ body: (Environment, Database) throws -> T
) throws -> T {
    try withTemporaryDirectory { path in
        let env = try Environment(path: path, options: options)
        defer { env.close() }
        return try body(env, try env.openDatabase("test"))
    }
}

func bytes(_ string: String) -> [UInt8] { Array(string.utf8) }

func string(_ buffer: UnsafeRawBufferPointer) -> String { String(decoding: buffer, as: UTF8.self) }

struct TestFailure: Error {}

extension Transaction where Mode == ReadWriteMode {
    func put(_ db: Database, _ key: String, _ value: String) throws {
        try put(db, key: bytes(key), value: bytes(value))
    }
}

extension Transaction {
    func get(_ db: Database, _ key: String) throws -> String? {
        try get(db, key: bytes(key)).map { String(decoding: $0, as: UTF8.self) }
    }
}
