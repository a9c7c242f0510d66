import BadgeCodec
import BadgeModel
import BadgeWire

/// One kind of call the load generator makes.
enum Operation: Int, CaseIterable, Sendable, Codable {
    case list
    case issue
    case evaluate

    enum WorkloadName: String, CaseIterable, Sendable, Codable {
        case list, issue, evaluate, mix
    }

    var name: String {
        switch self {
        case .list: "list"
        case .issue: "issue"
        case .evaluate: "evaluate"
        }
    }

    var method: String {
        switch self {
        case .list: Method.list.rawValue
        case .issue: Method.issue.rawValue
        case .evaluate: Method.evaluate.rawValue
        }
    }
}

/// Weighted choice between operations ("list=90,evaluate=8,issue=2").
struct Mix: Sendable {
    let entries: [(operation: Operation, weight: Int)]
    let total: Int

    init(_ entries: [(Operation, Int)]) {
        self.entries = entries.map { (operation: $0.0, weight: $0.1) }
        self.total = entries.reduce(0) { $0 + $1.1 }
    }

    init(parsing text: String) throws(LoadError) {
        var entries: [(Operation, Int)] = []
        for part in text.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, let operation = Operation.allCases.first(where: { $0.name == pair[0] }),
                let weight = Int(pair[1]), weight >= 0
            else {
                throw LoadError("--mix entry \"\(part)\" is not NAME=WEIGHT with NAME one of list, issue, evaluate")
            }
            entries.append((operation, weight))
        }
        guard entries.contains(where: { $0.1 > 0 }) else { throw LoadError("--mix needs a positive weight") }
        self.init(entries.filter { $0.1 > 0 })
    }

    func pick(_ random: UInt64) -> Operation {
        if entries.count == 1 { return entries[0].operation }
        var point = Int(random % UInt64(total))
        for entry in entries {
            if point < entry.weight { return entry.operation }
            point -= entry.weight
        }
        return entries[entries.count - 1].operation
    }

    var description: String { entries.map { "\($0.operation.name)=\($0.weight)" }.joined(separator: ",") }
}

struct LoadError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// SplitMix64: tiny, fast, and the same sequence on every platform for a given seed.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Names shared by the seeder and the workloads.
enum DataSet {
    static func customer(_ index: Int) -> String { "cust-\(index)" }
    static func badge(_ index: Int) -> String { "bench-\(index)" }
    static func issueCustomer(_ index: Int) -> String { "icust-\(index)" }
}

/// Immutable inputs shared by every connection's request source.
struct WorkloadPlan: Sendable {
    var mix: Mix
    var customers: Int
    var badges: Int
    var issueCustomers: Int
    var seed: UInt64
    var runId: String
    /// List payloads are the same every time for a customer, so they are encoded once up front.
    var listPayloads: [[UInt8]]
    /// Evaluate events carry this time so runs do not depend on the clock.
    var eventTimeMs: Int64

    init(mix: Mix, customers: Int, badges: Int, issueCustomers: Int, seed: UInt64, runId: String) {
        self.mix = mix
        self.customers = customers
        self.badges = badges
        self.issueCustomers = issueCustomers
        self.seed = seed
        self.runId = runId
        self.listPayloads =
            mix.entries.contains { $0.operation == .list }
            ? (0..<customers).map { ListRequest(customerId: DataSet.customer($0)).encoded() } : []
        self.eventTimeMs = 1_700_000_000_000
    }
}

/// The next request for one connection: deterministic for a given seed and connection index.
/// Confined to that connection's event loop.
struct RequestSource {
    let plan: WorkloadPlan
    let connection: Int
    private var random: SplitMix64
    private var sequence: UInt64 = 0

    init(plan: WorkloadPlan, connection: Int) {
        self.plan = plan
        self.connection = connection
        self.random = SplitMix64(seed: plan.seed &* 0x1000_0000_01B3 &+ UInt64(connection))
    }

    mutating func next() -> (Operation, [UInt8]) {
        let operation = plan.mix.pick(random.next())
        switch operation {
        case .list:
            return (operation, plan.listPayloads[Int(random.next() % UInt64(plan.customers))])
        case .issue:
            sequence += 1
            // A fresh request id per call on a repeatable badge: every call creates a new award.
            let request = IssueRequest(
                customerId: DataSet.issueCustomer(Int(random.next() % UInt64(plan.issueCustomers))),
                badgeId: DataSet.badge(Int(random.next() % UInt64(plan.badges))),
                requestId: "\(plan.runId)-\(connection)-\(sequence)", evidence: "badge-load")
            return (operation, request.encoded())
        case .evaluate:
            sequence += 1
            let event = ActivityEvent(
                eventId: "\(plan.runId)-\(connection)-\(sequence)",
                customerId: DataSet.customer(Int(random.next() % UInt64(plan.customers))), type: "purchase",
                occurredAtMs: plan.eventTimeMs, amount: Double(random.next() % 10_000) / 100)
            return (operation, event.encoded())
        }
    }
}
