import BadgeService
import NIOCore
import Synchronization

/// Carries write replies from the service's writer thread to the event loops: the replies of one
/// committed batch are gathered per event loop and handed over in one task each, when the writer
/// says the batch is done (`BadgeService.addBatchObserver`). One `execute` per reply woke the loop
/// (an `eventfd` write) for every reply: ~5% of the writer's time under Issue load.
///
/// Replies completed anywhere else (a write refused before it was queued, shutdown) go straight to
/// their loop.
final class ReplyHops: @unchecked Sendable {
    // @unchecked: `hops` never changes after init; each hop's `pending` is touched only on the
    // writer thread (in `send` there, and in `flush`, which the writer's batch observer runs), and
    // its `delivering` and `toFlush` only on its event loop (both asserted in debug builds).
    private final class Hop: @unchecked Sendable {
        let loop: any EventLoop
        var pending: [@Sendable () -> Void] = []
        /// True while a batch's replies run on the loop.
        var delivering = false
        /// Connections that got replies in the batch being delivered, flushed once it is.
        var toFlush: [ConnectionHandler] = []
        init(_ loop: any EventLoop) { self.loop = loop }
    }

    private let hops: [ObjectIdentifier: Hop]
    private let service: BadgeService
    private let stopped = Atomic<Bool>(false)
    private let observer = Mutex<UInt64?>(nil)

    init(group: any EventLoopGroup, service: BadgeService) {
        var hops: [ObjectIdentifier: Hop] = [:]
        for loop in group.makeIterator() { hops[ObjectIdentifier(loop)] = Hop(loop) }
        self.hops = hops
        self.service = service
        let token = service.addBatchObserver { [weak self] in self?.flush() }
        observer.withLock { $0 = token }
    }

    /// Runs `reply` on `loop`: with the rest of its batch when called on the writer thread.
    func send(on loop: any EventLoop, _ reply: @escaping @Sendable () -> Void) {
        if !stopped.load(ordering: .relaxed), service.isWriterThread, let hop = hops[ObjectIdentifier(loop)] {
            hop.pending.append(reply)
        } else {
            loop.execute(reply)
        }
    }

    /// On the writer thread, after a batch: one task per loop that has replies, which flushes each
    /// connection it answered once at its end.
    private func flush() {
        assert(service.isWriterThread, "a batch's replies are handed over from the writer thread only")
        for hop in hops.values where !hop.pending.isEmpty {
            let replies = hop.pending
            hop.pending.removeAll(keepingCapacity: true)
            hop.loop.execute {
                hop.delivering = true
                for reply in replies { reply() }
                hop.delivering = false
                for handler in hop.toFlush { handler.flushDeliveredReplies() }
                hop.toFlush.removeAll(keepingCapacity: true)
            }
        }
    }

    /// On `loop`: true if a batch's replies are being delivered there, in which case `handler` is
    /// flushed when they all are (rather than in a task of its own per reply).
    func flushAfterDelivery(_ handler: ConnectionHandler, on loop: any EventLoop) -> Bool {
        loop.assertInEventLoop()
        guard let hop = hops[ObjectIdentifier(loop)], hop.delivering else { return false }
        hop.toFlush.append(handler)
        return true
    }

    /// Stops gathering (replies go straight to their loops) and stops observing the writer.
    func stop() {
        stopped.store(true, ordering: .relaxed)
        if let token = observer.withLock({ $0.take() }) { service.removeBatchObserver(token) }
    }
}
