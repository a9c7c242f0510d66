import BadgeCodec
import BadgeModel
import BadgeWire

// One typed method per RPC.
extension BadgeClient {
    public func putBadge(_ badge: BadgeDefinition, replace: Bool = false) async throws(BadgeError) -> PutBadgeResult {
        try await call(.putBadge, PutBadgeRequest(badge: badge, replace: replace))
    }

    public func badge(id: String) async throws(BadgeError) -> BadgeDefinition {
        try await call(.getBadge, GetBadgeRequest(badgeId: id), replyType: BadgeReply.self).badge
    }

    public func badges(includeInactive: Bool = false) async throws(BadgeError) -> [BadgeDefinition] {
        try await call(
            .listBadges, ListBadgesRequest(includeInactive: includeInactive), replyType: ListBadgesReply.self
        )
        .badges
    }

    public func deactivateBadge(id: String) async throws(BadgeError) -> BadgeDefinition {
        try await call(.deactivateBadge, DeactivateBadgeRequest(badgeId: id), replyType: DeactivateBadgeReply.self)
            .badge
    }

    public func issue(_ request: IssueRequest, timeout: Duration? = nil) async throws(BadgeError) -> IssueResult {
        try await call(.issue, request, timeout: timeout)
    }

    public func revoke(_ request: RevokeRequest) async throws(BadgeError) -> [Award] {
        try await call(.revoke, request, replyType: RevokeReply.self).revoked
    }

    /// A customer's trophy case.
    /// - Parameter awardsPerBadge: how many of each badge's current awards to list, the newest
    ///   (0: the server's default, 100; at most 1000). Each entry's `awardCount` counts them all.
    public func list(customerId: String, awardsPerBadge: UInt32 = 0) async throws(BadgeError) -> TrophyCase {
        try await call(.list, ListRequest(customerId: customerId, awardsPerBadge: awardsPerBadge))
    }

    /// Sends an activity event; returns the badges it earned and the progress it made.
    public func evaluate(_ event: ActivityEvent, timeout: Duration? = nil) async throws(BadgeError) -> EvaluateResult {
        try await call(.evaluate, event, timeout: timeout)
    }

    public func health() async throws(BadgeError) -> HealthInfo {
        try await call(.health, HealthRequest())
    }

    /// Every award after `afterAwardId`, streamed in chunks.
    public func exportAwards(
        after afterAwardId: UInt64 = 0, chunkSize: UInt32 = 0
    ) -> AsyncThrowingStream<
        ExportAwardsChunk, any Error
    > {
        serverStream(.exportAwards, ExportAwardsRequest(afterAwardId: afterAwardId, chunkSize: chunkSize))
    }
}
