import BadgeCodec
import BadgeModel
import BadgeWire
import NIOCore

/// A reply frame as the client receives it: header plus a copy of the payload.
public struct ReplyFrame: Sendable {
    public var header: ResponseHeader
    public var payload: [UInt8]
}

/// A call handed to the pipeline by `BadgeClient`; the handler assigns the call id.
struct OutgoingCall {
    enum Receiver {
        case unary(EventLoopPromise<ReplyFrame>)
        case stream(AsyncThrowingStream<ReplyFrame, any Error>.Continuation)
        /// Gets the reply's header on the event loop; the payload is not kept.
        case callback(@Sendable (Result<ResponseHeader, BadgeError>) -> Void)
    }
    var method: String
    var timeoutMicros: UInt64
    var metadata: [String: String]
    var payload: [UInt8]
    var receiver: Receiver
}

/// Multiplexes calls over one connection: assigns call ids, matches replies (in any order) to
/// their callers, and coalesces the writes of one event-loop tick into one flush.
final class ClientHandler: ChannelDuplexHandler {
    typealias InboundIn = WireInbound
    typealias OutboundIn = OutgoingCall
    typealias OutboundOut = ByteBuffer

    private var pending: [UInt64: OutgoingCall.Receiver] = [:]
    private var nextCallId: UInt64 = 1
    private var flushScheduled = false
    private var failure: BadgeError?
    private var readyDone = false
    private var prefaceReceived = false
    /// Kept for cancels and flushes that start outside a pipeline callback.
    private var context: ChannelHandlerContext?
    let ready: EventLoopPromise<Void>

    /// The largest request frame sent; a larger call fails locally (`frame_too_large`) without
    /// touching the connection. By default what a frame's u32 length can say: past it, the frame
    /// could not be written at all (the length would trap), and below it the server's own limit
    /// applies.
    let maxRequestFrameSize: Int

    init(ready: EventLoopPromise<Void>, maxRequestFrameSize: Int = WireProtocol.largestFrameSize) {
        self.ready = ready
        self.maxRequestFrameSize = maxRequestFrameSize
    }

    func channelActive(context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: WireProtocol.prefaceLength)
        buffer.writeBytes(WireProtocol.preface())
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        context.fireChannelActive()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let call = unwrapOutboundIn(data)
        if let failure {
            fail(call.receiver, failure)
            promise?.fail(failure)
            return
        }
        let header = RequestHeader(
            callId: nextCallId, method: call.method, timeoutMicros: call.timeoutMicros, metadata: call.metadata)
        let size = Envelope.requestSize(header, payloadCount: call.payload.count)
        guard size <= maxRequestFrameSize else {
            let error = BadgeError(
                .resourceExhausted,
                "request of \(size) bytes exceeds the largest frame this client sends (\(maxRequestFrameSize) bytes)",
                reason: "frame_too_large")
            fail(call.receiver, error)
            promise?.fail(error)
            return
        }
        let callId = nextCallId
        nextCallId += 1
        pending[callId] = call.receiver
        if case .stream(let continuation) = call.receiver {
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            continuation.onTermination = { [eventLoop = context.eventLoop] termination in
                guard case .cancelled = termination else { return }
                eventLoop.execute { bound.value.cancel(callId) }
            }
        }
        var buffer = context.channel.allocator.buffer(capacity: size + 4)
        call.payload.withUnsafeBytes { payload in buffer.writeRequestFrame(header, payload: payload, size: size) }
        context.write(wrapOutboundOut(buffer), promise: promise)
        scheduleFlush(context)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        // A connection that never came up still owes its waiter an answer.
        failAll(BadgeError(.unavailable, "the connection to the server closed", reason: "connection_closed"))
    }

    /// Tells the server to stop a call the caller no longer wants.
    func cancel(_ callId: UInt64) {
        guard let context, pending.removeValue(forKey: callId) != nil else { return }
        var buffer = context.channel.allocator.buffer(capacity: 16)
        buffer.writeRequestFrame(
            RequestHeader(callId: callId, kind: .cancel), payload: UnsafeRawBufferPointer(start: nil, count: 0))
        context.write(wrapOutboundOut(buffer), promise: nil)
        scheduleFlush(context)
    }

    private func scheduleFlush(_ context: ChannelHandlerContext) {
        guard !flushScheduled else { return }
        flushScheduled = true
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            bound.value.flushScheduled = false
            bound.value.context?.flush()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .preface(let version):
            if version != WireProtocol.version {
                failAll(
                    BadgeError(
                        .failedPrecondition,
                        "server speaks protocol version \(version); this client speaks \(WireProtocol.version)",
                        reason: "unsupported_version"))
                context.close(promise: nil)
            } else {
                // Succeed at the end of this read burst: a server that refuses the connection sends
                // its preface and the refusal (on call 0) together, and the refusal must win.
                prefaceReceived = true
            }
        case .frame(let frame):
            do throws(BadgeError) {
                let reply = try frame.withUnsafeReadableBytes { bytes throws(BadgeError) in
                    try Envelope.decodeResponse(bytes) { header, payload -> ReplyFrame? in
                        // A callback receiver needs no copy of the payload.
                        if case .callback(let callback) = pending[header.callId], header.callId != 0 {
                            pending[header.callId] = nil
                            callback(.success(header))
                            return nil
                        }
                        return ReplyFrame(header: header, payload: Array(payload))
                    }
                }
                if let reply { deliver(reply) }
            } catch {
                failAll(
                    BadgeError(
                        .internal, "the server sent an undecodable frame: \(error.message)", reason: "malformed_reply"))
                context.close(promise: nil)
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if prefaceReceived, !readyDone {
            readyDone = true
            ready.succeed()
        }
        context.fireChannelReadComplete()
    }

    private func deliver(_ reply: ReplyFrame) {
        let callId = reply.header.callId
        if callId == 0 {
            // A connection-level error: the server closes after it.
            failAll(BadgeError(reply.header.status, reply.header.message, reason: reply.header.reason))
            return
        }
        guard let receiver = pending[callId] else { return }  // cancelled or timed out locally
        switch receiver {
        case .unary(let promise):
            pending[callId] = nil
            promise.succeed(reply)
        case .callback(let callback):
            pending[callId] = nil
            callback(.success(reply.header))
        case .stream(let continuation):
            if reply.header.endOfCall {
                pending[callId] = nil
                if reply.header.status == .ok {
                    continuation.finish()
                } else {
                    continuation.finish(
                        throwing: BadgeError(reply.header.status, reply.header.message, reason: reply.header.reason))
                }
            } else {
                continuation.yield(reply)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(BadgeError(.unavailable, "the connection to the server closed", reason: "connection_closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let badgeError =
            (error as? WireError)?.badgeError
            ?? BadgeError(.unavailable, "connection error: \(error)", reason: "connection_closed")
        failAll(badgeError)
        context.close(promise: nil)
    }

    private func failAll(_ error: BadgeError) {
        if failure == nil { failure = error }
        if !readyDone {
            readyDone = true
            ready.fail(error)
        }
        let receivers = pending.values
        pending.removeAll()
        for receiver in receivers { fail(receiver, error) }
    }

    private func fail(_ receiver: OutgoingCall.Receiver, _ error: BadgeError) {
        switch receiver {
        case .unary(let promise): promise.fail(error)
        case .stream(let continuation): continuation.finish(throwing: error)
        case .callback(let callback): callback(.failure(error))
        }
    }
}
