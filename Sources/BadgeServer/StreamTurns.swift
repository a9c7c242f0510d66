import NIOCore

/// Lets the server streams (ExportAwards) of each event loop take turns with the loop's socket I/O:
/// a stream that has sent a burst and could go on waits here, and the loop reads its sockets (other
/// connections' calls, a CANCEL for the stream) before the next burst.
///
/// `execute` cannot do this: NIO's loop runs tasks, including those queued by the tasks it runs,
/// until none is ready, and only then polls its sockets (`SelectableEventLoop.runOneLoopTick`). A
/// task scheduled slightly ahead is not ready yet when the loop next looks, so the loop polls first,
/// but only if no other task is ready either: with one scheduled task per stream, each stream's
/// burst outlasts the other's short delay, and two fast streams run each other on without a poll.
/// So the waiting streams of a loop share one scheduled task, scheduled after the whole round.
final class StreamTurns: @unchecked Sendable {
    // @unchecked: `loops` never changes after init; each `Turns` is touched only on its loop.
    private final class Turns {
        var waiting: [() -> Void] = []
        var scheduled = false
    }

    /// Long enough that the round's task is not yet ready when the loop next looks (the loop polls
    /// without waiting when it has I/O, so this delays a stream only on an otherwise idle loop).
    static let pause = TimeAmount.microseconds(50)

    private let loops: [ObjectIdentifier: Turns]

    init(group: any EventLoopGroup) {
        var loops: [ObjectIdentifier: Turns] = [:]
        for loop in group.makeIterator() { loops[ObjectIdentifier(loop)] = Turns() }
        self.loops = loops
    }

    /// Runs `next` on `loop`, which must be the current one, once the loop has polled its sockets.
    func afterIO(on loop: any EventLoop, _ next: @escaping () -> Void) {
        loop.preconditionInEventLoop()
        let turns = loops[ObjectIdentifier(loop)]!
        turns.waiting.append(next)
        schedule(turns, on: loop)
    }

    private func schedule(_ turns: Turns, on loop: any EventLoop) {
        guard !turns.scheduled else { return }
        turns.scheduled = true
        let bound = NIOLoopBound(turns, eventLoop: loop)
        loop.scheduleTask(in: Self.pause) { [self] in
            let turns = bound.value
            let round = turns.waiting
            turns.waiting.removeAll()
            for next in round { next() }
            // Only now, so that the next round's task is not ready as soon as this one ends.
            turns.scheduled = false
            if !turns.waiting.isEmpty { schedule(turns, on: loop) }
        }
    }
}
