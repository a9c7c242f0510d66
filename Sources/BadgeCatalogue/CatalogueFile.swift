import BadgeModel
import BadgeRules
import Foundation
import Yams

/// Reads a badge catalogue from YAML:
///
/// ```yaml
/// badges:
///   - id: gold-elite
///     name: Gold Elite
///     description: Reached the Gold tier.
///     rank: 30
///     group: tiers
///     expires_after: 365d        # or expires_at: 2027-01-01T00:00:00Z
///     valid_from: 2026-01-01T00:00:00Z
///     repeatable: false
///     global_cap: 0
///     labels: { tier: gold }
/// ```
///
/// Times are ISO 8601 (`2026-01-01T00:00:00Z`) or Unix milliseconds; durations are a number with
/// a unit `ms`, `s`, `m`, `h`, `d` or `w` (`90d`), or plain milliseconds.
public enum CatalogueFile {
    /// Parses `text`; errors name the file, the badge (by index and id) and the field.
    public static func parse(_ text: String, source: String = "catalogue") throws(BadgeError) -> [BadgeDefinition] {
        let document: Document
        do {
            let node: Node?
            do {
                node = try Yams.compose(yaml: text)
            } catch {
                throw BadgeError.invalidArgument("\(source): not valid YAML: \(error)", reason: "invalid_catalogue")
            }
            if let node {
                try checkFields(node, source: source)
                document = try YAMLDecoder().decode(Document.self, from: node)
            } else {
                document = try YAMLDecoder().decode(Document.self, from: text)
            }
        } catch let error as BadgeError {
            throw error
        } catch let error as DecodingError {
            throw BadgeError.invalidArgument("\(source): \(describe(error))", reason: "invalid_catalogue")
        } catch {
            throw BadgeError.invalidArgument("\(source): not valid YAML: \(error)", reason: "invalid_catalogue")
        }
        var seen: Set<String> = []
        var badges: [BadgeDefinition] = []
        for (index, entry) in document.badges.enumerated() {
            let place = "\(source): badges[\(index)] (\(entry.id))"
            if !seen.insert(entry.id).inserted {
                throw BadgeError.invalidArgument("\(place): id \(entry.id) appears twice", reason: "invalid_catalogue")
            }
            let badge = try entry.definition(place: place)
            // The server's own checks, here so that a bad badge anywhere in the file stops the
            // whole file before any of it is stored.
            do {
                try DefinitionRules.validate(badge)
            } catch {
                throw BadgeError(error.code, "\(place): \(error.message)", reason: error.reason)
            }
            badges.append(badge)
        }
        return badges
    }

    /// Refuses fields nothing reads: a typo such as `reapeatable: true` would otherwise be dropped
    /// without a word and the badge stored with the default.
    static func checkFields(_ node: Node, source: String) throws(BadgeError) {
        func mapping(_ node: Node?, known: [String], place: String) throws(BadgeError) -> Node.Mapping? {
            guard let mapping = node?.mapping else { return nil }
            for (key, _) in mapping where !known.contains(key.string ?? "") {
                let line = key.mark.map { "line \($0.line): " } ?? ""
                throw BadgeError.invalidArgument(
                    "\(source): \(line)\(place.isEmpty ? "" : place + ": ")unknown field \"\(key.string ?? "")\"; "
                        + "the fields are \(known.joined(separator: ", "))",
                    reason: "invalid_catalogue")
            }
            return mapping
        }
        guard let root = try mapping(node, known: ["badges"], place: "") else { return }
        for (index, badge) in (root["badges"]?.sequence ?? []).enumerated() {
            let place = "badges[\(index)] (\(badge.mapping?["id"]?.string ?? ""))"
            let entry = try mapping(badge, known: Entry.CodingKeys.allCases.map(\.rawValue), place: place)
            let criteria = try mapping(
                entry?["criteria"], known: CriteriaYAML.CodingKeys.allCases.map(\.rawValue), place: "\(place).criteria")
            for (ruleIndex, rule) in (criteria?["rules"]?.sequence ?? []).enumerated() {
                let at = "\(place).criteria.rules[\(ruleIndex)]"
                let rule = try mapping(rule, known: CriteriaYAML.Rule.CodingKeys.allCases.map(\.rawValue), place: at)
                for (conditionIndex, condition) in (rule?["conditions"]?.sequence ?? []).enumerated() {
                    _ = try mapping(
                        condition, known: ["attribute", "op", "values", "number"],
                        place: "\(at).conditions[\(conditionIndex)]")
                }
            }
        }
    }

    /// Reads and parses the file at `path`.
    public static func load(path: String) throws(BadgeError) -> [BadgeDefinition] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw BadgeError.invalidArgument(
                "cannot read catalogue \(path): \(error.localizedDescription)", reason: "invalid_catalogue")
        }
        return try parse(text, source: path)
    }

    struct Document: Decodable {
        var badges: [Entry]
    }

    struct Entry: Decodable {
        var id: String
        var name: String
        var description: String?
        var icon: String?
        var rank: Int32?
        var group: String?
        var status: BadgeStatus?
        var validFrom: String?
        var validUntil: String?
        var repeatable: Bool?
        var maxPerCustomer: UInt32?
        var globalCap: UInt64?
        var expiresAfter: String?
        var expiresAt: String?
        var labels: [String: String]?
        var criteria: CriteriaYAML?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case id, name, description, icon, rank, group, status, repeatable, labels, criteria
            case validFrom = "valid_from"
            case validUntil = "valid_until"
            case maxPerCustomer = "max_per_customer"
            case globalCap = "global_cap"
            case expiresAfter = "expires_after"
            case expiresAt = "expires_at"
        }

        func definition(place: String) throws(BadgeError) -> BadgeDefinition {
            BadgeDefinition(
                id: id, name: name, description: description ?? "", icon: icon ?? "", rank: rank ?? 0,
                group: group ?? "", status: status ?? .active,
                validFromMs: try TimeText.instant(validFrom, field: "\(place).valid_from"),
                validUntilMs: try TimeText.instant(validUntil, field: "\(place).valid_until"),
                repeatable: repeatable ?? false, maxPerCustomer: maxPerCustomer ?? 0, globalCap: globalCap ?? 0,
                expiresAfterMs: try TimeText.duration(expiresAfter, field: "\(place).expires_after"),
                expiresAtMs: try TimeText.instant(expiresAt, field: "\(place).expires_at"), labels: labels ?? [:],
                criteria: try criteria?.criteria(place: place))
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.map { key in key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)" }.joined()
                .trimmingCharacters(in: CharacterSet(charactersIn: "."))
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = path(context.codingPath)
            return "\(parent.isEmpty ? "" : parent + ": ")missing field \"\(key.stringValue)\""
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)): expected \(typeName(type))"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)): expected \(typeName(type)), found nothing"
        case .dataCorrupted(let context):
            let where_ = path(context.codingPath)
            return "\(where_.isEmpty ? "" : where_ + ": ")\(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Int32.Type, is UInt32.Type, is UInt64.Type, is Int.Type: "an integer"
        case is Bool.Type: "true or false"
        case is String.Type: "a string"
        default: "\(type)"
        }
    }
}

/// Times and durations written by people, in catalogue files and on the command line.
public enum TimeText {
    /// ISO 8601 (with or without fractional seconds) or Unix milliseconds; nil/empty = 0 (unset).
    public static func instant(_ text: String?, field: String) throws(BadgeError) -> Int64 {
        guard let text = text?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return 0 }
        if let ms = Int64(text) { return ms }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return Int64(date.timeIntervalSince1970 * 1000) }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return Int64((date.timeIntervalSince1970 * 1000).rounded()) }
        throw BadgeError.invalidArgument(
            "\(field): \"\(text)\" is not a time; use ISO 8601 like 2026-01-01T00:00:00Z or Unix milliseconds",
            reason: "invalid_time")
    }

    /// "90d", "12h", "30m", "45s", "500ms", "2w", or plain milliseconds; nil/empty = 0 (unset).
    public static func duration(_ text: String?, field: String) throws(BadgeError) -> Int64 {
        guard let text = text?.trimmingCharacters(in: .whitespaces).lowercased(), !text.isEmpty else { return 0 }
        if let ms = Int64(text), ms >= 0 { return ms }
        let units: [(String, Int64)] = [
            ("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000), ("w", 604_800_000),
        ]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            if let value = Int64(text.dropLast(suffix.count)), value >= 0 {
                let (product, overflow) = value.multipliedReportingOverflow(by: factor)
                if !overflow { return product }
            }
        }
        throw BadgeError.invalidArgument(
            "\(field): \"\(text)\" is not a duration; use e.g. 90d, 12h, 30m, 45s or milliseconds",
            reason: "invalid_duration")
    }
}
