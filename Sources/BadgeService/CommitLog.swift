import BadgeStore
import Synchronization

/// Which customers the last few commits changed, so that the writer can tell whether work prepared
/// outside it, from an older read transaction, still describes the store.
///
/// Evaluate plans an event on the caller's thread (reads, evaluation, encoding: most of its cost)
/// and hands the writer the result; the writer applies it only if nothing the plan read has been
/// written since, and otherwise plans again itself. A planner takes a `ticket()` before opening its
/// read transaction; `unchanged(_:since:)` then answers on the writer thread.
final class CommitLog: @unchecked Sendable {
    /// How many commits are remembered; a ticket older than that counts as changed.
    static let remembered = 64

    /// Commits noted so far. Raised after the commit's changes are recorded, so a planner that sees
    /// a generation is guaranteed its read transaction sees that commit's data.
    private let generation = Atomic<UInt64>(0)
    /// Newest last: the generation each commit made and the customers it changed (nil: the
    /// catalogue, which every plan depends on). Only the writer thread touches it.
    private var recent: [(generation: UInt64, customers: Set<[UInt8]>?)] = []

    /// Taken before the read transaction a plan is made in.
    func ticket() -> UInt64 {
        generation.load(ordering: .acquiring)
    }

    /// Records a commit's changes. Writer thread only, after the commit and before any caller of
    /// its batch is answered.
    func committed(_ changes: TrophyCaseChanges) {
        guard !changes.isEmpty else { return }
        let next = generation.load(ordering: .relaxed) + 1
        recent.append((next, changes.catalogue ? nil : changes.customers))
        if recent.count > Self.remembered { recent.removeFirst(recent.count - Self.remembered) }
        generation.store(next, ordering: .releasing)
    }

    /// True when no commit after `ticket` changed `customer` (its id's UTF-8 bytes) or the
    /// catalogue. Writer thread only.
    func unchanged(_ customer: [UInt8], since ticket: UInt64) -> Bool {
        let current = generation.load(ordering: .relaxed)
        if current == ticket { return true }
        // Every commit after the ticket must still be remembered.
        guard let oldest = recent.first, oldest.generation <= ticket + 1 else { return false }
        for commit in recent.reversed() {
            if commit.generation <= ticket { break }
            guard let customers = commit.customers, !customers.contains(customer) else { return false }
        }
        return true
    }
}

/// How Evaluate's plans made outside the writer fared (for tests and benchmarks).
///
/// Counted when the writer decides, so a batch that fails as a whole and is retried one write at a
/// time counts its plans twice.
public struct EvaluatePlanStatistics: Sendable, Hashable {
    /// Plans the writer stored as they were.
    public var used = 0
    /// Plans the writer made again, because something they read had been written since.
    public var redone = 0
}

final class PlanCounters: Sendable {
    private let used = Atomic<Int>(0)
    private let redone = Atomic<Int>(0)

    func add(used count: Int) { used.wrappingAdd(count, ordering: .relaxed) }
    func add(redone count: Int) { redone.wrappingAdd(count, ordering: .relaxed) }

    var statistics: EvaluatePlanStatistics {
        EvaluatePlanStatistics(used: used.load(ordering: .relaxed), redone: redone.load(ordering: .relaxed))
    }
}
