import BadgeCodec
import BadgeModel
import BadgeWire
import NIOCore
import NIOPosix
import Synchronization

/// An async client for the badge service: one connection, many calls in flight on it, replies
/// matched by call id. Safe to share between tasks.
public final class BadgeClient: Sendable {
    /// Where the server listens.
    public enum Target: Sendable, CustomStringConvertible {
        case unix(path: String)
        case tcp(host: String, port: Int)

        /// A TCP target from a parsed `HOST:PORT`.
        public static func tcp(_ address: HostPort) -> Target { .tcp(host: address.host, port: address.port) }

        public var description: String {
            switch self {
            case .unix(let path): "unix:\(path)"
            case .tcp(let host, let port): "\(host):\(port)"
            }
        }
    }

    let channel: any Channel
    let ownedGroup: MultiThreadedEventLoopGroup?
    /// Sent with every call (e.g. `authorization`).
    public let metadata: [String: String]
    /// Applied to calls that do not give their own timeout; nil = none.
    public let defaultTimeout: Duration?

    /// Connects and completes the preface exchange. `maxFrameSize` bounds replies, which can be larger
    /// than requests (a big catalogue, an export chunk). Failures are `UNAVAILABLE` with reason
    /// `connect_failed`, or the server's own refusal (e.g. `RESOURCE_EXHAUSTED` when it is full).
    public static func connect(
        to target: Target, group: (any EventLoopGroup)? = nil, metadata: [String: String] = [:],
        defaultTimeout: Duration? = nil, maxFrameSize: Int = 64 << 20
    ) async throws(BadgeError) -> BadgeClient {
        let ownedGroup = group == nil ? MultiThreadedEventLoopGroup(numberOfThreads: 1) : nil
        let eventLoop = (group ?? ownedGroup!).next()
        // Completed by the handler when the server's preface arrives, or with the server's refusal.
        let ready = eventLoop.makePromise(of: Void.self)
        let bootstrap = ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(WireFrameDecoder(maxFrameSize: maxFrameSize)))
                    try channel.pipeline.syncOperations.addHandler(ClientHandler(ready: ready))
                }
            }
        do {
            let channel: any Channel
            do {
                switch target {
                case .unix(let path): channel = try await bootstrap.connect(unixDomainSocketPath: path).get()
                case .tcp(let host, let port): channel = try await bootstrap.connect(host: host, port: port).get()
                }
            } catch {
                ready.fail(error)
                throw error
            }
            try await ready.futureResult.get()
            return BadgeClient(
                channel: channel, ownedGroup: ownedGroup, metadata: metadata, defaultTimeout: defaultTimeout)
        } catch let error as BadgeError {
            try? await ownedGroup?.shutdownGracefully()
            throw error
        } catch {
            try? await ownedGroup?.shutdownGracefully()
            throw BadgeError(.unavailable, "cannot connect to \(target): \(error)", reason: "connect_failed")
        }
    }

    init(
        channel: any Channel, ownedGroup: MultiThreadedEventLoopGroup?, metadata: [String: String],
        defaultTimeout: Duration?
    ) {
        self.channel = channel
        self.ownedGroup = ownedGroup
        self.metadata = metadata
        self.defaultTimeout = defaultTimeout
    }

    /// The event loop of this connection: callbacks of `startCall` futures run here.
    public var eventLoop: any EventLoop { channel.eventLoop }

    /// Closes the connection; calls in flight fail with `UNAVAILABLE`.
    public func close() async {
        try? await channel.close()
        try? await ownedGroup?.shutdownGracefully()
    }

    // MARK: - Generic calls

    /// Starts a unary call and returns the raw reply frame's future (for tools that pipeline
    /// without async overhead). Status is not checked.
    public func startCall(
        method: String, payload: [UInt8], timeout: Duration? = nil, metadata extra: [String: String] = [:]
    ) -> EventLoopFuture<ReplyFrame> {
        let promise = channel.eventLoop.makePromise(of: ReplyFrame.self)
        let call = OutgoingCall(
            method: method, timeoutMicros: Self.micros(timeout ?? defaultTimeout),
            metadata: extra.isEmpty ? metadata : metadata.merging(extra) { $1 }, payload: payload,
            receiver: .unary(promise))
        // A write to a closed channel never reaches the handler: fail the call here instead.
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { _ in promise.fail(Self.connectionClosed) }
        channel.write(call, promise: written)
        return promise.futureResult
    }

    /// Starts a unary call whose reply header (status, message) is handed to `onReply` on this
    /// connection's event loop, with no futures and no copy of the reply in between: for load tools
    /// that keep many calls in flight. Status is not checked. Called on `eventLoop`, a call on a
    /// closed connection fails at once; from elsewhere it fails when the connection's end is seen.
    public func sendCall(
        method: String, payload: [UInt8], timeout: Duration? = nil,
        onReply: @escaping @Sendable (Result<ResponseHeader, BadgeError>) -> Void
    ) {
        let call = OutgoingCall(
            method: method, timeoutMicros: Self.micros(timeout ?? defaultTimeout), metadata: metadata,
            payload: payload, receiver: .callback(onReply))
        if channel.eventLoop.inEventLoop {
            // On the loop, an active channel still has its handler: the write reaches it now.
            guard channel.isActive else { return onReply(.failure(Self.connectionClosed)) }
            channel.write(call, promise: nil)
        } else {
            // The handler may fail the call itself and then the write too: answer once.
            let answered = Atomic<Bool>(false)
            let once: @Sendable (Result<ResponseHeader, BadgeError>) -> Void = { result in
                if !answered.exchange(true, ordering: .relaxed) { onReply(result) }
            }
            let call = OutgoingCall(
                method: call.method, timeoutMicros: call.timeoutMicros, metadata: call.metadata, payload: call.payload,
                receiver: .callback(once))
            let written = channel.eventLoop.makePromise(of: Void.self)
            written.futureResult.whenFailure { _ in once(.failure(Self.connectionClosed)) }
            channel.write(call, promise: written)
        }
    }

    /// One unary call: sends `request`, checks the status, decodes the reply.
    public func call<Reply: WireMessage>(
        _ method: Method, _ request: some WireMessage, replyType: Reply.Type = Reply.self, timeout: Duration? = nil
    ) async throws(BadgeError) -> Reply {
        let frame: ReplyFrame
        do {
            frame = try await startCall(method: method.rawValue, payload: request.encoded(), timeout: timeout).get()
        } catch let error as BadgeError {
            throw error
        } catch {
            throw BadgeError(.unavailable, "\(error)", reason: "connection_closed")
        }
        guard frame.header.status == .ok else {
            throw BadgeError(frame.header.status, frame.header.message, reason: frame.header.reason)
        }
        return try Reply(decoding: frame.payload)
    }

    /// A server-streaming call: the stream yields each message and ends with the call's status
    /// (throwing a `BadgeError` unless OK). Ending the iteration early cancels the call.
    public func serverStream<Message: WireMessage>(
        _ method: Method, _ request: some WireMessage, messageType: Message.Type = Message.self,
        timeout: Duration? = nil
    ) -> AsyncThrowingStream<Message, any Error> {
        let (frames, continuation) = AsyncThrowingStream<ReplyFrame, any Error>.makeStream()
        let call = OutgoingCall(
            method: method.rawValue, timeoutMicros: Self.micros(timeout ?? defaultTimeout), metadata: metadata,
            payload: request.encoded(), receiver: .stream(continuation))
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { _ in continuation.finish(throwing: Self.connectionClosed) }
        channel.write(call, promise: written)
        return AsyncThrowingStream { outer in
            let task = Task {
                do {
                    for try await frame in frames { outer.yield(try Message(decoding: frame.payload)) }
                    outer.finish()
                } catch {
                    outer.finish(throwing: error)
                }
            }
            outer.onTermination = { _ in task.cancel() }
        }
    }

    static let connectionClosed = BadgeError(
        .unavailable, "the connection to the server closed", reason: "connection_closed")

    static func micros(_ duration: Duration?) -> UInt64 {
        guard let duration, duration > .zero else { return 0 }
        let (seconds, attoseconds) = duration.components
        return UInt64(seconds) * 1_000_000 + UInt64(attoseconds / 1_000_000_000_000)
    }
}
