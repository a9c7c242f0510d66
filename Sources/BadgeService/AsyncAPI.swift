import BadgeModel

// async forms of the writes, for callers that are not on an event loop (tests, tools).
extension BadgeService {
    public func putBadge(_ request: PutBadgeRequest) async throws(BadgeError) -> PutBadgeResult {
        try await withCheckedContinuation { continuation in
            putBadge(request) { continuation.resume(returning: $0) }
        }.get()
    }

    public func deactivateBadge(id: String) async throws(BadgeError) -> BadgeDefinition {
        try await withCheckedContinuation { continuation in
            deactivateBadge(id: id) { continuation.resume(returning: $0) }
        }.get()
    }

    public func issue(_ request: IssueRequest) async throws(BadgeError) -> IssueResult {
        try await withCheckedContinuation { continuation in
            issue(request) { continuation.resume(returning: $0) }
        }.get()
    }

    public func revoke(_ request: RevokeRequest) async throws(BadgeError) -> [Award] {
        try await withCheckedContinuation { continuation in
            revoke(request) { continuation.resume(returning: $0) }
        }.get()
    }
}

extension BadgeService {
    public func evaluate(_ event: ActivityEvent) async throws(BadgeError) -> EvaluateResult {
        try await withCheckedContinuation { continuation in
            evaluate(event) { continuation.resume(returning: $0) }
        }.get()
    }

    /// Returns once every write queued before the call has committed and run its completion, and
    /// the batch observers have run for those batches (so replies gathered by an observer have
    /// been handed on).
    public func flush() async {
        // The first marker completes inside its batch, before that batch's observers run; the
        // second is only taken after them.
        for _ in 0..<2 {
            await withCheckedContinuation { continuation in
                writer.submit(
                    PendingWrite(
                        deadline: nil, apply: { _, _ in { continuation.resume() } },
                        fail: { _ in continuation.resume() }))
            }
        }
    }
}
