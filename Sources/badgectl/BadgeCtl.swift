import ArgumentParser
import BadgeClient
import BadgeModel
import BadgeWire
import Foundation

/// `badgectl`: a command line for the badge service.
///
/// Exit codes: 0 success; 1 the server refused the call (status and message printed);
/// 64 usage error; 69 the server could not be reached or the connection broke.
@main
struct BadgeCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "badgectl",
        abstract: "Manage badges and awards on a running badged.",
        discussion: """
            Connects by --socket PATH (default ./badged.sock, env BADGES_SOCKET) or --address HOST:PORT
            (env BADGES_ADDRESS). Exit codes: 0 ok, 1 refused by the server, 64 usage, 69 unreachable.
            """,
        subcommands: [
            BadgesCommand.self, IssueCommand.self, RevokeCommand.self, ListCommand.self, EvaluateCommand.self,
            ExportCommand.self, HealthCommand.self,
        ])
}

/// Options every subcommand takes.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "Unix socket of the server (env BADGES_SOCKET).")
    var socket: String?

    @Option(help: "TCP address HOST:PORT of the server (env BADGES_ADDRESS).")
    var address: String?

    @Option(help: "Bearer token sent as authorization metadata (env BADGES_TOKEN).")
    var token: String?

    @Option(help: "Call timeout in seconds.")
    var timeout: Double = 10

    @Flag(help: "Print JSON instead of tables.")
    var json = false

    func validate() throws {
        if socket != nil && address != nil { throw ValidationError("give --socket or --address, not both") }
        // `inf`, `nan` and 1e300 parse as Doubles, and converting them to milliseconds trapped.
        if !(timeout > 0 && timeout <= 86_400) {
            throw ValidationError("--timeout must be more than 0 and at most 86400 seconds")
        }
    }

    var target: BadgeClient.Target {
        get throws {
            let environment = ProcessInfo.processInfo.environment
            if let address = address
                ?? (socket == nil ? environment["BADGES_ADDRESS"].flatMap { $0.isEmpty ? nil : $0 } : nil)
            {
                do {
                    return .tcp(try HostPort(parsing: address))
                } catch {
                    throw ValidationError(error.message)
                }
            }
            return .unix(
                path: socket ?? environment["BADGES_SOCKET"].flatMap { $0.isEmpty ? nil : $0 } ?? "badged.sock")
        }
    }

    /// Connects, runs `body`, closes; maps failures to the documented exit codes.
    func run<T: Sendable>(_ body: (BadgeClient) async throws(BadgeError) -> T) async throws -> T {
        let token = token ?? ProcessInfo.processInfo.environment["BADGES_TOKEN"]
        let metadata = token.map { ["authorization": "Bearer \($0)"] } ?? [:]
        let target = try target
        let client: BadgeClient
        do {
            client = try await BadgeClient.connect(
                to: target, metadata: metadata, defaultTimeout: .milliseconds(Int64(timeout * 1000)))
        } catch {
            Output.error(error)
            throw ExitCode(error.isConnectionFailure ? 69 : 1)
        }
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch {
            await client.close()
            Output.error(error)
            throw ExitCode(error.isConnectionFailure ? 69 : 1)
        }
    }
}

extension BadgeError {
    /// The server was never reached, or the connection broke: exit 69 rather than 1.
    var isConnectionFailure: Bool {
        code == .unavailable && ["connect_failed", "connection_closed"].contains(reason)
    }
}
