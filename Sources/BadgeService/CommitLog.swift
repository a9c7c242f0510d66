import BadgeStore
import Synchronization

/// The customers each of the last `capacity` commits changed, by generation: enough to tell
/// whether something read at an older generation may be out of date for one customer. Shared by
/// the List cache (fills) and the commit log (Evaluate plans); not thread-safe on its own.
struct RecentCommits {
    let capacity: Int
    /// Commits recorded so far (commits that changed nothing are not counted).
    private(set) var generation: UInt64 = 0
    /// Newest last: the generation each commit made and the customers it changed (nil: the
    /// catalogue, which every customer's reads depend on).
    private var commits: [(generation: UInt64, customers: Set<[UInt8]>?)] = []

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Records a commit's changes; false (and nothing recorded) when it changed nothing.
    @discardableResult
    mutating func record(_ changes: TrophyCaseChanges) -> Bool {
        guard !changes.isEmpty else { return false }
        generation += 1
        commits.append((generation, changes.catalogue ? nil : changes.customers))
        if commits.count > capacity { commits.removeFirst(commits.count - capacity) }
        return true
    }

    /// True when no commit after `ticket` (a `generation` read earlier) changed `customer` (its
    /// id's UTF-8 bytes) or the catalogue. A ticket older than what is remembered counts as changed.
    func unchanged(_ customer: [UInt8], since ticket: UInt64) -> Bool {
        if generation == ticket { return true }
        // Every commit after the ticket must still be remembered.
        guard let oldest = commits.first, oldest.generation <= ticket + 1 else { return false }
        for commit in commits.reversed() {
            if commit.generation <= ticket { break }
            guard let customers = commit.customers, !customers.contains(customer) else { return false }
        }
        return true
    }
}

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

    /// `recent.generation`, published after the commit's changes are recorded, so a planner that
    /// sees a generation is guaranteed its read transaction sees that commit's data.
    private let generation = Atomic<UInt64>(0)
    /// Only the writer thread touches it.
    private var recent = RecentCommits(capacity: CommitLog.remembered)

    /// Taken before the read transaction a plan is made in.
    func ticket() -> UInt64 {
        generation.load(ordering: .acquiring)
    }

    /// Records a commit's changes. Writer thread only, after the commit and before any caller of
    /// its batch is answered.
    func committed(_ changes: TrophyCaseChanges) {
        if recent.record(changes) { generation.store(recent.generation, ordering: .releasing) }
    }

    /// True when no commit after `ticket` changed `customer` (its id's UTF-8 bytes) or the
    /// catalogue. Writer thread only.
    func unchanged(_ customer: [UInt8], since ticket: UInt64) -> Bool {
        recent.unchanged(customer, since: ticket)
    }
}

/// How Evaluate's plans made outside the writer fared (for tests and benchmarks).
///
/// Counted when the writer decides, so a batch that fails as a whole and is retried one write at a
/// time counts its plans twice.
public struct EvaluatePlanStatistics: Sendable, Hashable {
    /// Plans the writer stored as they were.
    public var used = 0
    /// Plans the writer made again, because something they read had been written since (or the
    /// plan could not be made ahead).
    public var redone = 0
    /// Events the writer planned from the start (`writerPlanPercent`).
    public var onWriter = 0
}

final class PlanCounters: Sendable {
    private let used = Atomic<Int>(0)
    private let redone = Atomic<Int>(0)
    private let onWriter = Atomic<Int>(0)

    func add(used count: Int) { used.wrappingAdd(count, ordering: .relaxed) }
    func add(redone count: Int) { redone.wrappingAdd(count, ordering: .relaxed) }
    func add(onWriter count: Int) { onWriter.wrappingAdd(count, ordering: .relaxed) }

    var statistics: EvaluatePlanStatistics {
        EvaluatePlanStatistics(
            used: used.load(ordering: .relaxed), redone: redone.load(ordering: .relaxed),
            onWriter: onWriter.load(ordering: .relaxed))
    }
}
