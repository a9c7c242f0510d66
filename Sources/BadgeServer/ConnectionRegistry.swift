import NIOCore
import Synchronization

/// Sent down each connection's pipeline when the server starts a graceful shutdown.
struct DrainConnectionEvent: Sendable {}

/// Counts open connections (for the connection limit) and finds them again at shutdown.
final class ConnectionRegistry: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var allClosed: EventLoopPromise<Void>?
        /// A graceful shutdown has begun: connections accepted by a listener just before it closed
        /// would otherwise never hear of it, and shutdown would wait its grace period for them.
        var draining = false
    }

    /// What `admit` decided.
    enum Admission: Equatable {
        case admitted
        /// At `limit` open connections.
        case full
        /// A graceful shutdown has begun.
        case shuttingDown
    }
    private let state = Mutex(State())
    let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// Registers `channel`, unless the limit is reached or a shutdown has begun.
    func admit(_ channel: any Channel) -> Admission {
        state.withLock { state in
            guard !state.draining else { return .shuttingDown }
            guard state.channels.count < limit else { return .full }
            state.channels[ObjectIdentifier(channel)] = channel
            return .admitted
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
            // Under the same lock as `admit`: every channel is either drained here or refused there.
            state.draining = true
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
