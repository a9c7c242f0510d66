import BadgeModel
import Foundation

/// Tables for people, JSON for programs.
enum Output {
    static func json(_ value: some Encodable) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data("null".utf8)
        print(String(decoding: data, as: UTF8.self))
    }

    static func error(_ error: BadgeError) {
        var line = "error: \(error.code)"
        if !error.reason.isEmpty { line += " (\(error.reason))" }
        line += ": \(error.message)\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// Left-aligned columns, two spaces apart.
    static func table(_ header: [String], _ rows: [[String]]) {
        let all = [header] + rows
        var widths = Array(repeating: 0, count: header.count)
        for row in all { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
        for row in all {
            let cells = row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
            }
            print(cells.joined(separator: "  "))
        }
    }

    static func time(_ ms: Int64) -> String { ms == 0 ? "-" : Timestamps.iso(ms) }

    static func badges(_ badges: [BadgeDefinition]) {
        table(
            ["RANK", "ID", "NAME", "GROUP", "STATUS", "REPEATABLE", "CAP"],
            badges.map {
                [
                    String($0.rank), $0.id, $0.name, $0.group, $0.status.rawValue,
                    $0.repeatable ? "yes (max \($0.maxPerCustomer == 0 ? "∞" : String($0.maxPerCustomer)))" : "no",
                    $0.globalCap == 0 ? "-" : String($0.globalCap),
                ]
            })
    }

    static func badge(_ badge: BadgeDefinition) {
        var lines: [(String, String)] = [
            ("id", badge.id), ("name", badge.name), ("description", badge.description), ("icon", badge.icon),
            ("rank", String(badge.rank)), ("group", badge.group), ("status", badge.status.rawValue),
            ("repeatable", badge.repeatable ? "yes" : "no"),
        ]
        if badge.maxPerCustomer != 0 { lines.append(("max per customer", String(badge.maxPerCustomer))) }
        if badge.globalCap != 0 { lines.append(("global cap", String(badge.globalCap))) }
        if badge.validFromMs != 0 { lines.append(("valid from", time(badge.validFromMs))) }
        if badge.validUntilMs != 0 { lines.append(("valid until", time(badge.validUntilMs))) }
        if badge.expiresAfterMs != 0 { lines.append(("expires after", "\(badge.expiresAfterMs / 1000) s")) }
        if badge.expiresAtMs != 0 { lines.append(("expires at", time(badge.expiresAtMs))) }
        for (key, value) in badge.labels.sorted(by: { $0.key < $1.key }) { lines.append(("label \(key)", value)) }
        lines.append(("created", time(badge.createdAtMs)))
        lines.append(("updated", time(badge.updatedAtMs)))
        let width = lines.map(\.0.count).max() ?? 0
        for (key, value) in lines { print(key + String(repeating: " ", count: width - key.count) + "  " + value) }
    }

    static func awards(_ awards: [Award]) {
        table(
            ["AWARD", "CUSTOMER", "BADGE", "EARNED", "EXPIRES", "SOURCE", "REVOKED"],
            awards.map {
                [
                    String($0.awardId), $0.customerId, $0.badgeId, time($0.earnedAtMs), time($0.expiresAtMs),
                    $0.source.rawValue,
                    $0.isRevoked
                        ? "\(time($0.revokedAtMs)) by \($0.revokedBy.isEmpty ? "-" : $0.revokedBy): \($0.revokeReason)"
                        : "-",
                ]
            })
    }

    static func trophyCase(_ trophyCase: TrophyCase) {
        print("Trophy case of \(trophyCase.customerId)")
        table(
            ["", "RANK", "BADGE", "NAME", "EARNED", "EVIDENCE / PROGRESS"],
            trophyCase.entries.map { entry in
                let latest = entry.awards.last
                let count = entry.awardCount > 1 ? " ×\(entry.awardCount)" : ""
                return [
                    entry.state == .earned ? "★" : "·", String(entry.badge.rank), entry.badge.id,
                    entry.badge.name + count,
                    latest.map { time($0.earnedAtMs) } ?? "locked",
                    latest?.evidence ?? entry.progress.map(\.text).joined(separator: "; "),
                ]
            })
    }
}
