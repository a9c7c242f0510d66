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
    let eventLoop: any EventLoop
    let window: Window
    let quota: UInt64
    let maxOutstanding: Int
    let intervalNanos: Double
    let firstPlanned: UInt64
    private let calls: CallBook
    private var nextIndex: UInt64 = 0
    private var startedMeasured: UInt64 = 0
    private var sending = true
    private var timerArmed = false

    var done: EventLoopFuture<Void> { calls.promise.futureResult }
    var recorder: Recorder { calls.recorder }

    init(
        client: BadgeClient, eventLoop: any EventLoop, source: RequestSource, window: Window, timeout: Duration?,
        quota: UInt64, maxOutstanding: Int, intervalNanos: Double, firstPlanned: UInt64
    ) {
        self.eventLoop = eventLoop
        self.window = window
        self.quota = quota
        self.maxOutstanding = maxOutstanding
        self.intervalNanos = intervalNanos
        self.firstPlanned = firstPlanned
        self.calls = CallBook(client: client, eventLoop: eventLoop, source: source, timeout: timeout, isOpenLoop: true)
    }

    func start() {
        eventLoop.scheduleTask(deadline: .uptimeNanoseconds(window.giveUpAt)) { self.finish() }
        pump()
    }

    func sample() -> ProgressSample { calls.sample() }

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
            if calls.inFlight >= maxOutstanding { break }  // resumed by the next reply
            nextIndex += 1
            if measured { startedMeasured += 1 }
            calls.send(from: at, measured: measured) { connected in
                if !connected { self.sending = false }
                if self.sending {
                    self.pump()
                } else if self.calls.inFlight == 0 {
                    self.finish()
                }
            }
        }
        if !sending && calls.inFlight == 0 { finish() }
    }

    private func arm(_ deadline: UInt64) {
        guard !timerArmed else { return }
        timerArmed = true
        eventLoop.scheduleTask(deadline: .uptimeNanoseconds(deadline)) {
            self.timerArmed = false
            self.pump()
        }
    }

    private func finish() {
        sending = false
        calls.finish()
    }
}
