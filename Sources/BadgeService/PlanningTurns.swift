import Synchronization

/// Lets at most `limit` threads plan Evaluate events at once, without handing any event to another
/// thread when a turn is free.
///
/// A caller whose turn is free plans its own event and then every event queued meanwhile; one that
/// finds every turn taken queues its event and returns at once (its reply comes through the usual
/// completion), so its thread goes back to its sockets. Why: the single writer stores every event,
/// and each event costs it more than planning does, so one planner keeps it fed; two event loops
/// planning at once on a two-core machine only push the writer off a core (measured: 0.89x the
/// events/s of one event loop at 32 x 8, same CPU per event), and the pipeline stalls behind it.
final class PlanningTurns: Sendable {
    typealias Job = @Sendable () -> Void

    private struct State {
        var free: Int
        var queued: [Job] = []
    }

    private let state: Mutex<State>
    /// Turns; 0 = no limit (every caller plans its own event, as before).
    let limit: Int

    init(limit: Int) {
        self.limit = max(limit, 0)
        state = Mutex(State(free: max(limit, 0)))
    }

    /// Runs `job` now on this thread, or queues it for the thread holding a turn.
    func run(_ job: @escaping Job) {
        if take(orQueue: job) {
            job()
            giveBack()
        }
    }

    /// Takes a turn and returns true, or queues `job` for a thread holding one and returns false.
    /// `job` is only made when it is queued, so the common case allocates nothing. After true, run
    /// the work, then `giveBack()`.
    func take(orQueue job: @autoclosure () -> Job) -> Bool {
        if limit == 0 { return true }
        return state.withLock { state -> Bool in
            if state.free == 0 {
                state.queued.append(job())
                return false
            }
            state.free -= 1
            return true
        }
    }

    /// Runs what others queued meanwhile, then gives the turn back: only with the queue empty (under
    /// the lock), so no queued job is ever left without a thread to run it.
    func giveBack() {
        if limit == 0 { return }
        // Jobs are swapped out with the array they go into, so both arrays keep their capacity.
        var jobs: [Job] = []
        while true {
            let more = state.withLock { state -> Bool in
                if state.queued.isEmpty {
                    state.free += 1
                    return false
                }
                swap(&jobs, &state.queued)
                return true
            }
            if !more { return }
            for job in jobs { job() }
            jobs.removeAll(keepingCapacity: true)
        }
    }
}
