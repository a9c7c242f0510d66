import BadgeClient
import BadgeModel
import Foundation
import Testing

/// Runs the real `badge-load` binary against a real server, with both engines, and checks its
/// counts against what the server actually did.
@Suite("badge-load")
struct LoadToolTests {
    /// The parts of `--json` these tests read.
    struct Result: Decodable {
        struct Config: Decodable {
            var engine: String
            var mode: String
        }
        struct Latency: Decodable {
            var count: UInt64
            var p50: Double
        }
        var config: Config
        var requests: UInt64
        var ok: UInt64
        var errors: [String: UInt64]
        var latency: Latency?
        var sendLag: Latency?
    }

    func load(_ arguments: [String]) async throws -> Result {
        let run = try await ToolProcess.run("badge-load", arguments + ["--json", "--quiet"])
        #expect(run.status == 0 || run.status == 1, "\(run.stderr)")
        return try JSONDecoder().decode(Result.self, from: Data(run.stdout.utf8))
    }

    static let smallData = ["--seed-customers", "50", "--seed-badges", "3", "--seed-awards", "2"]

    @Test("closed loop List: every call counted once, with both engines and both transports")
    func closedLoopList() async throws {
        try await TestServer.with { server in
            let seeded = try await ToolProcess.run(
                "badge-load", ["seed", "--socket", server.socketPath] + Self.smallData)
            #expect(seeded.status == 0, "\(seeded.stderr)")
            #expect(seeded.stdout.contains("3 badge(s) created, 100 award(s) issued"))
            let targets = [["--socket", server.socketPath], ["--address", "127.0.0.1:\(server.server.tcpPort!)"]]
            for engine in ["direct", "nio"] {
                for target in targets {
                    let result = try await load(
                        [
                            "run", "--workload", "list", "--engine", engine, "--connections", "3", "--depth", "4",
                            "--requests", "300", "--warmup", "0.1",
                        ] + target + Self.smallData)
                    #expect(result.config.engine == engine)
                    #expect(result.requests == 300, "\(engine) \(target)")
                    #expect(result.ok == 300)
                    #expect(result.errors.isEmpty)
                    #expect(result.latency?.count == 300)
                }
            }
        }
    }

    @Test(
        "Issue load creates exactly the awards it reports, spread over the given customers",
        arguments: ["direct", "nio"])
    func issueCreatesAwards(engine: String) async throws {
        try await TestServer.with { server in
            _ = try await ToolProcess.run("badge-load", ["seed", "--socket", server.socketPath] + Self.smallData)
            let result = try await load(
                [
                    "run", "--workload", "issue", "--socket", server.socketPath, "--connections", "4", "--depth", "8",
                    "--requests", "200", "--warmup", "0", "--issue-customers", "5", "--run-id", "t1",
                ] + Self.smallData)
            #expect(result.ok == 200)
            let client = try await BadgeClient.connect(to: .unix(path: server.socketPath))
            var awards = 0
            for index in 0..<5 {
                let trophyCase = try await client.list(customerId: "icust-\(index)")
                awards += trophyCase.entries.reduce(0) { $0 + $1.awards.count }
            }
            await client.close()
            #expect(awards == 200)
        }
    }

    @Test("refused calls are counted by status, not as successes")
    func refusalsCountedByStatus() async throws {
        try await TestServer.with { server in
            // Nothing seeded: every bench badge is unknown.
            for engine in ["direct", "nio"] {
                let result = try await load(
                    [
                        "run", "--workload", "issue", "--engine", engine, "--socket", server.socketPath,
                        "--connections", "2", "--requests", "40", "--warmup", "0",
                    ] + Self.smallData)
                #expect(result.requests == 40)
                #expect(result.ok == 0)
                #expect(result.errors == ["NOT_FOUND": 40], "\(engine)")
            }
        }
    }

    @Test("open loop sends on schedule: the planned number of calls, timed from the plan")
    func openLoopSchedule() async throws {
        try await TestServer.with { server in
            _ = try await ToolProcess.run("badge-load", ["seed", "--socket", server.socketPath] + Self.smallData)
            let result = try await load(
                [
                    "run", "--workload", "list", "--socket", server.socketPath, "--connections", "2", "--rate", "400",
                    "--duration", "1", "--warmup", "0.2",
                ] + Self.smallData)
            #expect(result.config.mode == "open")
            // 200 planned per connection in the measured second, give or take the boundary call.
            #expect((398...402).contains(result.requests), "\(result.requests)")
            #expect(result.ok == result.requests)
            #expect(result.sendLag?.count == result.requests)
        }
    }

    @Test(
        "a connection the server refuses ends the run with its status, with both engines", arguments: ["direct", "nio"])
    func refusedConnection(engine: String) async throws {
        try await TestServer.with(configure: { $0.maxConnections = 1 }) { server in
            let run = try await ToolProcess.run(
                "badge-load",
                [
                    "run", "--workload", "list", "--engine", engine, "--socket", server.socketPath, "--connections",
                    "2",
                    "--duration", "1", "--warmup", "0", "--json", "--quiet",
                ] + Self.smallData)
            #expect(run.status == 69, "\(run.stderr)")
            #expect(run.stderr.contains("RESOURCE_EXHAUSTED"), "\(run.stderr)")
        }
    }

    @Test("a server that goes away ends the run with UNAVAILABLE instead of hanging")
    func serverGoesAway() async throws {
        let server = try await TestServer.start()
        _ = try await ToolProcess.run("badge-load", ["seed", "--socket", server.socketPath] + Self.smallData)
        let socket = server.socketPath
        let started = ContinuousClock.now
        let running = Task.detached {
            try await ToolProcess.run(
                "badge-load",
                [
                    "run", "--workload", "list", "--socket", socket, "--connections", "2", "--depth", "2",
                    "--duration", "30", "--warmup", "0", "--json", "--quiet",
                ] + Self.smallData)
        }
        // Stop the server once the tool is connected and calls are flowing.
        for _ in 0..<600 where server.server.connectionCount < 2 { try await Task.sleep(for: .milliseconds(50)) }
        try await Task.sleep(for: .milliseconds(300))
        await server.finish()
        let run = try await running.value
        #expect(ContinuousClock.now - started < .seconds(15), "the run should end when its connections do")
        let result = try JSONDecoder().decode(Result.self, from: Data(run.stdout.utf8))
        #expect(result.ok > 0)
        #expect(result.errors.keys.allSatisfy { $0 == "UNAVAILABLE" })
    }
}
