import LMDB
import Testing

@Suite struct CursorTests {
    /// Keys deliberately inserted out of order; "app" is a prefix of "apple" and "application",
    /// and "apq" sorts right after the "app" range.
    private let keys = ["banana", "apple", "apq", "app", "application", "cherry", "apricot"]

    private func populate(_ env: Environment, _ db: Database) throws {
        try env.write { txn in
            for key in keys { try txn.put(db, key, "v-" + key) }
        }
    }

    private func collect(_ env: Environment, _ db: Database, prefix: String) throws -> [String] {
        try env.read { txn in
            try txn.withCursor(db) { cursor in
                var seen: [String] = []
                try cursor.forEach(prefix: bytes(prefix)) { key, value in
                    #expect(string(value) == "v-" + string(key))
                    seen.append(string(key))
                    return true
                }
                return seen
            }
        }
    }

    @Test func iteratesInKeyOrder() throws {
        try withTestEnvironment { env, db in
            try populate(env, db)
            let forward = try env.read { txn in
                try txn.withCursor(db) { cursor in
                    var result: [String] = []
                    var entry = try cursor.first()
                    while let current = entry {
                        result.append(string(current.key))
                        entry = try cursor.next()
                    }
                    return result
                }
            }
            #expect(forward == keys.sorted())
        }
    }

    @Test func lastAndPrev() throws {
        try withTestEnvironment { env, db in
            try populate(env, db)
            let backward = try env.read { txn in
                try txn.withCursor(db) { cursor in
                    var result: [String] = []
                    var entry = try cursor.last()
                    while let current = entry {
                        result.append(string(current.key))
                        entry = try cursor.prev()
                    }
                    return result
                }
            }
            #expect(backward == keys.sorted().reversed())
        }
    }

    @Test func emptyDatabaseCursor() throws {
        try withTestEnvironment { env, db in
            try env.read { txn throws in
                try txn.withCursor(db) { cursor throws in
                    #expect(try cursor.first() == nil)
                    #expect(try cursor.last() == nil)
                    #expect(try cursor.next() == nil)
                    #expect(try bytes("a").withUnsafeBytes { try cursor.seek(atLeast: $0) } == nil)
                }
            }
            #expect(try collect(env, db, prefix: "") == [])
        }
    }

    @Test func prefixScans() throws {
        try withTestEnvironment { env, db in
            try populate(env, db)
            #expect(try collect(env, db, prefix: "app") == ["app", "apple", "application"])
            #expect(try collect(env, db, prefix: "appl") == ["apple", "application"])
            #expect(try collect(env, db, prefix: "ap") == ["app", "apple", "application", "apq", "apricot"])
            // "applz" seeks into the middle of the "appl" range and must stop before "apq".
            #expect(try collect(env, db, prefix: "applz") == [])
            // A prefix longer than a matching key ("app" < "appx") must not match it.
            #expect(try collect(env, db, prefix: "appx") == [])
            #expect(try collect(env, db, prefix: "zzz") == [])
            #expect(try collect(env, db, prefix: "") == keys.sorted())
        }
    }

    @Test func prefixScanStopsEarly() throws {
        try withTestEnvironment { env, db in
            try populate(env, db)
            let firstTwo = try env.read { txn in
                try txn.withCursor(db) { cursor in
                    var seen: [String] = []
                    try cursor.forEach(prefix: bytes("ap")) { key, _ in
                        seen.append(string(key))
                        return seen.count < 2
                    }
                    return seen
                }
            }
            #expect(firstTwo == ["app", "apple"])
        }
    }

    @Test func prefixScanPropagatesBodyError() throws {
        try withTestEnvironment { env, db in
            try populate(env, db)
            #expect(throws: TestFailure.self) {
                try env.read { txn in
                    try txn.withCursor(db) { cursor in
                        try cursor.forEach(prefix: bytes("a")) { _, _ in throw TestFailure() }
                    }
                }
            }
            // Environment still healthy after the throw (cursor and transaction were released).
            #expect(try collect(env, db, prefix: "b") == ["banana"])
        }
    }

    @Test func seekAtLeast() throws {
        try withTestEnvironment { env, db in
            try populate(env, db)
            try env.read { txn in
                try txn.withCursor(db) { cursor in
                    #expect(try seek(cursor, "apple") == "apple")  // exact
                    #expect(try seek(cursor, "appm") == "apq")  // between keys
                    #expect(try seek(cursor, "a") == "app")  // before everything
                    #expect(try seek(cursor, "cherry") == "cherry")
                    #expect(try seek(cursor, "d") == nil)  // past the end
                    // The cursor stays positioned: next continues after the sought entry.
                    _ = try seek(cursor, "banana")
                    #expect(try cursor.next().map { string($0.key) } == "cherry")
                }
            }
        }
    }

    private func seek(_ cursor: borrowing Cursor, _ key: String) throws -> String? {
        try bytes(key).withUnsafeBytes { try cursor.seek(atLeast: $0) }.map { string($0.key) }
    }

    @Test func cursorInWriteTransactionSeesOwnWrites() throws {
        try withTestEnvironment { env, db in
            try populate(env, db)
            try env.write { txn in
                try txn.put(db, "apz", "v-apz")
                let scanned = try txn.withCursor(db) { cursor in
                    var seen: [String] = []
                    try cursor.forEach(prefix: bytes("ap")) { key, _ in
                        seen.append(string(key))
                        return true
                    }
                    return seen
                }
                #expect(scanned == ["app", "apple", "application", "apq", "apricot", "apz"])
            }
        }
    }
}
