import BadgeCodec
import BadgeModel
import BadgeService
import BadgeWire
import NIOCore

// Replies: a call ends with one reply or error, which goes into the burst's outbound buffer;
// the buffer is handed to the channel and flushed once per read burst or batch of deliveries.
extension ConnectionHandler {
    /// Sends the final reply of `callId`, unless the call already ended (deadline, cancel, closed).
    func respond(_ callId: UInt64, sequence: UInt64, _ reply: some WireMessage) {
        respond(callId, sequence: sequence, encoded: reply.encoded())
    }

    /// Sends the final reply of `callId` from an already encoded reply message.
    func respond(_ callId: UInt64, sequence: UInt64, encoded reply: [UInt8]) {
        let header = ResponseHeader(callId: callId)
        guard let size = replyFrameSize(header, payloadCount: reply.count, sequence: sequence),
            finish(callId, sequence: sequence, .ok) != nil
        else { return }
        appendReply(header, reply, size: size)
        closeIfDrained()
    }

    /// The envelope size of a reply frame, or nil after failing the call with `reply_too_large`
    /// when it would pass `maxReplyFrameSize`.
    private func replyFrameSize(_ header: ResponseHeader, payloadCount: Int, sequence: UInt64) -> Int? {
        let size = Envelope.responseSize(header, payloadCount: payloadCount)
        let limit = configuration.maxReplyFrameSize
        guard size > limit else { return size }
        respondError(
            header.callId, sequence: sequence,
            BadgeError(
                .resourceExhausted,
                "reply of \(size) bytes exceeds the server's reply limit of \(limit) bytes (--max-reply-bytes); "
                    + "ask for less (List: a smaller awards_per_badge)",
                reason: "reply_too_large"))
        return nil
    }

    /// Appends a reply frame whose envelope size `replyFrameSize` gave.
    private func appendReply(_ header: ResponseHeader, _ payload: [UInt8], size: Int) {
        appendOutbound(capacity: size + 4) { buffer in
            payload.withUnsafeBytes { buffer.writeResponseFrame(header, payload: $0, size: size) }
        }
    }

    /// Sends the final error of `callId`, unless the call already ended.
    func respondError(_ callId: UInt64, sequence: UInt64, _ error: BadgeError) {
        guard let call = finish(callId, sequence: sequence, error.code) else { return }
        call.export?.cancelled = true
        writeError(callId, error)
        closeIfDrained()
    }

    /// Answers a call refused before it was registered.
    func refuse(_ callId: UInt64, _ method: Method?, _ error: BadgeError) {
        metrics.countCall(method, error.code)
        writeError(callId, error)
    }

    private func writeError(_ callId: UInt64, _ error: BadgeError) {
        appendOutbound(capacity: 64 + error.message.utf8.count) { $0.writeErrorFrame(callId: callId, error) }
    }

    /// Forgets a call that ends with `code`, and counts it; nil if it had already ended.
    func finish(_ callId: UInt64, sequence: UInt64, _ code: BadgeError.Code) -> Call? {
        guard calls[callId]?.sequence == sequence, let call = calls.removeValue(forKey: callId) else { return nil }
        call.deadlineTimer?.cancel()
        metrics.countCall(call.method, code)
        if call.startedNanos != 0 {
            metrics.recordDuration(
                call.method, nanoseconds: Int64(NIODeadline.now().uptimeNanoseconds &- call.startedNanos))
        }
        return call
    }

    /// Brings this connection's share of the in-flight gauge up to date (a no-op when unchanged,
    /// as after a burst of reads answered at once).
    func reportInFlight() {
        let delta = calls.count - reportedInFlight
        guard delta != 0 else { return }
        reportedInFlight = calls.count
        // Backends may expect non-negative amounts, as for counters.
        if delta > 0 {
            metrics.inFlight.increment(by: Double(delta))
        } else {
            metrics.inFlight.decrement(by: Double(-delta))
        }
    }

    /// During a graceful shutdown, closes once the last call's reply has been written.
    func closeIfDrained() {
        guard draining, calls.isEmpty, !closing, let context else { return }
        closing = true
        // Closing at once would drop what the socket has not taken yet (NIO fails pending writes
        // on close): close once the last write, which completes after every earlier one, is done.
        // A client that never reads is closed by the grace period.
        let last = outbound ?? context.channel.allocator.buffer(capacity: 0)
        outbound = nil
        flushPending = false
        context.writeAndFlush(wrapOutboundOut(last)).whenComplete { [channel = context.channel] _ in
            channel.close(promise: nil)
        }
    }

    /// Writes one message of a stream; false if it was not sent (the call had ended, or the message
    /// was too large for a frame, which ends the call with `reply_too_large`).
    @discardableResult
    func writeStreamMessage(_ callId: UInt64, _ message: some WireMessage) -> Bool {
        guard let sequence = calls[callId]?.sequence else { return false }
        let encoded = message.encoded()
        let header = ResponseHeader(callId: callId, endOfCall: false)
        guard let size = replyFrameSize(header, payloadCount: encoded.count, sequence: sequence) else { return false }
        appendReply(header, encoded, size: size)
        // Handed over at once, so the channel's writability (which the stream obeys) counts it.
        handOverOutbound()
        return true
    }

    // MARK: - Writing and flushing

    /// Appends to the burst's outbound buffer (allocated on first use, handed to the channel at flush).
    func appendOutbound(capacity: Int, _ append: (inout ByteBuffer) -> Void) {
        guard let context, context.channel.isActive else { return }
        if outbound == nil {
            if var spare = spareOutbound.take() {
                // Sized as a fresh one would be, should the channel still hold the spare.
                spare.clear(minimumCapacity: max(capacity, Self.outboundCapacity))
                outbound = spare
            } else {
                outbound = context.channel.allocator.buffer(capacity: max(capacity, Self.outboundCapacity))
            }
        }
        append(&outbound!)
        flushPending = true
        // Inside a read burst, channelReadComplete flushes; otherwise coalesce the replies that
        // arrive together (a committed batch) into one flush: at the end of their delivery, or on
        // the next loop tick.
        if !inReadBurst, !flushScheduled {
            flushScheduled = true
            if !replyHops.flushAfterDelivery(self, on: context.eventLoop) {
                let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
                context.eventLoop.execute { bound.value.flushDeliveredReplies() }
            }
        }
    }

    /// Flushes the replies appended outside a read burst.
    func flushDeliveredReplies() {
        flushScheduled = false
        reportInFlight()
        flushIfNeeded()
    }

    func flushIfNeeded(force: Bool = false) {
        guard flushPending || force, let context else { return }
        flushPending = false
        handOverOutbound()
        context.flush()
    }

    /// Writes (without flushing) what the outbound buffer holds; the next reply starts a new one.
    private func handOverOutbound() {
        guard let buffer = outbound, let context else { return }
        outbound = nil
        context.write(wrapOutboundOut(buffer), promise: nil)
        if buffer.capacity <= Self.spareCapacityLimit { spareOutbound = buffer }
        // Below the high watermark there is nothing to note; above it, the option is worth its cost.
        if !context.channel.isWritable { peakQueuedBytes = max(peakQueuedBytes, queuedBytes(context)) }
    }

    private func queuedBytes(_ context: ChannelHandlerContext) -> Int {
        (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
    }

    var buffers: ConnectionBuffers {
        let queued = (context.map(queuedBytes) ?? 0) + (outbound?.readableBytes ?? 0)
        return ConnectionBuffers(
            queuedReplyBytes: queued, peakQueuedReplyBytes: max(peakQueuedBytes, queued),
            unreadInputBytes: partialFrame?.readableBytes ?? 0, readingPaused: readingPaused)
    }

    /// Sends a connection-level error on call id 0 (after our preface, so any client can read it), then closes.
    func closeWithError(_ error: BadgeError) {
        guard let context, !closing else { return }
        closing = true
        // Nothing more is read; the close may wait for the error frame's write.
        partialFrame = nil
        partialFrameSince = nil
        handOverOutbound()
        // Calls in flight fail with the connection and get no answer of their own (PROTOCOL.md
        // §4.7): forget them now, so that a write completing, a deadline or a stream cannot put
        // frames after the error while its write waits for the client to read.
        for (_, call) in calls {
            call.deadlineTimer?.cancel()
            call.export?.cancelled = true
        }
        calls.removeAll()
        var buffer = context.channel.allocator.buffer(capacity: 128)
        if !handshakeDone { buffer.writeBytes(WireProtocol.preface()) }
        buffer.writeErrorFrame(callId: 0, error)
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { [channel = context.channel] _ in
            channel.close(promise: nil)
        }
    }
}
