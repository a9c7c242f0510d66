import BadgeModel
import BadgeStore
import Foundation
import Synchronization

/// What a read looked at, so that its answer waits only for the commits that could change it
/// (`BadgeService.whenDurable`).
public enum ReadScope: Sendable {
    /// One customer's trophy case: their awards, progress and time zone, and the catalogue.
    case customer(String)
    /// The badge definitions.
    case catalogue
    /// Anything: exports, counts, stored event outcomes.
    case everything
}

/// The writer's batches that are committed (visible to readers) but whose journal sync has not
/// finished, and the reads waiting for them.
///
/// The writer commits a batch as soon as its journal record is written and builds the next batch
/// while the record syncs (`WriteQueue`). Until the sync is done the batch is not durable: a crash
/// may lose it, so no caller may see it yet. Its writers hear back after the sync; a read answers
/// at once unless what it read includes such a batch, and then after the sync. The writer adds
/// each batch's changes before its commit makes them visible, so a reader that saw the data finds
/// the entry when it checks afterwards.
final class DurabilityGate: Sendable {
    private struct Entry {
        let id: UInt64
        let changes: TrophyCaseChanges
    }

    private struct Waiter {
        /// Released once every entry up to this one is durable.
        let entry: UInt64
        let run: @Sendable (BadgeError?) -> Void
    }

    private struct State {
        /// Oldest first.
        var entries: [Entry] = []
        var waiters: [Waiter] = []
        var nextId: UInt64 = 1
        /// Set when a sync failed: the entries left may be lost, and reads of them fail.
        var failure: BadgeError?
    }

    private let state = Mutex(State())
    /// `entries.count`: reads check it without the lock, and almost always find 0 when idle.
    private let pendingEntries = Atomic<Int>(0)

    /// Writer: `changes` are about to be committed and will be durable only after a later sync.
    /// Returns the entry's id for `durable(through:)` or `remove`.
    func add(_ changes: TrophyCaseChanges) -> UInt64 {
        state.withLock { state in
            let id = state.nextId
            state.nextId += 1
            state.entries.append(Entry(id: id, changes: changes))
            pendingEntries.store(state.entries.count, ordering: .sequentiallyConsistent)
            return id
        }
    }

    /// Writer: the commit of `id` failed, so nothing of it became visible.
    func remove(_ id: UInt64) {
        let released = state.withLock { state in
            state.entries.removeAll { $0.id == id }
            pendingEntries.store(state.entries.count, ordering: .sequentiallyConsistent)
            return Self.takeReleased(&state)
        }
        for waiter in released { waiter.run(nil) }
    }

    /// Writer: every entry up to `id` is durable. Runs the reads that were waiting only for them.
    func durable(through id: UInt64) {
        let released = state.withLock { state in
            state.entries.removeAll { $0.id <= id }
            pendingEntries.store(state.entries.count, ordering: .sequentiallyConsistent)
            return Self.takeReleased(&state)
        }
        for waiter in released { waiter.run(nil) }
    }

    /// Writer: a sync failed. The entries still pending may be lost: the reads waiting for them,
    /// and every later read that would see them, fail with `error`.
    func fail(_ error: BadgeError) {
        let waiting = state.withLock { state in
            if state.failure == nil { state.failure = error }
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiting { waiter.run(error) }
    }

    /// True when what `scope` reads holds only durable commits now.
    func isDurable(_ scope: ReadScope) -> Bool {
        if pendingEntries.load(ordering: .sequentiallyConsistent) == 0 { return true }
        return state.withLock { Self.blockingEntry(scope, in: $0) == nil }
    }

    /// Returns true when what `scope` reads is durable now, and then does not call `run`;
    /// otherwise calls `run` once it is (nil) or once it may have been lost (the error), on the
    /// writer thread or right away.
    func whenDurable(_ scope: ReadScope, _ run: @escaping @Sendable (BadgeError?) -> Void) -> Bool {
        if pendingEntries.load(ordering: .sequentiallyConsistent) == 0 { return true }
        let outcome: BadgeError?? = state.withLock { state in
            guard let entry = Self.blockingEntry(scope, in: state) else { return .some(nil) }
            if let failure = state.failure { return .some(failure) }
            state.waiters.append(Waiter(entry: entry, run: run))
            return nil
        }
        switch outcome {
        case .some(nil): return true
        case .some(let failure?):
            run(failure)
            return false
        case nil: return false
        }
    }

    /// Blocks until what `scope` reads is durable; throws if it may have been lost. Not on the
    /// writer thread, which is what releases it.
    func waitUntilDurable(_ scope: ReadScope) throws(BadgeError) {
        let outcome = Outcome()
        let ready = whenDurable(scope) { error in
            outcome.condition.lock()
            outcome.finished = true
            outcome.error = error
            outcome.condition.signal()
            outcome.condition.unlock()
        }
        if ready { return }
        outcome.condition.lock()
        while !outcome.finished { outcome.condition.wait() }
        let error = outcome.error
        outcome.condition.unlock()
        if let error { throw error }
    }

    private final class Outcome: @unchecked Sendable {
        // Guarded by `condition`.
        let condition = NSCondition()
        var finished = false
        var error: BadgeError?
    }

    /// The newest pending entry that changed what `scope` reads, if any.
    private static func blockingEntry(_ scope: ReadScope, in state: State) -> UInt64? {
        switch scope {
        case .everything:
            return state.entries.last?.id
        case .catalogue:
            return state.entries.last { $0.changes.catalogue }?.id
        case .customer(let id):
            let key = Array(id.utf8)
            return state.entries.last { $0.changes.catalogue || $0.changes.customers.contains(key) }?.id
        }
    }

    /// Removes and returns the waiters whose entries are all durable now.
    private static func takeReleased(_ state: inout State) -> [Waiter] {
        let oldest = state.entries.first?.id ?? .max
        guard state.waiters.contains(where: { $0.entry < oldest }) else { return [] }
        let released = state.waiters.filter { $0.entry < oldest }
        state.waiters.removeAll { $0.entry < oldest }
        return released
    }
}
