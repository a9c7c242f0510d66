import Dispatch
import Foundation
import Synchronization
import Testing

@testable import BadgeService

/// `PlanningTurns` bounds how many threads plan Evaluate events at once; a caller that finds every
/// turn taken leaves its job to the threads holding them.
@Suite("Planning turns")
struct PlanningTurnsTests {
    /// Counts jobs running at once and the most seen.
    final class Overlap: Sendable {
        private let state = Mutex((running: 0, most: 0, ran: [Int]()))
        func enter() {
            state.withLock {
                $0.running += 1; $0.most = max($0.most, $0.running)
            }
        }
        func leave(_ job: Int) {
            state.withLock {
                $0.running -= 1; $0.ran.append(job)
            }
        }
        var most: Int { state.withLock { $0.most } }
        var ran: [Int] { state.withLock { $0.ran } }
    }

    /// `threads` threads each submit `perThread` jobs that spin a little; returns what they saw.
    func hammer(limit: Int, threads: Int = 8, perThread: Int = 300) -> Overlap {
        let turns = PlanningTurns(limit: limit)
        let overlap = Overlap()
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            for index in 0..<perThread {
                let job = thread * perThread + index
                turns.run {
                    overlap.enter()
                    var spin = 0
                    for value in 0..<2_000 { spin &+= value }
                    precondition(spin > 0)
                    overlap.leave(job)
                }
            }
        }
        return overlap
    }

    @Test(arguments: [1, 2])
    func neverMoreThanTheLimitAtOnceAndEveryJobRunsOnce(limit: Int) {
        let overlap = hammer(limit: limit)
        #expect(overlap.most <= limit)
        // Every job ran, exactly once, by the time the last `run` returned: a turn is given back
        // only with the queue empty.
        #expect(overlap.ran.sorted() == Array(0..<2_400))
    }

    @Test func withoutALimitEveryCallerRunsItsOwnJobAtOnce() {
        let turns = PlanningTurns(limit: 0)
        let thread = Mutex<Thread?>(nil)
        turns.run { thread.withLock { $0 = Thread.current } }
        #expect(thread.withLock { $0 } == Thread.current)
        // Concurrent callers are not held to one at a time.
        #expect(hammer(limit: 0, threads: 4).ran.count == 1_200)
    }

    @Test func aCallerFindingTheTurnTakenReturnsAndTheHolderRunsItsJob() {
        let turns = PlanningTurns(limit: 1)
        let holding = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let holderThread = Mutex<Thread?>(nil)
        let queuedThread = Mutex<Thread?>(nil)
        let holderDone = DispatchSemaphore(value: 0)
        let holder = Thread {
            holderThread.withLock { $0 = Thread.current }
            turns.run {
                holding.signal()
                release.wait()
            }
            holderDone.signal()
        }
        holder.start()
        holding.wait()
        // The only turn is held: this returns at once, without running the job.
        turns.run { queuedThread.withLock { $0 = Thread.current } }
        #expect(queuedThread.withLock { $0 } == nil)
        release.signal()
        holderDone.wait()
        // The holder ran it before giving the turn back.
        let ranOn = queuedThread.withLock { $0 }
        #expect(ranOn != nil)
        #expect(ranOn == holderThread.withLock { $0 })
        // And the turn is free again: the next job runs on its caller.
        let next = Mutex<Thread?>(nil)
        turns.run { next.withLock { $0 = Thread.current } }
        #expect(next.withLock { $0 } == Thread.current)
    }

    @Test func theDefaultLeavesTheWriterACore() {
        #expect(BadgeService.defaultPlanningThreads(cores: 1) == 1)
        #expect(BadgeService.defaultPlanningThreads(cores: 2) == 1)
        #expect(BadgeService.defaultPlanningThreads(cores: 8) == 7)
    }
}
