import BadgeTestSupport
import Foundation
import Testing

@_spi(Testing) @testable import LMDB

/// Pre-zeroed segments written in place: what a power cut can leave in them, rotation, and the
/// fixed file size that keeps inode writes off the commit path.
@Suite struct JournalSegmentTests {
    /// Segments of 16 KiB, so that a few commits rotate; no automatic checkpoints.
    static let small = Environment.Options(mapSize: 4 << 20, checkpointBytes: 1 << 40, journalSegmentBytes: 16 << 10)

    static func url(_ path: String, _ name: String) -> URL { URL(fileURLWithPath: path + "/" + name) }

    /// Opens the folder with `options`, commits each value under "k<index>", stops as a crash would.
    static func crash(_ path: String, options: Environment.Options, values: [[UInt8]]) throws {
        let env = try Environment(path: path, options: options)
        let db = try env.openDatabase("test")
        for (index, value) in values.enumerated() {
            try env.write { txn in try txn.put(db, key: bytes("k\(index)"), value: value) }
        }
        env.closeWithoutCheckpoint()
    }

    static func value(_ index: Int, count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }
    }

    /// Checks that every value committed by `crash` is back, and nothing more.
    static func expectAll(_ path: String, options: Environment.Options, values: [[UInt8]]) throws {
        let env = try Environment(path: path, options: options)
        defer { env.close() }
        let db = try env.openDatabase("test")
        #expect(env.recoveredTransactions == values.count)
        let all = try JournalTests.contents(env, db)
        #expect(all.count == values.count)
        for (index, value) in values.enumerated() {
            #expect(try env.read { txn in try txn.get(db, key: bytes("k\(index)")).map(Array.init) } == value)
        }
    }

    /// A record as `Journal.commit` writes it.
    static func record(sequence: UInt64, key: String) -> [UInt8] {
        let recorder = MutationRecorder()
        recorder.register(dbi: 7, name: "test")
        Array(key.utf8).withUnsafeBytes { key in recorder.put(7, key: key, value: key) }
        return recorder.seal(sequence: sequence)
    }

    // (a)
    @Test func aPartialRecordThenZerosEndsTheNewestSegmentAndTheRecordsBeforeItAreKept() throws {
        try withTemporaryDirectory { path in
            try JournalTests.crash(path, afterCommitting: [("first", "1"), ("second", "2"), ("third", "3")])
            let segment = try JournalTests.lastSegment(path)
            let third = try JournalTests.recordRanges(segment)[2]
            // Its first bytes reached the disk, the rest did not: still the zeros the file was made with.
            try JournalTests.overwrite(
                segment, at: third.lowerBound + 12, with: [UInt8](repeating: 0, count: third.count - 12))

            let env = try Environment(path: path, options: JournalTests.manual)
            defer { env.close() }
            let db = try env.openDatabase("test")
            #expect(env.recoveredTransactions == 2)
            #expect(try env.read { txn in try txn.get(db, "second") } == "2")
            #expect(try env.read { txn in try txn.get(db, "third") } == nil)
        }
    }

    // (b)
    @Test(arguments: ["a valid record after zeros", "the last record's first page lost"])
    func nonZeroBytesAfterZerosInTheNewestSegmentAreIgnored(image: String) throws {
        try withTemporaryDirectory { path in
            try JournalTests.crash(path, afterCommitting: [("first", "1"), ("second", "2")])
            let segment = try JournalTests.lastSegment(path)
            let records = try JournalTests.recordRanges(segment)
            var kept = 2
            if image == "a valid record after zeros" {
                // An unsynced write's later page may land while an earlier one does not.
                try JournalTests.overwrite(
                    segment, at: records[1].upperBound + 4096, with: Self.record(sequence: 3, key: "ghost"))
            } else {
                try JournalTests.overwrite(segment, at: records[1].lowerBound, with: [UInt8](repeating: 0, count: 8))
                kept = 1
            }

            let env = try Environment(path: path, options: JournalTests.manual)
            defer { env.close() }
            let db = try env.openDatabase("test")
            #expect(env.recoveredTransactions == kept)
            #expect(try env.read { txn in try txn.get(db, "first") } == "1")
            #expect(try env.read { txn in try txn.get(db, "second") } == (kept == 2 ? "2" : nil))
            #expect(try env.read { txn in try txn.get(db, "ghost") } == nil)
        }
    }

    // (c): damage in the middle (a whole record follows it), at the end (only zeros follow it: the
    // next segment's header says the records went further), or a whole record lost to zeros.
    @Test(arguments: ["middle", "last", "last zeroed"])
    func aDamagedRecordInAnOlderSegmentRefusesToOpenAndNamesTheSegment(place: String) throws {
        try withTemporaryDirectory { path in
            let values = (0..<40).map { Self.value($0, count: 1000) }
            try Self.crash(path, options: Self.small, values: values)
            let names = try JournalTests.segments(path)
            #expect(names.count >= 3)
            let older = names[names.count - 2]
            let records = try JournalTests.recordRanges(Self.url(path, older))
            #expect(records.count >= 3)
            let damaged = place == "middle" ? records[1] : records.last!
            if place == "last zeroed" {
                try JournalTests.overwrite(
                    Self.url(path, older), at: damaged.lowerBound, with: [UInt8](repeating: 0, count: damaged.count))
            } else {
                try JournalTests.overwrite(
                    Self.url(path, older), at: damaged.lowerBound + 20, with: [0xFF, 0x00, 0xFF])
            }

            let error = try #require(throws: LMDBError.self) { try Environment(path: path, options: Self.small) }
            #expect(error.description.contains(older), "\(error)")
            #expect(error.description.contains("damaged record at byte \(damaged.lowerBound)"), "\(error)")
            #expect(try JournalTests.segments(path) == names)
        }
    }

    // (d), and (e): records that do not fit in the space left, and one larger than a segment.
    @Test func rotationKeepsEveryRecordAndOlderSegmentsEndInZeros() throws {
        try withTemporaryDirectory { path in
            var values = (0..<30).map { Self.value($0, count: 700) }
            values.append(Self.value(30, count: 12 << 10))  // more than what is left of a 16 KiB segment
            values.append(Self.value(31, count: 40 << 10))  // more than a whole segment
            values += (32..<40).map { Self.value($0, count: 3000) }
            try Self.crash(path, options: Self.small, values: values)
            let names = try JournalTests.segments(path)
            #expect(names.count >= 4)
            var sizes: [Int] = []
            for name in names.dropLast() {
                let bytes = Array(try Data(contentsOf: Self.url(path, name)))
                let (records, end, ending) = bytes.withUnsafeBytes {
                    JournalFiles.records($0, from: SegmentHeader.size)
                }
                #expect(ending == .clean, "\(name)")
                #expect(!records.isEmpty && end < bytes.count, "\(name): records end at \(end) of \(bytes.count)")
                sizes.append(bytes.count)
            }
            #expect(sizes.contains { $0 > 40 << 10 }, "a segment sized for the large record: \(sizes)")
            try Self.expectAll(path, options: Self.small, values: values)
        }
    }

    // (f)
    @Test func aCrashRightAfterARotationBeforeItsFirstRecordLosesNothing() throws {
        try withTemporaryDirectory { path in
            let values = (0..<10).map { Self.value($0, count: 900) }
            try Self.crash(path, options: Self.small, values: values)
            // What a rotation leaves on disk before the first record: made, given its header, renamed.
            let last = try JournalTests.segments(path).last!
            let number = UInt64(last.dropFirst(8).prefix(16), radix: 16)! + 1
            let prepared = try PreparedSegment.create(path + "/journal-prepared-test.tmp", size: 16 << 10)
            try prepared.install(
                SegmentHeader(number: number, previousSequence: 10), at: path + "/" + JournalFiles.name(number),
                directory: path)
            close(prepared.fd)
            try Self.expectAll(path, options: Self.small, values: values)
        }
    }

    // (g)
    @Test func commitsNeverChangeTheCurrentSegmentsSize() throws {
        try withTemporaryDirectory { path in
            let env = try Environment(path: path, options: JournalTests.manual)
            defer { env.close() }
            let db = try env.openDatabase("test")
            let segment = path + "/" + (try JournalTests.segments(path).last!)
            var before = stat()
            #expect(stat(segment, &before) == 0)
            for index in 0..<50 {
                try env.write { txn in try txn.put(db, "k\(index)", String(repeating: "v", count: 2000)) }
                var now = stat()
                #expect(stat(segment, &now) == 0)
                #expect(
                    now.st_ino == before.st_ino && now.st_size == before.st_size && now.st_blocks == before.st_blocks)
            }
            #expect(try JournalTests.recordRanges(URL(fileURLWithPath: segment)).count == 50)
        }
    }

    @Test func aCleanCloseCutsTheSegmentToItsRecordsAndLeavesNoSpare() throws {
        try withTemporaryDirectory { path in
            let values = (0..<20).map { Self.value($0, count: 1500) }
            do {
                let env = try Environment(path: path, options: Self.small)
                let db = try env.openDatabase("test")
                for (index, value) in values.enumerated() {
                    try env.write { txn in try txn.put(db, key: bytes("k\(index)"), value: value) }
                }
                env.close()
            }
            let last = Self.url(path, try JournalTests.segments(path).last!)
            let size = try FileManager.default.attributesOfItem(atPath: last.path)[.size] as? Int
            #expect(size == (try JournalTests.recordRanges(last).last?.upperBound))
            #expect(!(try FileManager.default.contentsOfDirectory(atPath: path)).contains { $0.hasSuffix(".tmp") })
            let env = try Environment(path: path, options: Self.small)
            defer { env.close() }
            #expect(env.recoveredTransactions == 0)
            #expect(try JournalTests.contents(env, try env.openDatabase("test")).count == values.count)
        }
    }

    /// A recovery that ignored the newest segment's unsynced tail, then crashed before its first
    /// checkpoint dropped that segment: the tail is now in an older segment, whose successor's
    /// header says the journal ended before it.
    @Test func anUnfinishedTailIgnoredByAnInterruptedRecoveryStillRecovers() throws {
        try withTemporaryDirectory { path in
            try JournalTests.crash(path, afterCommitting: [("first", "1"), ("second", "2")])
            let name = try JournalTests.segments(path).last!
            let records = try JournalTests.recordRanges(Self.url(path, name))
            try JournalTests.overwrite(
                Self.url(path, name), at: records[1].lowerBound, with: [UInt8](repeating: 0, count: 8))
            let number = UInt64(name.dropFirst(8).prefix(16), radix: 16)! + 1
            let sequence = try Data(contentsOf: Self.url(path, name)).withUnsafeBytes {
                JournalFiles.records($0, from: SegmentHeader.size).records[0].sequence
            }
            let prepared = try PreparedSegment.create(path + "/journal-prepared-test.tmp", size: 16 << 10)
            try prepared.install(
                SegmentHeader(number: number, previousSequence: sequence), at: path + "/" + JournalFiles.name(number),
                directory: path)
            close(prepared.fd)

            let env = try Environment(path: path, options: JournalTests.manual)
            defer { env.close() }
            let db = try env.openDatabase("test")
            #expect(env.recoveredTransactions == 1)
            #expect(try env.read { txn in try txn.get(db, "first") } == "1")
        }
    }
}
