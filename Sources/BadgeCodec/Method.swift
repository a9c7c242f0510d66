/// Method names, "badges.v1.Badges/<Method>".
public enum Method: String, Sendable, CaseIterable {
    case putBadge = "badges.v1.Badges/PutBadge"
    case getBadge = "badges.v1.Badges/GetBadge"
    case listBadges = "badges.v1.Badges/ListBadges"
    case deactivateBadge = "badges.v1.Badges/DeactivateBadge"
    case issue = "badges.v1.Badges/Issue"
    case revoke = "badges.v1.Badges/Revoke"
    case list = "badges.v1.Badges/List"
    case exportAwards = "badges.v1.Badges/ExportAwards"
    case evaluate = "badges.v1.Badges/Evaluate"
    case health = "badges.v1.Badges/Health"

    /// Server-streaming methods answer with several frames.
    public var isServerStreaming: Bool { self == .exportAwards }

    /// The names' bytes, to recognise a name in a frame without making a String of it.
    static let utf8Names: [(Method, [UInt8])] = allCases.map { ($0, Array($0.rawValue.utf8)) }
}
