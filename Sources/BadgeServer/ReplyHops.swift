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
    // writer thread (in `send` there, and in `flush`, which the writer's batch observer runs).
    private final class Hop {
        let loop: any EventLoop
        var pending: [@Sendable () -> Void] = []
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

    /// On the writer thread, after a batch: one task per loop that has replies.
    private func flush() {
        for hop in hops.values where !hop.pending.isEmpty {
            let replies = hop.pending
            hop.pending.removeAll(keepingCapacity: true)
            hop.loop.execute { for reply in replies { reply() } }
        }
    }

    /// Stops gathering (replies go straight to their loops) and stops observing the writer.
    func stop() {
        stopped.store(true, ordering: .relaxed)
        if let token = observer.withLock({ $0.take() }) { service.removeBatchObserver(token) }
    }
}
