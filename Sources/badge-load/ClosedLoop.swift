import BadgeClient
import NIOCore

/// The run's time line, shared by every connection (all in `nowNanos()` time).
struct Window: Sendable {
    /// No call starts before this, so every connection is set up first (and a run with no warm-up
    /// sends only measured calls).
    var startAt: UInt64
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

/// What both drivers share: one connection's calls in flight, their latencies, and the end of the
/// run (calls still unanswered then count as NO_REPLY). Confined to its driver's event loop.
final class CallBook: @unchecked Sendable {
    let client: BadgeClient
    let timeout: Duration?
    private var source: RequestSource
    private(set) var recorder = Recorder()
    private(set) var inFlight = 0
    private(set) var finished = false
    let promise: EventLoopPromise<Void>
    /// Calls are sent on a schedule: `from` is their planned time, and lateness is recorded.
    let isOpenLoop: Bool

    init(client: BadgeClient, eventLoop: any EventLoop, source: RequestSource, timeout: Duration?, isOpenLoop: Bool) {
        self.client = client
        self.isOpenLoop = isOpenLoop
        self.source = source
        self.timeout = timeout
        self.promise = eventLoop.makePromise()
    }

    /// Starts the next call; its latency counts from `from` (the send, or the planned send). `then`
    /// runs after the reply is recorded, with false when the connection is gone (no reconnect:
    /// the driver stops rather than fail every later call at once). Nothing runs after `finish()`.
    func send(from: UInt64, measured: Bool, then: @escaping @Sendable (Bool) -> Void) {
        let (operation, payload) = source.next()
        if measured, isOpenLoop { recorder.recordSendLag(nowNanos() &- from) }
        inFlight += 1
        client.sendCall(method: operation.method, payload: payload, timeout: timeout) { result in
            guard !self.finished else { return }
            self.inFlight -= 1
            let end = nowNanos()
            self.recorder.record(
                operation, nanos: end &- from, end: end, status: Recorder.status(of: result), measured: measured)
            if case .failure = result { then(false) } else { then(true) }
        }
    }

    func sample() -> ProgressSample {
        ProgressSample(completed: recorder.completedAll, errors: recorder.errorsAll, inFlight: inFlight)
    }

    func finish() {
        guard !finished else { return }
        finished = true
        if inFlight > 0 {
            recorder.errors["NO_REPLY", default: 0] += UInt64(inFlight)
            recorder.measured += UInt64(inFlight)
        }
        promise.succeed()
    }
}

/// Closed loop: keeps `depth` calls in flight on one connection and starts the next call from the
/// completion callback, on the event loop, so the hot path has no task hops or locks.
///
/// Confined to `eventLoop`: every method runs there (it owns the connection's channel), which is
/// what makes the unchecked Sendable sound.
final class ClosedLoopDriver: LoadDriver, @unchecked Sendable {
    let eventLoop: any EventLoop
    let window: Window
    let depth: Int
    /// Measured calls this connection may start.
    let quota: UInt64
    private let calls: CallBook
    private var startedMeasured: UInt64 = 0
    private var sending = true

    var done: EventLoopFuture<Void> { calls.promise.futureResult }
    var recorder: Recorder { calls.recorder }

    init(
        client: BadgeClient, eventLoop: any EventLoop, source: RequestSource, window: Window, depth: Int,
        timeout: Duration?, quota: UInt64
    ) {
        self.eventLoop = eventLoop
        self.window = window
        self.depth = depth
        self.quota = quota
        self.calls = CallBook(client: client, eventLoop: eventLoop, source: source, timeout: timeout, isOpenLoop: false)
    }

    func start() {
        eventLoop.scheduleTask(deadline: .uptimeNanoseconds(window.giveUpAt)) { self.finish() }
        eventLoop.scheduleTask(deadline: .uptimeNanoseconds(window.startAt)) {
            for _ in 0..<self.depth where self.sending { self.sendNext() }
            self.finishIfIdle()
        }
    }

    func sample() -> ProgressSample { calls.sample() }

    private func sendNext() {
        let now = nowNanos()
        let measured = now >= window.measureFrom
        guard sending, now < window.stopAt, !measured || startedMeasured < quota else {
            sending = false
            return
        }
        if measured { startedMeasured += 1 }
        calls.send(from: now, measured: measured) { connected in
            if !connected { self.sending = false }
            if self.sending { self.sendNext() }
            self.finishIfIdle()
        }
    }

    private func finishIfIdle() {
        if !sending && calls.inFlight == 0 { finish() }
    }

    private func finish() {
        sending = false
        calls.finish()
    }
}
