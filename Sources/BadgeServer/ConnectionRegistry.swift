import NIOCore
import Synchronization

/// Sent down each connection's pipeline when the server starts a graceful shutdown.
struct DrainConnectionEvent: Sendable {}

/// Counts open connections (for the connection limit) and finds them again at shutdown.
final class ConnectionRegistry: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var allClosed: EventLoopPromise<Void>?
    }
    private let state = Mutex(State())
    let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// Registers `channel`; false when the limit is reached (the channel is not registered).
    func admit(_ channel: any Channel) -> Bool {
        state.withLock { state in
            guard state.channels.count < limit else { return false }
            state.channels[ObjectIdentifier(channel)] = channel
            return true
        }
    }

    func remove(_ channel: any Channel) {
        let promise: EventLoopPromise<Void>? = state.withLock { state in
            guard state.channels.removeValue(forKey: ObjectIdentifier(channel)) != nil else { return nil }
            guard state.channels.isEmpty, let promise = state.allClosed else { return nil }
            state.allClosed = nil
            return promise
        }
        promise?.succeed()
    }

    var count: Int { state.withLock { $0.channels.count } }

    var channels: [any Channel] { state.withLock { Array($0.channels.values) } }

    /// Asks every connection to finish its calls and close; the future completes when all have closed.
    func drainAll(on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        let channels: [any Channel] = state.withLock { state in
            if state.channels.isEmpty { return [] }
            state.allClosed = promise
            return Array(state.channels.values)
        }
        if channels.isEmpty { promise.succeed() }
        for channel in channels { channel.pipeline.fireUserInboundEventTriggered(DrainConnectionEvent()) }
        return promise.futureResult
    }

    /// Closes whatever is still open (after the grace period).
    func closeAll() {
        let channels = state.withLock { Array($0.channels.values) }
        for channel in channels { channel.close(promise: nil) }
    }
}
