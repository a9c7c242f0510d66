import BadgeModel
import Foundation
import Testing

/// Runs the real `badgectl` binary (built beside the test bundle) against a real server.
@Suite("badgectl")
struct CLITests {
    func badgectl(_ arguments: [String]) async throws -> ToolProcess.Run {
        try await ToolProcess.run("badgectl", arguments)
    }

    @Test("the tour: put, issue, list, revoke, with tables, JSON and exit codes")
    func tour() async throws {
        try await TestServer.with { server in
            let socket = ["--socket", server.socketPath]
            let address = ["--address", "127.0.0.1:\(server.server.tcpPort!)"]

            var run = try await badgectl(
                ["badges", "put", "--id", "new-member", "--name", "New Member", "--rank", "10"] + socket)
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdout.contains("created new-member"))

            run = try await badgectl(
                ["issue", "c-42", "new-member", "--request-id", "cli-1", "--evidence", "signup"] + address)
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdout.contains("issued: award 1 of new-member to c-42"))
            run = try await badgectl(["issue", "c-42", "new-member", "--request-id", "cli-1"] + socket)
            #expect(run.stdout.contains("already issued"))

            run = try await badgectl(["list", "c-42"] + socket)
            #expect(run.status == 0)
            #expect(run.stdout.contains("New Member"))
            #expect(run.stdout.contains("signup"))

            run = try await badgectl(["list", "c-42", "--json"] + socket)
            let trophyCase = try JSONDecoder().decode(TrophyCase.self, from: Data(run.stdout.utf8))
            #expect(trophyCase.entries.first?.awards.first?.evidence == "signup")

            // A refusal: exit 1, status and reason on stderr.
            run = try await badgectl(["issue", "c-42", "new-member"] + socket)
            #expect(run.status == 1)
            #expect(run.stderr.contains("ALREADY_EXISTS (already_held)"))

            run = try await badgectl(["revoke", "c-42", "--badge", "new-member", "--reason", "test"] + socket)
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdout.contains("revoked award 1"))

            // Usage errors: exit 64.
            run = try await badgectl(["revoke", "c-42", "--reason", "x"] + socket)
            #expect(run.status == 64)
            run = try await badgectl(["issue"] + socket)
            #expect(run.status == 64)
        }
    }

    @Test("badges put --file checks the whole file first: a bad badge stores none of it (exit 64)")
    func putBadFile() async throws {
        try await TestServer.with { server in
            let file = FileManager.default.temporaryDirectory.appendingPathComponent(
                "bad-\(UUID().uuidString.prefix(8)).yaml"
            ).path
            defer { try? FileManager.default.removeItem(atPath: file) }
            try """
            badges:
              - id: first-ok
                name: First
              - id: capped
                name: Capped
                max_per_customer: 3
            """.write(toFile: file, atomically: true, encoding: .utf8)
            let run = try await badgectl(["badges", "put", "--file", file, "--socket", server.socketPath])
            #expect(run.status == 64, "\(run.stderr)")
            #expect(run.stderr.contains("\(file): badges[1] (capped)"), "\(run.stderr)")
            #expect(run.stderr.contains("max_per_customer"), "\(run.stderr)")
            let client = try await server.client()
            #expect(try await client.badges(includeInactive: true).isEmpty)
            await client.close()
        }
    }

    @Test(
        "a --timeout that is not a usable number of seconds is a usage error (64), not a crash",
        arguments: ["1e300", "inf", "nan"])
    func badTimeout(value: String) async throws {
        let run = try await badgectl(["health", "--timeout", value, "--socket", "/tmp/no-such-badged.sock"])
        #expect(run.status == 64, "\(run.stderr)")
        #expect(run.stderr.contains("--timeout"), "\(run.stderr)")
    }

    @Test("an unreachable server exits 69")
    func unreachable() async throws {
        let run = try await badgectl(["health", "--socket", "/tmp/no-such-badged-\(UUID().uuidString.prefix(8)).sock"])
        #expect(run.status == 69)
        #expect(run.stderr.contains("UNAVAILABLE"))
    }
}
