import BadgeTestSupport
import Foundation
import Testing

@_spi(Testing) @testable import LMDB

#if canImport(Glibc)
    import Glibc
#endif

/// Old journal files are written over instead of freed: retired segments become new spares, zeroed
/// first, and each base is written over the one before the last. Nothing stale may survive either.
@Suite struct JournalReuseTests {
    static func inode(_ path: String) -> UInt64? {
        var status = stat()
        return stat(path, &status) == 0 ? UInt64(status.st_ino) : nil
    }

    static func names(_ path: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).sorted()
    }

    /// Waits (up to 10 s) for the preparer's spare.
    static func takeSpare(_ preparer: SegmentPreparer, size: Int) throws -> PreparedSegment {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            preparer.want()
            if let spare = preparer.take(minimumSize: size) { return spare }
            usleep(1000)
        }
        throw CocoaError(.fileWriteUnknown)
    }

    /// The base is copied with O_DIRECT where the file system takes it: set, then cleared, on
    /// the descriptor itself (a file system that refuses it returns false and changes nothing).
    @Test func theDirectFlagIsSetAndClearedOnTheDescriptor() throws {
        try withTemporaryDirectory { path in
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            let fd = open(path + "/base.tmp", O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
            try #require(fd >= 0)
            defer { close(fd) }
            let before = fcntl(fd, F_GETFL)
            if JournalFiles.setDirect(fd, true) {
                #expect(fcntl(fd, F_GETFL) != before)
                #expect(JournalFiles.setDirect(fd, false))
            }
            #expect(fcntl(fd, F_GETFL) == before)
        }
    }

    @Test func aRetiredSegmentBecomesTheNextSpareAllZeros() throws {
        try withTemporaryDirectory { path in
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            let size = 16 << 10
            let old = "journal-0000000000000003.log"
            let stale = [UInt8](repeating: 0xAB, count: size)
            #expect(FileManager.default.createFile(atPath: path + "/" + old, contents: Data(stale)))
            let oddSize = "journal-0000000000000004.log"
            #expect(FileManager.default.createFile(atPath: path + "/" + oddSize, contents: Data(count: 100)))
            let oldInode = try #require(Self.inode(path + "/" + old))

            let preparer = SegmentPreparer(directory: path, size: size)
            // Only a file of the segment size is taken; the other is the caller's to remove.
            #expect(preparer.recycle([old, oddSize]) == [oddSize])
            #expect(preparer.retiredCount == 1)
            #expect(!FileManager.default.fileExists(atPath: path + "/" + old))
            #expect(try Self.names(path).contains { $0.hasPrefix("journal-retired-") && $0.hasSuffix(".tmp") })

            preparer.start()
            let spare = try Self.takeSpare(preparer, size: size)
            #expect(Self.inode(spare.path) == oldInode)
            #expect(spare.size == size)
            let contents = Array(try Data(contentsOf: URL(fileURLWithPath: spare.path)))
            #expect(contents.count == size)
            #expect(contents.allSatisfy { $0 == 0 })
            #expect(preparer.retiredCount == 0)

            // With none retired, a new file is made (the first is kept meanwhile, so that its
            // inode number cannot be handed out again).
            let fresh = try Self.takeSpare(preparer, size: size)
            #expect(Self.inode(fresh.path) != oldInode)
            spare.discard()
            fresh.discard()
            preparer.stop()
        }
    }

    @Test func retiredSegmentsAreCappedSharedOnesNeverTakenAndStopRemovesThem() throws {
        try withTemporaryDirectory { path in
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            let size = 4096
            let names = (1...(SegmentPreparer.retiredLimit + 2)).map { JournalFiles.name(UInt64($0)) }
            for name in names {
                #expect(FileManager.default.createFile(atPath: path + "/" + name, contents: Data(count: size)))
            }
            let preparer = SegmentPreparer(directory: path, size: size)
            let rest = preparer.recycle(names)
            #expect(rest == Array(names.suffix(2)))
            #expect(preparer.retiredCount == SegmentPreparer.retiredLimit)

            // A retired file that someone linked elsewhere (a backup) is not written over.
            let retired = try Self.names(path).filter { $0.hasPrefix("journal-retired-") }
            #expect(retired.count == SegmentPreparer.retiredLimit)
            let backup = path + "/backup.log"
            let kept = [UInt8](repeating: 7, count: size)
            let handle = try #require(FileHandle(forWritingAtPath: path + "/" + retired.last!))
            try handle.write(contentsOf: Data(kept))
            try handle.close()
            #expect(link(path + "/" + retired.last!, backup) == 0)
            let backupInode = Self.inode(backup)

            preparer.start()
            let spare = try Self.takeSpare(preparer, size: size)
            #expect(Self.inode(spare.path) != backupInode)
            #expect(Array(try Data(contentsOf: URL(fileURLWithPath: backup))) == kept)
            spare.discard()
            preparer.stop()
            #expect(!(try Self.names(path)).contains { $0.hasPrefix("journal-retired-") })
            #expect(Array(try Data(contentsOf: URL(fileURLWithPath: backup))) == kept)
        }
    }

    @Test func segmentsRetiredByCheckpointsAreReusedAndEveryOneRecovers() throws {
        try withTemporaryDirectory { path in
            let options = JournalSegmentTests.small
            var model: [String: String] = [:]
            do {
                let env = try Environment(path: path, options: options)
                let db = try env.openDatabase("test")
                var seen: [UInt64: String] = [:]
                func noteSegments() throws -> Bool {
                    var reused = false
                    for name in try JournalTests.segments(path) {
                        guard let inode = Self.inode(path + "/" + name) else { continue }
                        if let earlier = seen[inode], earlier != name { reused = true }
                        seen[inode] = name
                    }
                    return reused
                }
                var reused = false
                for round in 1...40 where !reused {
                    try JournalTests.churn(env, db, round: round, model: &model)
                    reused = try noteSegments()
                    try env.checkpoint()
                }
                #expect(reused, "no segment file was used twice")
                // Every segment holds its records and then zeros: nothing of a file's earlier use.
                for name in try JournalTests.segments(path) {
                    let url = URL(fileURLWithPath: path + "/" + name)
                    let bytes = Array(try Data(contentsOf: url))
                    let end = try JournalTests.recordRanges(url).last?.upperBound ?? SegmentHeader.size
                    #expect(bytes[end...].allSatisfy { $0 == 0 }, "\(name) has non-zero bytes after its records")
                }
                try JournalTests.churn(env, db, round: 99, model: &model)
                env.closeWithoutCheckpoint()
            }
            try Data("junk".utf8).write(to: URL(fileURLWithPath: path + "/data.mdb"))
            let env = try Environment(path: path, options: options)
            defer { env.close() }
            #expect(try JournalTests.contents(env, try env.openDatabase("test")) == model)
        }
    }

    @Test func eachBaseIsWrittenOverTheOneBeforeItAndCutToItsCopy() throws {
        try withTemporaryDirectory { path in
            let options = JournalTests.manual
            let base = path + "/" + JournalFiles.baseName
            let spare = path + "/journal-spare-base.tmp"
            var model: [String: String] = [:]
            do {
                let env = try Environment(path: path, options: options)
                let db = try env.openDatabase("test")
                let value = String(repeating: "x", count: 2000)
                try env.write { txn in
                    for index in 0..<300 {
                        try txn.put(db, "big\(index)", value)
                        model["big\(index)"] = value
                    }
                }
                try env.checkpoint()
                let first = try #require(Self.inode(base))
                try env.checkpoint()
                let second = try #require(Self.inode(base))
                #expect(second != first)
                // The first base is kept to be written over.
                #expect(Self.inode(spare) == first)
                // Most of the store goes, so the next copy is much smaller than the file it reuses.
                let largeSize = try #require(FileManager.default.attributesOfItem(atPath: base)[.size] as? Int)
                try env.write { txn in
                    for index in 0..<290 {
                        try txn.delete(db, key: bytes("big\(index)"))
                        model["big\(index)"] = nil
                    }
                    try txn.put(db, "small", "after")
                    model["small"] = "after"
                }
                try env.checkpoint()
                #expect(Self.inode(base) == first)
                #expect(Self.inode(spare) == second)
                let smallSize = try #require(FileManager.default.attributesOfItem(atPath: base)[.size] as? Int)
                #expect(smallSize * 4 < largeSize, "the reused file was not cut: \(smallSize) of \(largeSize)")
                try env.write { txn in try txn.put(db, "last", "journaled only") }
                model["last"] = "journaled only"
                env.closeWithoutCheckpoint()
            }
            // Recovery starts from the base that was written over the first one.
            try Data("junk".utf8).write(to: URL(fileURLWithPath: path + "/data.mdb"))
            do {
                let env = try Environment(path: path, options: options)
                #expect(try JournalTests.contents(env, try env.openDatabase("test")) == model)
                try env.checkpoint()
                env.close()
            }
            // A clean close leaves neither the spare base nor retired segments behind.
            #expect(!(try Self.names(path)).contains { $0.hasSuffix(".tmp") })
        }
    }

    @Test func aBaseLinkedElsewhereIsNeverWrittenOver() throws {
        try withTemporaryDirectory { path in
            let env = try Environment(path: path, options: JournalTests.manual)
            defer { env.close() }
            let db = try env.openDatabase("test")
            try env.write { txn in try txn.put(db, "a", "1") }
            try env.checkpoint()
            let backup = path + "/backup.mdb"
            #expect(link(path + "/" + JournalFiles.baseName, backup) == 0)
            let saved = try Data(contentsOf: URL(fileURLWithPath: backup))
            for round in 0..<3 {
                try env.write { txn in try txn.put(db, "round\(round)", String(repeating: "y", count: 5000)) }
                try env.checkpoint()
            }
            #expect(try Data(contentsOf: URL(fileURLWithPath: backup)) == saved)
        }
    }
}
