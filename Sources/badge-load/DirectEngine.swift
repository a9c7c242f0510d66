import BadgeClient
import BadgeWire
import Foundation

/// Runs a workload with the direct engine: plain sockets driven by `DirectWorker` threads (one per
/// `--threads`), connections spread over them round-robin.
enum DirectEngine {
    struct Setup {
        var target: BadgeClient.Target
        var connections: Int
        var threads: Int
        var plan: WorkloadPlan
        var mode: DirectPacing.Mode
        var timeoutMicros: UInt64
        var metadata: [String: String]
        var requests: Int?
        var quiet: Bool
    }

    /// Connects every connection first, then asks `makeWindow` for the run's time line (so setting
    /// up many connections does not eat into it), runs, and returns the measurements and the window.
    static func run(
        _ setup: Setup, makeWindow: () -> (start: UInt64, window: Window)
    ) async throws -> (Recorder, Window) {
        var sockets: [Int32] = []
        do {
            for _ in 0..<setup.connections { sockets.append(try DirectSocket.connect(to: setup.target)) }
        } catch {
            for fd in sockets { close(fd) }
            throw error
        }
        let (start, window) = makeWindow()
        let pacing = DirectPacing(
            mode: setup.mode, window: window, timeoutMicros: setup.timeoutMicros, metadata: setup.metadata)
        let count = setup.connections
        var perThread: [[DirectConnection]] = Array(repeating: [], count: min(setup.threads, count))
        for (index, fd) in sockets.enumerated() {
            let quota: UInt64 = setup.requests.map { UInt64($0 / count + (index < $0 % count ? 1 : 0)) } ?? .max
            var firstPlanned = start
            var slots = 1
            switch pacing.mode {
            case .closed(let depth): slots = depth
            case .open(let interval, let maxOutstanding):
                slots = maxOutstanding
                // Stagger the connections so their sends interleave instead of bunching.
                firstPlanned += UInt64(interval * Double(index) / Double(count))
            }
            let worker = index % perThread.count
            perThread[worker].append(
                DirectConnection(
                    fd: fd, source: RequestSource(plan: setup.plan, connection: index),
                    quota: quota, firstPlanned: firstPlanned, slots: slots))
        }
        var workers: [DirectWorker] = []
        for connections in perThread {
            workers.append(
                try DirectWorker(
                    connections: connections, pacing: pacing, maxFrameSize: WireProtocol.defaultMaxFrameSize * 4))
        }
        let sampled = workers
        let progress =
            setup.quiet
            ? nil
            : Task {
                await Progress.run(start: start, window: window) {
                    var sample = ProgressSample()
                    for worker in sampled {
                        sample.completed += worker.progress.completed.load(ordering: .relaxed)
                        sample.errors += worker.progress.errors.load(ordering: .relaxed)
                        sample.inFlight += worker.progress.inFlight.load(ordering: .relaxed)
                    }
                    return sample
                }
            }
        let total = await withTaskGroup(of: Recorder.self) { group in
            for worker in workers { group.addTask { await onThread(worker) } }
            var total = Recorder()
            for await recorder in group { total.merge(recorder) }
            return total
        }
        progress?.cancel()
        await progress?.value
        return (total, window)
    }

    /// Runs `worker` on a thread of its own: its loop blocks in `epoll_wait`, which must not hold
    /// one of Swift concurrency's few cooperative threads.
    private static func onThread(_ worker: DirectWorker) async -> Recorder {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: worker.run()) }
            thread.name = "badge-load-direct"
            thread.start()
        }
    }
}
