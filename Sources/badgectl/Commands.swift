import ArgumentParser
import BadgeCatalogue
import BadgeClient
import BadgeModel
import Foundation

struct BadgesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "badges", abstract: "Manage the badge catalogue.",
        subcommands: [Put.self, Get.self, ListBadges.self, Deactivate.self])

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a badge from flags, or every badge in a YAML catalogue (--file).")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "YAML catalogue file (see tools/demo/catalogue.yaml).") var file: String?
        @Option(help: "Badge id.") var id: String?
        @Option(help: "Display name.") var name: String?
        @Option(help: "Description.") var description: String = ""
        @Option(help: "Icon reference.") var icon: String = ""
        @Option(help: "Rank: lower shows first.") var rank: Int32 = 0
        @Option(help: "Group.") var group: String = ""
        @Flag(help: "May be held several times.") var repeatable = false
        @Option(help: "Most awards per customer for a repeatable badge (0 = no limit).") var maxPerCustomer: UInt32 = 0
        @Option(help: "Most unrevoked awards across all customers (0 = no cap).") var globalCap: UInt64 = 0
        @Option(help: "Issuable from (ISO 8601 or Unix ms).") var validFrom: String?
        @Option(help: "Issuable until (ISO 8601 or Unix ms).") var validUntil: String?
        @Option(help: "Awards expire after this long (e.g. 365d).") var expiresAfter: String?
        @Option(help: "Awards expire at (ISO 8601 or Unix ms).") var expiresAt: String?
        @Flag(help: "Replace existing badges instead of refusing them.") var replace = false

        func validate() throws {
            if file == nil && (id == nil || name == nil) { throw ValidationError("give --file, or --id and --name") }
            if file != nil && id != nil { throw ValidationError("give --file or --id, not both") }
        }

        func run() async throws {
            let badges: [BadgeDefinition]
            do {
                if let file {
                    badges = try CatalogueFile.load(path: file)
                } else {
                    badges = [
                        BadgeDefinition(
                            id: id!, name: name!, description: description, icon: icon, rank: rank, group: group,
                            validFromMs: try TimeText.instant(validFrom, field: "--valid-from"),
                            validUntilMs: try TimeText.instant(validUntil, field: "--valid-until"),
                            repeatable: repeatable, maxPerCustomer: maxPerCustomer, globalCap: globalCap,
                            expiresAfterMs: try TimeText.duration(expiresAfter, field: "--expires-after"),
                            expiresAtMs: try TimeText.instant(expiresAt, field: "--expires-at"))
                    ]
                }
            } catch {
                Output.error(error)
                throw ExitCode(64)
            }
            let replace = replace
            let results = try await connection.run { client throws(BadgeError) in
                var results: [PutBadgeResult] = []
                for badge in badges {
                    do throws(BadgeError) {
                        results.append(try await client.putBadge(badge, replace: replace))
                    } catch {
                        // Say what the file's earlier badges did: they are stored, this one and
                        // the rest are not.
                        guard !results.isEmpty else { throw error }
                        let done = results.map { "\($0.badge.id) (\($0.created ? "created" : "replaced"))" }
                        throw BadgeError(
                            error.code,
                            "badge \(badge.id): \(error.message); stored before it: \(done.joined(separator: ", ")); not sent: the rest of the file",
                            reason: error.reason)
                    }
                }
                return results
            }
            if connection.json { return Output.json(results.map(\.badge)) }
            for result in results { print("\(result.created ? "created" : "replaced") \(result.badge.id)") }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one badge.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Badge id.") var id: String

        func run() async throws {
            let id = id
            let badge = try await connection.run { client throws(BadgeError) in try await client.badge(id: id) }
            connection.json ? Output.json(badge) : Output.badge(badge)
        }
    }

    struct ListBadges: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "The catalogue in rank order.")
        @OptionGroup var connection: ConnectionOptions
        @Flag(help: "Include inactive badges.") var all = false

        func run() async throws {
            let all = all
            let badges = try await connection.run { client throws(BadgeError) in
                try await client.badges(includeInactive: all)
            }
            connection.json ? Output.json(badges) : Output.badges(badges)
        }
    }

    struct Deactivate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop issuing a badge (earned awards stay).")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Badge id.") var id: String

        func run() async throws {
            let id = id
            let badge = try await connection.run { client throws(BadgeError) in try await client.deactivateBadge(id: id)
            }
            connection.json ? Output.json(badge) : print("deactivated \(badge.id)")
        }
    }
}

struct IssueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "issue", abstract: "Award a badge to a customer (idempotent on --request-id).")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "Customer id.") var customer: String
    @Argument(help: "Badge id.") var badge: String
    @Option(help: "Idempotency key; a retry with the same key returns the original award. Default: a new UUID.")
    var requestId: String?
    @Option(help: "api, direct, rule, import or retro.") var source: String = "direct"
    @Option(help: "What earned it.") var evidence: String = ""

    func validate() throws {
        if AwardSource(rawValue: source) == nil {
            throw ValidationError(
                "--source must be one of \(AwardSource.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() async throws {
        let request = IssueRequest(
            customerId: customer, badgeId: badge, requestId: requestId ?? UUID().uuidString,
            source: AwardSource(rawValue: source)!, evidence: evidence)
        let result = try await connection.run { client throws(BadgeError) in try await client.issue(request) }
        if connection.json { return Output.json(result.award) }
        print(
            "\(result.replayed ? "already issued" : "issued"): award \(result.award.awardId) of \(result.award.badgeId) to \(result.award.customerId)"
        )
    }
}

struct RevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke", abstract: "Revoke an award (--award) or all of a badge (--badge); history is kept.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "Customer id.") var customer: String
    @Option(help: "Award id.") var award: UInt64?
    @Option(help: "Badge id: revoke every unrevoked award of it.") var badge: String?
    @Option(help: "Why (required).") var reason: String
    @Option(help: "Who is revoking.") var actor: String = ProcessInfo.processInfo.environment["USER"] ?? ""

    func validate() throws {
        if (award == nil) == (badge == nil) { throw ValidationError("give exactly one of --award and --badge") }
    }

    func run() async throws {
        let request = RevokeRequest(
            customerId: customer, awardId: award ?? 0, badgeId: badge ?? "", reason: reason, actor: actor)
        let revoked = try await connection.run { client throws(BadgeError) in try await client.revoke(request) }
        if connection.json { return Output.json(revoked) }
        for award in revoked { print("revoked award \(award.awardId) of \(award.badgeId)") }
    }
}

struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "A customer's trophy case: earned badges, then locked ones.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "Customer id.") var customer: String
    @Option(help: "How many of each badge's awards to list, the newest (0: the server's default, 100; at most 1000).")
    var awardsPerBadge: UInt32 = 0

    func run() async throws {
        let customer = customer
        let awardsPerBadge = awardsPerBadge
        let trophyCase = try await connection.run { client throws(BadgeError) in
            try await client.list(customerId: customer, awardsPerBadge: awardsPerBadge)
        }
        connection.json ? Output.json(trophyCase) : Output.trophyCase(trophyCase)
    }
}

struct EvaluateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Send an activity event to the achievement engine (flags, or --event-json FILE|-).")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "Customer id (with flags).") var customer: String?
    @Argument(help: "Event type, e.g. purchase (with flags).") var type: String?
    @Option(help: "Event id (idempotency key). Default: a new UUID.") var eventId: String?
    @Option(help: "Numeric amount.") var amount: Double = 0
    @Option(help: "Attribute KEY=VALUE (repeatable).") var attribute: [String] = []
    @Option(help: "When it happened (ISO 8601 or Unix ms). Default: now.") var at: String?
    @Option(help: "The customer's IANA time zone, e.g. Europe/Paris.") var timeZone: String = ""
    @Option(
        help:
            "The event as a JSON object (event_id, customer_id, type, occurred_at_ms or occurred_at, time_zone, amount, attributes, dry_run), from a file or - for stdin."
    ) var eventJson: String?
    @Flag(help: "Report what would happen without changing anything.") var dryRun = false

    func validate() throws {
        if eventJson == nil && (customer == nil || type == nil) {
            throw ValidationError("give CUSTOMER and TYPE, or --event-json")
        }
    }

    func run() async throws {
        let event: ActivityEvent
        do {
            event = try makeEvent()
        } catch let error as BadgeError {
            Output.error(error)
            throw ExitCode(64)
        }
        let result = try await connection.run { client throws(BadgeError) in try await client.evaluate(event) }
        if connection.json { return Output.json(result) }
        if result.replayed { print("(event \(event.eventId) was evaluated before; original outcome)") }
        if result.awarded.isEmpty { print(event.dryRun ? "would earn nothing" : "earned nothing") }
        for award in result.awarded {
            print("\(event.dryRun ? "would earn" : "earned") \(award.badgeId): \(award.evidence)")
        }
        for change in result.progress { print("  \(change.badgeId): \(change.progress.text)") }
    }

    func makeEvent() throws -> ActivityEvent {
        if let eventJson {
            let data: Data
            if eventJson == "-" {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                guard let contents = FileManager.default.contents(atPath: eventJson) else {
                    throw BadgeError.invalidArgument("cannot read \(eventJson)")
                }
                data = contents
            }
            var event = try EventJSON.event(data)
            if dryRun { event.dryRun = true }
            return event
        }
        var attributes: [String: String] = [:]
        for pair in attribute {
            guard let equals = pair.firstIndex(of: "=") else {
                throw BadgeError.invalidArgument("--attribute \(pair) is not KEY=VALUE")
            }
            attributes[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        let occurred =
            try at.map { try TimeText.instant($0, field: "--at") } ?? Int64(Date().timeIntervalSince1970 * 1000)
        return ActivityEvent(
            eventId: eventId ?? UUID().uuidString, customerId: customer!, type: type!, occurredAtMs: occurred,
            timeZone: timeZone, amount: amount, attributes: attributes, dryRun: dryRun)
    }
}

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Stream every award as JSON lines (server streaming).")
    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Start after this award id.") var after: UInt64 = 0

    func run() async throws {
        let after = after
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try await connection.run { client throws(BadgeError) in
            do {
                for try await chunk in client.exportAwards(after: after) {
                    for award in chunk.awards {
                        print(String(decoding: try encoder.encode(award), as: UTF8.self))
                    }
                }
            } catch let error as BadgeError {
                throw error
            } catch {
                throw BadgeError(.internal, "\(error)")
            }
        }
    }
}

struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "health", abstract: "Server version and uptime.")
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let health = try await connection.run { client throws(BadgeError) in try await client.health() }
        if connection.json { return Output.json(health) }
        print(
            "badged \(health.version), protocol \(health.protocolVersion), up \(health.uptimeMs / 1000) s, \(health.badges) badges, \(health.awards) awards"
        )
    }
}
