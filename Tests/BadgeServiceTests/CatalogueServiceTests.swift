import BadgeModel
import BadgeService
import BadgeStore
import BadgeTestSupport
import Testing

@Suite("BadgeService catalogue")
struct CatalogueServiceTests {
    @Test func putBadgeCreatesWithTimestamps() async throws {
        try await withHarness { h throws in
            var badge = BadgeDefinition(id: "gold", name: "Gold", rank: 3, labels: ["tier": "gold"])
            badge.createdAtMs = 1
            badge.updatedAtMs = 2
            let result = try await h.putBadge(badge)
            #expect(result.created)
            #expect(result.badge.createdAtMs == ServiceHarness.startMs)
            #expect(result.badge.updatedAtMs == ServiceHarness.startMs)
            #expect(result.badge.labels == ["tier": "gold"])
            #expect(try h.service.badge(id: "gold") == result.badge)
            #expect(try h.storedBadge("gold") == result.badge)
        }
    }

    @Test func duplicateCreateIsRefused() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "gold", name: "Gold"))
            let error = await expectAsyncBadgeError(.alreadyExists, reason: "badge_exists") {
                try await h.putBadge(BadgeDefinition(id: "gold", name: "Other Gold"))
            }
            #expect(error?.message.contains("gold") == true)
            #expect(try h.service.badge(id: "gold").name == "Gold")
        }
    }

    @Test func replaceKeepsCreatedAtAndBumpsUpdatedAt() async throws {
        try await withHarness { h throws in
            let created = try await h.putBadge(BadgeDefinition(id: "gold", name: "Gold"))
            h.clock.advance(by: 5_000)
            var replacement = BadgeDefinition(id: "gold", name: "Gold v2", rank: 9)
            replacement.createdAtMs = 42
            let replaced = try await h.putBadge(replacement, replace: true)
            #expect(replaced.created == false)
            #expect(replaced.badge.name == "Gold v2")
            #expect(replaced.badge.rank == 9)
            #expect(replaced.badge.createdAtMs == created.badge.createdAtMs)
            #expect(replaced.badge.updatedAtMs == ServiceHarness.startMs + 5_000)
            #expect(try h.service.badge(id: "gold") == replaced.badge)
        }
    }

    @Test func replaceOfAMissingBadgeCreatesIt() async throws {
        try await withHarness { h throws in
            let result = try await h.putBadge(BadgeDefinition(id: "new", name: "New"), replace: true)
            #expect(result.created)
            #expect(result.badge.createdAtMs == ServiceHarness.startMs)
        }
    }

    @Test func invalidDefinitionIsRefusedWithoutTouchingTheStore() async throws {
        try await withHarness { h throws in
            let before = h.service.writerStatistics
            let error = await expectAsyncBadgeError(.invalidArgument, reason: "missing_field") {
                try await h.putBadge(BadgeDefinition(id: "gold", name: ""))
            }
            #expect(error?.message.contains("badge.name") == true)
            await expectAsyncBadgeError(.invalidArgument, reason: "invalid_id") {
                try await h.putBadge(BadgeDefinition(id: "bad id", name: "Bad"))
            }
            await expectAsyncBadgeError(.invalidArgument, reason: "conflicting_expiry") {
                try await h.putBadge(BadgeDefinition(id: "x", name: "X", expiresAfterMs: 1, expiresAtMs: 2))
            }
            #expect(h.service.writerStatistics == before)
            #expect(h.service.writerStatistics.writes == 0)
            #expect(try h.storedBadge("gold") == nil)
            #expect(try h.service.badges(includeInactive: true).isEmpty)
        }
    }

    @Test func storedBadgesThatTodaysRulesRefuseAreReported() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "fine", name: "Fine"))
            // Stored straight into the store, as a build before the DISTINCT limit could have.
            let tooMany = Criteria(criteria: [
                Criterion(key: "stores", eventType: "purchase", aggregate: .distinct, attribute: "store", target: 2000)
            ])
            try h.store.write { txn throws(BadgeError) in
                try h.store.putBadge(txn, BadgeDefinition(id: "wanderer", name: "Wanderer", criteria: tooMany))
                try h.store.putBadge(txn, BadgeDefinition(id: "blank", name: ""))
            }
            let failing = try h.service.badgesFailingRules()
            #expect(failing.map(\.badgeId) == ["blank", "wanderer"])
            #expect(failing.first?.problem.message.contains("badge.name") == true)
            let distinct = failing.last?.problem
            #expect(distinct?.reason == "invalid_criteria")
            #expect(distinct?.message.contains("criteria[0].target must be at most 1024") == true)

            // A valid replacement clears the entry; what is stored is still served meanwhile.
            #expect(try h.service.badge(id: "wanderer").criteria == tooMany)
            var fixed = tooMany
            fixed.criteria[0].target = 20
            try await h.putBadge(BadgeDefinition(id: "wanderer", name: "Wanderer", criteria: fixed), replace: true)
            #expect(try h.service.badgesFailingRules().map(\.badgeId) == ["blank"])
        }
    }

    @Test func deactivateUnknownBadgeIsNotFound() async throws {
        try await withHarness { h throws in
            await expectAsyncBadgeError(.notFound, reason: "badge_not_found") {
                try await h.service.deactivateBadge(id: "ghost")
            }
            await expectAsyncBadgeError(.invalidArgument) { try await h.service.deactivateBadge(id: "not valid") }
        }
    }

    @Test func deactivateIsIdempotent() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "gold", name: "Gold"))
            h.clock.advance(by: 1_000)
            let first = try await h.service.deactivateBadge(id: "gold")
            #expect(first.status == .inactive)
            #expect(first.updatedAtMs == ServiceHarness.startMs + 1_000)
            h.clock.advance(by: 1_000)
            let second = try await h.service.deactivateBadge(id: "gold")
            #expect(second == first)
            #expect(try h.service.badge(id: "gold") == first)
        }
    }

    @Test func badgesListInDisplayOrderAndFilterInactive() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "c", name: "C", rank: 1))
            try await h.putBadge(BadgeDefinition(id: "b", name: "B", rank: 2))
            try await h.putBadge(BadgeDefinition(id: "a", name: "A", rank: 2))
            try await h.putBadge(BadgeDefinition(id: "old", name: "Old", rank: 0))
            _ = try await h.service.deactivateBadge(id: "old")
            #expect(try h.service.badges(includeInactive: false).map(\.id) == ["c", "a", "b"])
            #expect(try h.service.badges(includeInactive: true).map(\.id) == ["old", "c", "a", "b"])
        }
    }

    @Test func getBadgeErrors() async throws {
        try await withHarness { h throws in
            await expectAsyncBadgeError(.notFound, reason: "badge_not_found") { try h.service.badge(id: "missing") }
            await expectAsyncBadgeError(.invalidArgument, reason: "missing_id") { try h.service.badge(id: "") }
        }
    }

    @Test func healthCountsBadgesAndAwards() async throws {
        try await withHarness { h throws in
            try await h.putBadge(BadgeDefinition(id: "gold", name: "Gold"))
            try await h.issue("c1", "gold")
            h.clock.advance(by: 2_500)
            let health = try h.service.health(version: "test", protocolVersion: 1)
            #expect(health.badges == 1)
            #expect(health.awards == 1)
            #expect(health.startedAtMs == ServiceHarness.startMs)
            #expect(health.uptimeMs == 2_500)
            #expect(health.version == "test")
        }
    }
}
