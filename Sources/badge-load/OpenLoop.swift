import BadgeClient
import NIOCore

/// Open loop: sends on a fixed schedule (call k is planned at `firstPlanned + k * interval`) whatever
/// the server's speed, and measures each call from its *planned* send time. A slow server therefore
/// shows up as latency instead of as fewer calls (no coordinated omission).
///
/// When `maxOutstanding` calls are in flight, planned calls wait in the client and go out as replies
/// arrive; their wait still counts, since latency is taken from the plan.
///
/// Confined to `eventLoop`, like `ClosedLoopDriver`.
final class OpenLoopDriver: LoadDriver, @unchecked Sendable {
    let client: BadgeClient
    let eventLoop: any EventLoop
    let window: Window
    let timeout: Duration?
    let quota: UInt64
    let maxOutstanding: Int
    let intervalNanos: Double
    let firstPlanned: UInt64
    private var source: RequestSource
    private(set) var recorder = Recorder()
    private var nextIndex: UInt64 = 0
    private var startedMeasured: UInt64 = 0
    private var inFlight = 0
    private var sending = true
    private var finished = false
    private var timerArmed = false
    private let promise: EventLoopPromise<Void>

    var done: EventLoopFuture<Void> { promise.futureResult }

    init(
        client: BadgeClient, eventLoop: any EventLoop, source: RequestSource, window: Window, timeout: Duration?,
        quota: UInt64, maxOutstanding: Int, intervalNanos: Double, firstPlanned: UInt64
    ) {
        self.client = client
        self.eventLoop = eventLoop
        self.source = source
        self.window = window
        self.timeout = timeout
        self.quota = quota
        self.maxOutstanding = maxOutstanding
        self.intervalNanos = intervalNanos
        self.firstPlanned = firstPlanned
        self.promise = eventLoop.makePromise()
    }

    func start() {
        eventLoop.scheduleTask(deadline: .uptimeNanoseconds(window.giveUpAt)) { self.finish() }
        pump()
    }

    func sample() -> ProgressSample {
        ProgressSample(completed: recorder.completedAll, errors: recorder.errorsAll, inFlight: inFlight)
    }

    private func planned(_ index: UInt64) -> UInt64 {
        firstPlanned &+ UInt64(Double(index) * intervalNanos)
    }

    /// Sends every call whose planned time has come (up to the in-flight bound), then sleeps until the next.
    private func pump() {
        let now = nowNanos()
        while sending {
            let at = planned(nextIndex)
            let measured = at >= window.measureFrom
            if at >= window.stopAt || (measured && startedMeasured >= quota) {
                sending = false
                break
            }
            if at > now {
                arm(at)
                break
            }
            if inFlight >= maxOutstanding { break }  // resumed by the next reply
            nextIndex += 1
            if measured { startedMeasured += 1 }
            send(planned: at, measured: measured)
        }
        if !sending && inFlight == 0 { finish() }
    }

    private func arm(_ deadline: UInt64) {
        guard !timerArmed else { return }
        timerArmed = true
        eventLoop.scheduleTask(deadline: .uptimeNanoseconds(deadline)) {
            self.timerArmed = false
            self.pump()
        }
    }

    private func send(planned: UInt64, measured: Bool) {
        let (operation, payload) = source.next()
        inFlight += 1
        client.startCall(method: operation.method, payload: payload, timeout: timeout).whenComplete { result in
            self.completed(operation, planned: planned, measured: measured, result)
        }
    }

    private func completed(
        _ operation: Operation, planned: UInt64, measured: Bool, _ result: Result<ReplyFrame, any Error>
    ) {
        guard !finished else { return }
        inFlight -= 1
        let end = nowNanos()
        recorder.record(
            operation, nanos: end &- planned, end: end, status: Recorder.status(of: result), measured: measured)
        // The connection is gone (no reconnect): stop rather than fail every planned call at once.
        if case .failure = result { sending = false }
        if sending {
            pump()
        } else if inFlight == 0 {
            finish()
        }
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
