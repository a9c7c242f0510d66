import BadgeCodec
import BadgeModel
import CoreMetrics

/// Every metric handle the server updates, made once at start.
///
/// Making a handle goes through the factory (a lookup under a lock in most backends); updating one
/// is an atomic add in the Prometheus backend. So a call only indexes these tables: finishing a call
/// costs one counter increment, plus a histogram record (a short lock) for the sampled calls.
final class ServerMetrics: Sendable {
    /// `badges_rpc_calls_total{method,code}`, at `slot(method) * codeCount + code`. Every pair exists
    /// from the start, so a rate is 0 rather than absent before the first such call.
    private let calls: [Counter]
    /// `badges_rpc_call_duration_seconds{method}`, at `slot(method)`.
    private let durations: [CoreMetrics.Timer]
    /// `badges_rpc_calls_in_flight`: calls received and not answered yet, over all connections.
    let inFlight: Meter
    /// `badges_rpc_connections_open`.
    let connectionsOpen: Meter
    /// `badges_rpc_connections_refused_total`: connections closed at once for the connection limit.
    let connectionsRefused: Counter

    private static let codeCount = BadgeError.Code.allCases.count
    /// The method label of calls refused before their method was recognised.
    static let unknownMethodLabel = "unknown"

    init(factory: any MetricsFactory) {
        precondition(
            BadgeError.Code.allCases.enumerated().allSatisfy { $0.offset == Int($0.element.rawValue) },
            "status codes must be 0..<count to index the table")
        precondition(
            Set(Method.allCases.map(Self.slot)) == Set(0..<Method.allCases.count)
                && Self.slot(nil) == Method.allCases.count,
            "every method needs its own slot, unknown the last one")
        var labels = [String](repeating: Self.unknownMethodLabel, count: Method.allCases.count + 1)
        for method in Method.allCases { labels[Self.slot(method)] = Self.label(method) }
        var calls: [Counter] = []
        calls.reserveCapacity(labels.count * Self.codeCount)
        for method in labels {
            for code in BadgeError.Code.allCases {
                calls.append(
                    Counter(
                        label: "badges_rpc_calls_total", dimensions: [("method", method), ("code", code.description)],
                        factory: factory))
            }
        }
        self.calls = calls
        // Calls refused before their method was recognised are never timed: no "unknown" timer.
        durations = labels.dropLast().map {
            CoreMetrics.Timer(label: "badges_rpc_call_duration_seconds", dimensions: [("method", $0)], factory: factory)
        }
        inFlight = Meter(label: "badges_rpc_calls_in_flight", factory: factory)
        connectionsOpen = Meter(label: "badges_rpc_connections_open", factory: factory)
        connectionsRefused = Counter(label: "badges_rpc_connections_refused_total", factory: factory)
    }

    /// Counts a call answered with `code`; `method` is nil when the call was refused before its
    /// method name was recognised.
    @inline(__always)
    func countCall(_ method: Method?, _ code: BadgeError.Code) {
        calls[Self.slot(method) * Self.codeCount + Int(code.rawValue)].increment()
    }

    /// Records a sampled call's time from its envelope being decoded to its final reply (or error)
    /// being ready to write: the service's work, plus the writer's queue and commit for writes.
    @inline(__always)
    func recordDuration(_ method: Method, nanoseconds: Int64) {
        durations[Self.slot(method)].recordNanoseconds(nanoseconds)
    }

    /// The metric label: the method's short name ("List"), as in the proto service.
    static func label(_ method: Method) -> String {
        String(method.rawValue.split(separator: "/").last!)
    }

    /// A switch rather than a lookup, and exhaustive so that a new method cannot be left out.
    @inline(__always)
    private static func slot(_ method: Method?) -> Int {
        switch method {
        case .putBadge: 0
        case .getBadge: 1
        case .listBadges: 2
        case .deactivateBadge: 3
        case .issue: 4
        case .revoke: 5
        case .list: 6
        case .exportAwards: 7
        case .evaluate: 8
        case .health: 9
        case nil: 10
        }
    }
}
