import ArgumentParser
import BadgeClient
import BadgeWire
import Foundation

/// Where the server is and how to reach it.
struct TargetOptions: ParsableArguments {
    @Option(help: "Unix socket of the server (default ./badged.sock).")
    var socket: String?

    @Option(help: "TCP address HOST:PORT of the server.")
    var address: String?

    @Option(help: "Bearer token sent as authorization metadata.")
    var token: String?

    @Option(help: "Event-loop threads shared by all connections.")
    var threads: Int = 1

    func validate() throws {
        if socket != nil && address != nil { throw ValidationError("give --socket or --address, not both") }
        if threads < 1 || threads > 64 { throw ValidationError("--threads must be in 1...64") }
        _ = try target
    }

    var target: BadgeClient.Target {
        get throws {
            guard let address else { return .unix(path: socket ?? "badged.sock") }
            do {
                return .tcp(try HostPort(parsing: address))
            } catch {
                throw ValidationError(error.message)
            }
        }
    }

    var metadata: [String: String] { token.map { ["authorization": "Bearer \($0)"] } ?? [:] }
}

/// The shape of the data set; the seeder writes it and the workloads pick from it, so both must agree.
struct DataSetOptions: ParsableArguments {
    @Option(name: .customLong("seed-customers"), help: "Customers in the data set (cust-0 ...).")
    var customers: Int = 10_000

    @Option(name: .customLong("seed-badges"), help: "Badges in the catalogue (bench-0 ...), repeatable, no maximum.")
    var badges: Int = 10

    @Option(name: .customLong("seed-awards"), help: "Awards seeded per customer.")
    var awards: Int = 10

    @Option(name: .customLong("seed"), help: "Seed for the data set and every random choice, for repeatable runs.")
    var seed: UInt64 = 1

    func validate() throws {
        if customers < 1 || customers > 10_000_000 { throw ValidationError("--seed-customers must be in 1...10000000") }
        if badges < 1 || badges > 10_000 { throw ValidationError("--seed-badges must be in 1...10000") }
        if awards < 0 || awards > 1_000 { throw ValidationError("--seed-awards must be in 0...1000") }
    }
}

/// What to send and how hard.
struct LoadOptions: ParsableArguments {
    @Option(help: "list, issue, evaluate, or mix (see --mix).")
    var workload: Operation.WorkloadName = .list

    @Option(
        help: """
            direct: plain sockets on threads driven by epoll (the default: the tool's own cost per call \
            stays small); nio: through the BadgeClient library on NIO event loops.
            """)
    var engine: Engine = .direct

    enum Engine: String, CaseIterable, Sendable, ExpressibleByArgument {
        case direct, nio
    }

    @Option(help: "Weights for --workload mix, e.g. list=90,evaluate=8,issue=2.")
    var mix: String = "list=90,evaluate=8,issue=2"

    @Option(help: "Connections, spread over the event-loop threads.")
    var connections: Int = 1

    @Option(help: "Closed loop: calls kept in flight per connection.")
    var depth: Int = 1

    @Option(help: "Open loop: total calls per second, sent on a fixed schedule (latency from the planned send).")
    var rate: Double?

    @Option(help: "Open loop: most calls in flight per connection before planned sends queue in the client.")
    var maxOutstanding: Int = 1000

    @Option(help: "Measured seconds, after the warm-up (default 10, or 300 as a cap when --requests is given).")
    var duration: Double?

    @Option(help: "Stop after this many measured calls (warm-up calls not counted).")
    var requests: Int?

    @Option(help: "Seconds of load before measuring; their calls are not recorded.")
    var warmup: Double = 1

    @Option(help: "Per-call deadline sent to the server, in milliseconds (0 = none).")
    var timeoutMs: Int = 0

    @Option(help: "Issue workload: distinct customers to spread new awards over (icust-0 ...).")
    var issueCustomers: Int = 100_000

    @Option(help: "Prefix of Issue request ids; defaults to a fresh one per run so every call creates an award.")
    var runId: String?

    func validate() throws {
        if connections < 1 || connections > 4096 { throw ValidationError("--connections must be in 1...4096") }
        if depth < 1 || depth > 1024 { throw ValidationError("--depth must be in 1...1024") }
        if let rate, !(rate > 0 && rate <= 10_000_000) { throw ValidationError("--rate must be in (0, 10000000]") }
        if maxOutstanding < 1 || maxOutstanding > 1024 { throw ValidationError("--max-outstanding must be 1...1024") }
        if let duration, !(duration > 0 && duration <= 86_400) {
            throw ValidationError("--duration must be in (0, 86400]")
        }
        if let requests, requests < 1 { throw ValidationError("--requests must be positive") }
        if !(warmup >= 0 && warmup <= 3_600) { throw ValidationError("--warmup must be in 0...3600") }
        if timeoutMs < 0 { throw ValidationError("--timeout-ms must not be negative") }
        if issueCustomers < 1 { throw ValidationError("--issue-customers must be positive") }
        _ = try weights
    }

    /// Measured seconds: bounded even when only --requests is given.
    var effectiveDuration: Double { duration ?? (requests == nil ? 10 : 300) }

    var weights: Mix {
        get throws {
            switch workload {
            case .list: return Mix([(.list, 1)])
            case .issue: return Mix([(.issue, 1)])
            case .evaluate: return Mix([(.evaluate, 1)])
            case .mix: return try Mix(parsing: mix)
            }
        }
    }
}

extension Operation.WorkloadName: ExpressibleByArgument {}
