import BadgeCatalogue
import BadgeModel
import Foundation

/// `badgectl evaluate --event-json`: an event as a JSON object, with the protocol's field names
/// (`event_id`, `customer_id`, `type`, `occurred_at_ms`, `time_zone`, `amount`, `attributes`,
/// `dry_run`) or their camelCase spellings, plus `occurred_at` for an ISO 8601 time. Only
/// `customer_id` and `type` are required, as with the flags; an unknown field is refused by name
/// rather than ignored (a typo would otherwise evaluate a different event).
enum EventJSON {
    /// Each accepted name, by the protocol's name.
    private static let spellings: [String: [String]] = [
        "event_id": ["event_id", "eventId"], "customer_id": ["customer_id", "customerId"], "type": ["type"],
        "occurred_at_ms": ["occurred_at_ms", "occurredAtMs"], "occurred_at": ["occurred_at", "occurredAt"],
        "time_zone": ["time_zone", "timeZone"], "amount": ["amount"], "attributes": ["attributes"],
        "dry_run": ["dry_run", "dryRun"],
    ]

    static func event(_ data: Data) throws(BadgeError) -> ActivityEvent {
        let fields: [String: Value]
        do {
            fields = try JSONDecoder().decode([String: Value].self, from: data)
        } catch {
            throw .invalidArgument("--event-json: not a JSON object (\(Self.describe(error)))")
        }
        let known = Set(spellings.values.joined())
        if let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) {
            throw .invalidArgument(
                "--event-json: unknown field \"\(unknown)\"; the fields are \(spellings.keys.sorted().joined(separator: ", "))"
            )
        }
        func value(_ name: String) throws(BadgeError) -> Value? {
            let given = spellings[name, default: [name]].filter { fields[$0] != nil }
            if given.count > 1 {
                throw .invalidArgument("--event-json: give \(given.joined(separator: " or ")), not both")
            }
            return given.first.flatMap { fields[$0] }
        }
        func string(_ name: String) throws(BadgeError) -> String? {
            switch try value(name) {
            case nil: return nil
            case .string(let text): return text
            default: throw .invalidArgument("--event-json: \(name) must be a string")
            }
        }
        guard let customer = try string("customer_id"), let type = try string("type") else {
            throw .invalidArgument("--event-json: customer_id and type are required")
        }
        var occurred: Int64 = 0
        switch try value("occurred_at_ms") {
        case nil: break
        case .number(let ms):
            guard let whole = Int64(exactly: ms) else {
                throw .invalidArgument("--event-json: occurred_at_ms must be whole Unix milliseconds")
            }
            occurred = whole
        default: throw .invalidArgument("--event-json: occurred_at_ms must be a number (Unix milliseconds)")
        }
        if let text = try string("occurred_at") {
            if occurred != 0 { throw .invalidArgument("--event-json: give occurred_at or occurred_at_ms, not both") }
            occurred = try TimeText.instant(text, field: "--event-json: occurred_at")
        }
        var amount = 0.0
        switch try value("amount") {
        case nil: break
        case .number(let number): amount = number
        default: throw .invalidArgument("--event-json: amount must be a number")
        }
        var attributes: [String: String] = [:]
        switch try value("attributes") {
        case nil: break
        case .object(let object):
            for (key, entry) in object {
                guard case .string(let text) = entry else {
                    throw .invalidArgument("--event-json: attributes.\(key) must be a string")
                }
                attributes[key] = text
            }
        default: throw .invalidArgument("--event-json: attributes must be an object of strings")
        }
        var dryRun = false
        switch try value("dry_run") {
        case nil: break
        case .bool(let flag): dryRun = flag
        default: throw .invalidArgument("--event-json: dry_run must be true or false")
        }
        return ActivityEvent(
            eventId: try string("event_id") ?? UUID().uuidString, customerId: customer, type: type,
            occurredAtMs: occurred, timeZone: try string("time_zone") ?? "", amount: amount, attributes: attributes,
            dryRun: dryRun)
    }

    /// A JSON value, as far as an event needs to tell them apart.
    private enum Value: Decodable {
        case string(String)
        case number(Double)
        case bool(Bool)
        case object([String: Value])
        case other

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let flag = try? container.decode(Bool.self) {
                self = .bool(flag)
            } else if let number = try? container.decode(Double.self) {
                self = .number(number)
            } else if let text = try? container.decode(String.self) {
                self = .string(text)
            } else if let object = try? container.decode([String: Value].self) {
                self = .object(object)
            } else {
                self = .other
            }
        }
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context): context.debugDescription
        case DecodingError.typeMismatch(_, let context): context.debugDescription
        default: "\(error)"
        }
    }
}
