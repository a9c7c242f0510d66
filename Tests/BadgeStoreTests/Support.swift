import BadgeModel
import BadgeStore
import BadgeTestSupport
import Foundation
import LMDB
import Testing

/// A fresh, unique directory under the system temporary directory (not created).
func temporaryStorePath() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("badge-store-tests-\(UUID().uuidString)").path
}

/// Opens a store in a fresh temporary directory, runs `body`, then closes the store and removes the directory.
func withStore<T>(
    options: Environment.Options = .init(mapSize: 32 << 20), _ body: (BadgeStore, String) throws -> T
) throws -> T {
    let path = temporaryStorePath()
    defer { try? FileManager.default.removeItem(atPath: path) }
    let store = try BadgeStore(path: path, options: options)
    defer { store.close() }
    return try body(store, path)
}

extension BadgeStore {
    func put(_ badge: BadgeDefinition) throws {
        try write { txn throws(BadgeError) in try putBadge(txn, badge) }
    }

    func insert(_ award: Award) throws -> Award {
        try write { txn throws(BadgeError) in try insertAward(txn, award) }
    }

    func revoke(_ award: Award, atMs: Int64, reason: String = "test", by actor: String = "tester") throws {
        var award = award
        award.revokedAtMs = atMs
        award.revokeReason = reason
        award.revokedBy = actor
        try write { txn throws(BadgeError) in try saveRevocation(txn, award) }
    }

    func customerAwards(_ customerId: String) throws -> [Award] {
        try read { txn throws(BadgeError) in try awards(txn, customerId: customerId) }
    }

    func customerAwards(_ customerId: String, badge badgeId: String) throws -> [Award] {
        try read { txn throws(BadgeError) in try awards(txn, customerId: customerId, badgeId: badgeId) }
    }

    func count(of badgeId: String) throws -> UInt64 {
        try read { txn throws(BadgeError) in try unrevokedCount(txn, badgeId: badgeId) }
    }
}

func newAward(
    customer: String, badge: String, requestId: String = "", earnedAtMs: Int64 = 1_000, evidence: String = ""
) -> Award {
    Award(
        awardId: 0, customerId: customer, badgeId: badge, earnedAtMs: earnedAtMs, source: .direct,
        evidence: evidence, evidenceFields: ["k": "v"], requestId: requestId)
}
