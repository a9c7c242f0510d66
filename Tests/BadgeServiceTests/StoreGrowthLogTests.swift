import BadgeModel
import BadgeService
import BadgeStore
import Foundation
import LMDB
import Logging
import Synchronization
import Testing

/// Keeps every message logged through it, with its level.
final class CapturedLog: Sendable {
    private let lines = Mutex<[(Logger.Level, String)]>([])

    var logger: Logger {
        Logger(label: "captured") { _ in Handler(log: self) }
    }

    func messages(at level: Logger.Level) -> [String] {
        lines.withLock { $0.filter { $0.0 == level }.map(\.1) }
    }

    struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            log.lines.withLock { $0.append((event.level, "\(event.message)")) }
        }
    }
}

@Suite("What the writer logs about a growing or full store")
struct StoreGrowthLogTests {
    /// A service on a fresh store with `options`, logging into `log`.
    static func withService(
        _ options: Environment.Options, _ log: CapturedLog, _ body: (BadgeService) async throws -> Void
    ) async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("growth-log-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try BadgeStore(path: path, options: options)
        let service = BadgeService(store: store, logger: log.logger)
        defer {
            service.shutdown()
            store.close()
        }
        _ = try await service.putBadge(
            PutBadgeRequest(badge: BadgeDefinition(id: "visit", name: "Visit", repeatable: true)))
        try await body(service)
    }

    /// Issues `count` awards with 3 KB of evidence, `concurrency` at a time; returns the failures.
    static func issue(_ service: BadgeService, _ range: Range<Int>, concurrency: Int) async -> [BadgeError] {
        let evidence = String(repeating: "e", count: 3_000)
        var failures: [BadgeError] = []
        for start in stride(from: range.lowerBound, to: range.upperBound, by: concurrency) {
            let results = await withTaskGroup(of: BadgeError?.self) { group in
                for index in start..<min(start + concurrency, range.upperBound) {
                    group.addTask {
                        do {
                            _ = try await service.issue(
                                IssueRequest(
                                    customerId: "c\(index)", badgeId: "visit", requestId: "r\(index)",
                                    evidence: evidence))
                            return nil
                        } catch let error as BadgeError {
                            return error
                        } catch {
                            return BadgeError(.internal, "\(error)")
                        }
                    }
                }
                return await group.reduce(into: [BadgeError]()) { if let error = $1 { $0.append(error) } }
            }
            failures += results
        }
        return failures
    }

    @Test func eachGrowthIsANotice() async throws {
        let log = CapturedLog()
        try await Self.withService(.init(mapSize: 256 << 10, maxMapSize: 64 << 20), log) { service in
            #expect(await Self.issue(service, 0..<300, concurrency: 1).isEmpty)
        }
        let grew = log.messages(at: .notice).filter { $0.hasPrefix("the store's map grew") }
        #expect(grew.first == "the store's map grew from 256 KiB to 512 KiB", "\(grew)")
        #expect(grew.contains("the store's map grew from 512 KiB to 1 MiB"), "\(grew)")
        #expect(log.messages(at: .warning).isEmpty)
    }

    @Test func aMapAtItsLimitIsOneWarningAndFailedBatchesAreCountedNotListed() async throws {
        let log = CapturedLog()
        try await Self.withService(.init(mapSize: 256 << 10, maxMapSize: 384 << 10), log) { service in
            // Batches of 16 until well past full: every batch from then on fails.
            let failures = await Self.issue(service, 0..<600, concurrency: 16)
            #expect(failures.count > 100)
            #expect(failures.allSatisfy { $0.reason == "storage_full" }, "\(failures.prefix(2))")
        }
        #expect(log.messages(at: .notice) == ["the store's map grew from 256 KiB to 384 KiB"])
        let warnings = log.messages(at: .warning)
        let cannotGrow = warnings.filter { $0.contains("cannot grow") }
        #expect(cannotGrow.count == 1, "\(cannotGrow)")
        #expect(cannotGrow.first?.contains("its limit (--map-size-max-mb) is 384 KiB") == true, "\(cannotGrow)")
        // Dozens of failed batches within 10 s: one line.
        #expect(warnings.filter { $0.hasPrefix("batch of") }.count == 1, "\(warnings)")
    }
}
