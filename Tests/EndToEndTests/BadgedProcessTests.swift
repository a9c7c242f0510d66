import BadgeClient
import BadgeModel
import BadgeServer
import BadgeStore
import BadgeTestSupport
import Foundation
import LMDB
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the real `badged` binary: flags, catalogue loading, SIGTERM handling, durability across
/// process restarts.
@Suite("badged process")
struct BadgedProcessTests {
    static var binary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("badged")
    }

    static var catalogue: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../tools/demo/catalogue.yaml"
        ).standardizedFileURL.path
    }

    /// A fresh data folder (the caller removes it) and a socket path short enough for sun_path.
    static func scratch() throws -> (directory: String, socket: String) {
        let id = UUID().uuidString.prefix(8)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("badged-\(id)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return (directory, "/tmp/bdp-\(id).sock")
    }

    /// Starts badged in `directory` (loading the demo catalogue unless told not to; its log going to
    /// `log` when given) and waits until its socket accepts a client.
    func start(
        in directory: String, socket: String, loadingCatalogue: Bool = true, log: String? = nil,
        mapSizeMb: Int = 64, logLevel: String = "warning"
    ) async throws -> (SpawnedProcess, BadgeClient) {
        let process = SpawnedProcess()
        process.executableURL = Self.binary
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.arguments =
            ["--socket", socket, "--no-tcp", "--data-dir", "data"]
            + (loadingCatalogue ? ["--load-catalogue", Self.catalogue] : [])
            + ["--map-size-mb", "\(mapSizeMb)", "--log-level", logLevel]
        if let log {
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        }
        try process.run()
        // Up to 30 s: a loaded CI machine can be slow to start a process.
        for _ in 0..<600 {
            if let client = try? await BadgeClient.connect(to: .unix(path: socket)) { return (process, client) }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        throw BadgeError(.unavailable, "badged did not start serving on \(socket)")
    }

    @Test("SIGTERM stops badged cleanly (exit 0) and a new process finds every award")
    func sigtermAndRestart() async throws {
        let (directory, socket) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }

        var (process, client) = try await start(in: directory, socket: socket)
        #expect(try await client.badges().map(\.id).first == "new-member")
        // Linked for its speed (Package.swift); a linker that drops it would cost 6-9% CPU silently.
        let maps = try String(contentsOfFile: "/proc/\(process.processIdentifier)/maps", encoding: .utf8)
        #expect(maps.contains("libtcmalloc_minimal"), "badged does not allocate with tcmalloc")
        // Its own threads are named, for top -H and perf.
        let tasks = "/proc/\(process.processIdentifier)/task"
        let threadNames = try FileManager.default.contentsOfDirectory(atPath: tasks).compactMap {
            try? String(contentsOfFile: "\(tasks)/\($0)/comm", encoding: .utf8).trimmingCharacters(in: .newlines)
        }
        #expect(
            Set(threadNames).isSuperset(of: ["badges-writer", "lmdb-checkpoint", "lmdb-segments"]), "\(threadNames)")
        var issued: [Award] = []
        for index in 0..<25 {
            issued.append(
                try await client.issue(
                    IssueRequest(customerId: "p-\(index)", badgeId: "gold-elite", requestId: "p-\(index)")
                )
                .award)
        }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
        #expect(!FileManager.default.fileExists(atPath: socket))
        await client.close()

        (process, client) = try await start(in: directory, socket: socket)
        // The catalogue was not loaded twice, and every award is there.
        #expect(try await client.health().badges == 5)
        for award in issued {
            let trophyCase = try await client.list(customerId: award.customerId)
            #expect(trophyCase.entries.first?.awards == [award])
        }
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        await client.close()
    }

    @Test("a store outgrowing --map-size-mb grows, says so, and keeps every award through a SIGKILL")
    func mapGrowsPastItsFirstSize() async throws {
        let (directory, socket) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = directory + "/badged.log"
        var (process, client) = try await start(
            in: directory, socket: socket, log: log, mapSizeMb: 1, logLevel: "notice")
        // ~3 MB of awards into a 1 MiB map, eight callers at a time.
        let evidence = String(repeating: "x", count: 2_000)
        let issued = try await withThrowingTaskGroup(of: [Award].self) { group in
            for worker in 0..<8 {
                group.addTask { [client] in
                    var awards: [Award] = []
                    for index in 0..<150 {
                        let id = "g-\(worker)-\(index)"
                        awards.append(
                            try await client.issue(
                                IssueRequest(customerId: id, badgeId: "gold-elite", requestId: id, evidence: evidence)
                            ).award)
                    }
                    return awards
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(issued.count == 1_200)
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(text.contains("the store's map grew from 1 MiB to 2 MiB"), "\(text.suffix(2_000))")
        #expect(!text.contains("storage_full"))
        // Killed: the next start, with the same first size, replays a journal larger than that map.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        await client.close()

        (process, client) = try await start(in: directory, socket: socket, mapSizeMb: 1)
        var stored: Set<UInt64> = []
        for try await chunk in client.exportAwards() { stored.formUnion(chunk.awards.map(\.awardId)) }
        #expect(stored.isSuperset(of: issued.map(\.awardId)))
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        await client.close()
    }

    @Test("SIGKILL mid-load loses no acknowledged award: the next start replays the journal")
    func sigkillAndRecover() async throws {
        let (directory, socket) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }

        var (process, client) = try await start(in: directory, socket: socket)
        let loadClient = client
        let pid = process.processIdentifier
        let progress = Progress()
        // Issues keep coming from several tasks while the process is killed; only those answered
        // before the kill count.
        let awards = await withTaskGroup(of: [Award].self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var answered: [Award] = []
                    for index in 0..<10_000 {
                        let request = IssueRequest(
                            customerId: "k-\(worker)-\(index)", badgeId: "gold-elite", requestId: "k-\(worker)-\(index)"
                        )
                        guard let result = try? await loadClient.issue(request) else { break }
                        answered.append(result.award)
                        progress.count.add(1, ordering: .relaxed)
                    }
                    return answered
                }
            }
            group.addTask {
                // Killed while the load runs, once enough has been acknowledged to be worth checking.
                for _ in 0..<1000 where progress.count.load(ordering: .relaxed) < 200 {
                    try? await Task.sleep(for: .milliseconds(10))
                }
                kill(pid, SIGKILL)
                return []
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        await client.close()
        #expect(awards.count >= 200, "the load should have been running when badged was killed")

        (process, client) = try await start(in: directory, socket: socket)
        var stored: [String: Set<UInt64>] = [:]
        for customer in Set(awards.map(\.customerId)) {
            let trophyCase = try await client.list(customerId: customer)
            stored[customer] = Set(trophyCase.entries.flatMap(\.awards).map(\.awardId))
        }
        for award in awards {
            #expect(stored[award.customerId]?.contains(award.awardId) == true, "award \(award.awardId) was lost")
        }
        // The store is consistent: a retried request finds its award instead of issuing another.
        let first = try #require(awards.first)
        let retried = try await client.issue(
            IssueRequest(customerId: first.customerId, badgeId: "gold-elite", requestId: first.requestId))
        #expect(retried.award.awardId == first.awardId)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        await client.close()
    }

    @Test("a bad --load-catalogue stops start-up with the place named, and stores none of the file")
    func badCatalogue() async throws {
        let (directory, socket) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = "\(directory)/bad.yaml"
        try CatalogueFixtures.badTimeZoneInSecondBadge.write(toFile: file, atomically: true, encoding: .utf8)

        let process = SpawnedProcess()
        process.executableURL = Self.binary
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.arguments = [
            "--socket", socket, "--no-tcp", "--data-dir", "data", "--load-catalogue", file, "--map-size-mb", "64",
            "--log-level", "warning",
        ]
        let err = Pipe()
        process.standardError = err
        try process.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus != 0)
        #expect(message.contains("\(file): badges[1] (owl)"), "\(message)")
        #expect(message.contains("America/New_Yrok"), "\(message)")

        // Started again with a good catalogue: the badge before the bad one was not stored.
        let (server, client) = try await start(in: directory, socket: socket)
        #expect(try await client.health().badges == 5)
        let missing = await refusal { () async throws(BadgeError) in try await client.badge(id: "first-ok") }
        #expect(missing?.code == .notFound)
        kill(server.processIdentifier, SIGTERM)
        server.waitUntilExit()
        await client.close()
    }

    @Test("a stored badge that a newer definition rule refuses is named in a start-up warning")
    func storedBadgeBreakingARuleIsLogged() async throws {
        let (directory, socket) = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Stored as a build before the DISTINCT limit could have stored it.
        let store = try BadgeStore(path: "\(directory)/data", options: Environment.Options(mapSize: 64 << 20))
        let criteria = Criteria(criteria: [
            Criterion(key: "stores", eventType: "purchase", aggregate: .distinct, attribute: "store", target: 5000)
        ])
        try store.write { txn throws(BadgeError) in
            try store.putBadge(txn, BadgeDefinition(id: "wanderer", name: "Wanderer", criteria: criteria))
        }
        store.close()

        let log = directory + "/badged.log"
        let (process, client) = try await start(in: directory, socket: socket, loadingCatalogue: false, log: log)
        // Served as stored: the warning does not stop start-up.
        #expect(try await client.badge(id: "wanderer").criteria == criteria)
        await client.close()
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(text.contains("stored badge breaks a definition rule"), "\(text)")
        #expect(text.contains("badge=wanderer"), "\(text)")
        #expect(text.contains("criteria[0].target must be at most 1024"), "\(text)")
    }

    /// Acknowledged issues so far, shared by the load tasks.
    final class Progress: Sendable {
        let count = Atomic<Int>(0)
    }

    /// Starts badged with `--metrics-address 127.0.0.1:0` (and `arguments`) in a scratch folder;
    /// returns it with its socket and the metrics port it bound. The caller stops it and removes
    /// the folder.
    func startWithMetrics(
        _ arguments: [String] = []
    ) async throws
        -> (process: SpawnedProcess, directory: String, socket: String, metricsPort: Int)
    {
        let (directory, socket) = try Self.scratch()
        let log = directory + "/badged.log"
        #expect(FileManager.default.createFile(atPath: log, contents: nil))

        let process = SpawnedProcess()
        process.executableURL = Self.binary
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.arguments =
            [
                "--socket", socket, "--no-tcp", "--data-dir", "data", "--map-size-mb", "64",
                "--metrics-address", "127.0.0.1:0",
            ] + arguments
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try process.run()
        // The bound port (0 picks one) is in the ready line.
        var port: Int?
        for _ in 0..<600 where port == nil {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let range = text.range(of: "metrics=http://127.0.0.1:") {
                port = Int(text[range.upperBound...].prefix { $0.isNumber })
            } else {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        guard let port else {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
            Issue.record("badged printed no metrics address")
            throw CancellationError()
        }
        return (process, directory, socket, port)
    }

    @Test("--metrics-address serves the Prometheus exposition of the calls made")
    func metricsEndpoint() async throws {
        let (process, directory, socket, metricsPort) = try await startWithMetrics()
        defer {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
            try? FileManager.default.removeItem(atPath: directory)
        }

        let client = try await BadgeClient.connect(to: .unix(path: socket))
        _ = try await client.health()
        _ = try await client.health()
        await client.close()

        let response = try MetricsTests.get("/metrics", port: metricsPort)
        #expect(response.status == 200)
        let samples = MetricsTests.samples(response.body)
        #expect(samples["badges_rpc_calls_total{method=\"Health\",code=\"OK\"}"] == 2)
        // badged's buckets start at 10 µs; the first call on a connection is always timed.
        #expect(samples["badges_rpc_call_duration_seconds_count{method=\"Health\"}"] == 1)
        #expect(
            samples.keys.contains {
                $0.hasPrefix("badges_rpc_call_duration_seconds_bucket{method=\"Health\",le=\"0.00001\"")
            })
        #expect(try MetricsTests.get("/", port: metricsPort).status == 404)
    }

    @Test(
        "by default the writer plans 30 of every 100 Evaluate events with one event loop, none with two, all on one core",
        arguments: [1, 2])
    func writerShareFollowsTheEventLoops(loops: Int) async throws {
        let plannedByWriter = ServerConfiguration.availableCores == 1 ? 100 : loops == 1 ? 30 : 0
        let (process, directory, socket, metricsPort) = try await startWithMetrics(["--event-loop-threads", "\(loops)"])
        defer {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
            try? FileManager.default.removeItem(atPath: directory)
        }
        let client = try await BadgeClient.connect(to: .unix(path: socket))
        _ = try await client.putBadge(
            BadgeDefinition(
                id: "visits", name: "Visits",
                criteria: Criteria(criteria: [Criterion(key: "visits", eventType: "visit", target: 100)])))
        for index in 0..<100 {
            _ = try await client.evaluate(
                ActivityEvent(eventId: "v\(index)", customerId: "c", type: "visit", occurredAtMs: 1_000 + Int64(index)))
        }
        await client.close()
        let samples = MetricsTests.samples(try MetricsTests.get("/metrics", port: metricsPort).body)
        #expect((samples["badges_evaluate_plans_total{outcome=\"writer\"}"] ?? 0) == Double(plannedByWriter))
        let plannedAhead =
            (samples["badges_evaluate_plans_total{outcome=\"used\"}"] ?? 0)
            + (samples["badges_evaluate_plans_total{outcome=\"redone\"}"] ?? 0)
        #expect(plannedAhead == Double(100 - plannedByWriter))
    }

    @Test(
        "bad flags exit 64 with a message naming the flag",
        arguments: [
            (["--no-socket", "--no-tcp"], "nothing to listen on"),
            (["--list-cache-mb=-1"], "--list-cache-mb must be between 0"),
            (["--event-retention-days=-3"], "--event-retention-days must be between 0"),
            (["--preface-timeout-seconds=0"], "--preface-timeout-seconds must be between 1 and 3600"),
            (["--frame-timeout-seconds=3601"], "--frame-timeout-seconds must be between 1 and 3600"),
            (["--max-frame-bytes=0"], "--max-frame-bytes must be between 1 and 4294967295"),
            (["--max-reply-bytes=4294967296"], "--max-reply-bytes must be between 1 and 4294967295"),
            (["--evaluate-writer-share=101"], "--evaluate-writer-share must be between 0 and 100"),
            (
                ["--evaluate-on-writer", "--evaluate-writer-share=30"],
                "--evaluate-on-writer means --evaluate-writer-share 100"
            ),
        ])
    func badFlags(arguments: [String], expected: String) throws {
        let process = SpawnedProcess()
        process.executableURL = Self.binary
        process.arguments = arguments
        let err = Pipe()
        process.standardError = err
        try process.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 64)
        #expect(message.contains(expected), "\(message)")
    }
}
