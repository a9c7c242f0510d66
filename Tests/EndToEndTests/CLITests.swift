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
            #expect(trophyCase.entries.first?.awardCount == 1)
            run = try await badgectl(["list", "c-42", "--awards-per-badge", "5000"] + socket)
            #expect(run.status == 1)
            #expect(run.stderr.contains("INVALID_ARGUMENT (out_of_range)"), "\(run.stderr)")

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

    @Test("evaluate: an event from flags, and from --event-json with the protocol's field names")
    func evaluate() async throws {
        try await TestServer.with { server in
            let socket = ["--socket", server.socketPath]
            let client = try await server.client(.unix)
            _ = try await client.putBadge(
                BadgeDefinition(
                    id: "referral-champion", name: "Referral Champion",
                    criteria: Criteria(criteria: [Criterion(key: "referrals", eventType: "referral", target: 2)])))
            await client.close()
            var run = try await badgectl(["evaluate", "c-7", "referral", "--event-id", "r-1"] + socket)
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdout.contains("referral-champion: 1 / 2 referral"))

            func json(_ text: String) throws -> String {
                // Inside the server's folder, which is removed with it.
                let file = URL(fileURLWithPath: server.dataDirectory).appendingPathComponent(
                    "event-\(UUID().uuidString.prefix(8)).json")
                try Data(text.utf8).write(to: file)
                return file.path
            }
            // Only customer_id and type are needed; camelCase spellings are accepted too.
            let second = try json(
                #"{"eventId": "r-2", "customer_id": "c-7", "type": "referral", "occurred_at": "2026-11-27T10:00:00Z", "attributes": {"channel": "web"}}"#
            )
            run = try await badgectl(["evaluate", "--event-json", second] + socket)
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdout.contains("earned referral-champion: 2 referral: r-1, r-2"))
            // The same event again is a replay, not a third referral.
            run = try await badgectl(["evaluate", "--event-json", second, "--json"] + socket)
            let replay = try JSONDecoder().decode(EvaluateResult.self, from: Data(run.stdout.utf8))
            #expect(replay.replayed)

            // A misspelt field is refused by name (exit 64), not ignored; so is a wrong type.
            let typo = try json(#"{"customer_id": "c-7", "type": "referral", "ammount": 5}"#)
            run = try await badgectl(["evaluate", "--event-json", typo] + socket)
            #expect(run.status == 64)
            #expect(run.stderr.contains("unknown field \"ammount\""))
            let wrongType = try json(#"{"customer_id": "c-7", "type": "referral", "amount": "5"}"#)
            run = try await badgectl(["evaluate", "--event-json", wrongType] + socket)
            #expect(run.status == 64)
            #expect(run.stderr.contains("amount must be a number"))
            let missing = try json(#"{"type": "referral"}"#)
            run = try await badgectl(["evaluate", "--event-json", missing] + socket)
            #expect(run.status == 64)
            #expect(run.stderr.contains("customer_id and type are required"))
        }
    }

    @Test("badges put --file refused by the server midway says which badges were stored before it")
    func putFileRefusedMidway() async throws {
        try await TestServer.with { server in
            let client = try await server.client()
            _ = try await client.putBadge(BadgeDefinition(id: "second", name: "Second, already there"))
            let file = FileManager.default.temporaryDirectory.appendingPathComponent(
                "midway-\(UUID().uuidString.prefix(8)).yaml"
            ).path
            defer { try? FileManager.default.removeItem(atPath: file) }
            try """
            badges:
              - id: first
                name: First
              - id: second
                name: Second
              - id: third
                name: Third
            """.write(toFile: file, atomically: true, encoding: .utf8)
            let run = try await badgectl(["badges", "put", "--file", file, "--socket", server.socketPath])
            #expect(run.status == 1, "\(run.stderr)")
            #expect(run.stderr.contains("ALREADY_EXISTS"), "\(run.stderr)")
            #expect(run.stderr.contains("badge second:"), "\(run.stderr)")
            #expect(run.stderr.contains("stored before it: first (created)"), "\(run.stderr)")
            let stored = try await client.badges(includeInactive: true).map(\.id).sorted()
            #expect(stored == ["first", "second"])
            await client.close()
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
