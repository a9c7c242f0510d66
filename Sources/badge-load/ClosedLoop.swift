import BadgeClient
import NIOCore

/// The run's time line, shared by every connection (all in `nowNanos()` time).
struct Window: Sendable {
    /// Calls started (closed loop) or planned (open loop) before this are warm-up: not recorded.
    var measureFrom: UInt64
    /// No call starts or is planned at or after this.
    var stopAt: UInt64
    /// Calls still unanswered by this time are given up (counted as NO_REPLY).
    var giveUpAt: UInt64
}

/// What the runner needs from a connection's driver.
protocol LoadDriver: AnyObject, Sendable {
    var eventLoop: any EventLoop { get }
    var done: EventLoopFuture<Void> { get }
    /// Starts the load; call on `eventLoop`.
    func start()
    /// Call on `eventLoop`.
    func sample() -> ProgressSample
    /// Call on `eventLoop` once `done` has completed.
    var recorder: Recorder { get }
}

/// Closed loop: keeps `depth` calls in flight on one connection and starts the next call from the
/// completion callback, on the event loop, so the hot path has no task hops or locks.
///
/// Confined to `eventLoop`: every method runs there (it owns the connection's channel), which is
/// what makes the unchecked Sendable sound.
final class ClosedLoopDriver: LoadDriver, @unchecked Sendable {
    let client: BadgeClient
    let eventLoop: any EventLoop
    let window: Window
    let depth: Int
    let timeout: Duration?
    /// Measured calls this connection may start.
    let quota: UInt64
    private var source: RequestSource
    private(set) var recorder = Recorder()
    private var startedMeasured: UInt64 = 0
    private var inFlight = 0
    private var sending = true
    private var finished = false
    private let promise: EventLoopPromise<Void>

    var done: EventLoopFuture<Void> { promise.futureResult }

    init(
        client: BadgeClient, eventLoop: any EventLoop, source: RequestSource, window: Window, depth: Int,
        timeout: Duration?, quota: UInt64
    ) {
        self.client = client
        self.eventLoop = eventLoop
        self.source = source
        self.window = window
        self.depth = depth
        self.timeout = timeout
        self.quota = quota
        self.promise = eventLoop.makePromise()
    }

    func start() {
        eventLoop.scheduleTask(deadline: .uptimeNanoseconds(window.giveUpAt)) { self.finish() }
        for _ in 0..<depth where sending { sendNext() }
        finishIfIdle()
    }

    func sample() -> ProgressSample {
        ProgressSample(completed: recorder.completedAll, errors: recorder.errorsAll, inFlight: inFlight)
    }

    private func sendNext() {
        let now = nowNanos()
        let measured = now >= window.measureFrom
        guard sending, now < window.stopAt, !measured || startedMeasured < quota else {
            sending = false
            return
        }
        if measured { startedMeasured += 1 }
        let (operation, payload) = source.next()
        inFlight += 1
        client.startCall(method: operation.method, payload: payload, timeout: timeout).whenComplete { result in
            self.completed(operation, start: now, measured: measured, result)
        }
    }

    private func completed(
        _ operation: Operation, start: UInt64, measured: Bool, _ result: Result<ReplyFrame, any Error>
    ) {
        guard !finished else { return }
        inFlight -= 1
        let end = nowNanos()
        recorder.record(
            operation, nanos: end &- start, end: end, status: Recorder.status(of: result), measured: measured)
        // A local failure means the connection is gone (the client does not reconnect); retrying
        // would fail at once and recurse, so this connection stops.
        if case .failure = result { sending = false }
        if sending { sendNext() }
        finishIfIdle()
    }

    private func finishIfIdle() {
        if !sending && inFlight == 0 { finish() }
    }

    private func finish() {
        guard !finished else { return }
        finished = true
        sending = false
        if inFlight > 0 {
            recorder.errors["NO_REPLY", default: 0] += UInt64(inFlight)
            recorder.measured += UInt64(inFlight)
        }
        promise.succeed()
    }
}
