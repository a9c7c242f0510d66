import BadgeCodec
import BadgeModel
import BadgeService
import BadgeWire
import Logging
import NIOCore

/// One connection: checks the preface, splits frames, decodes envelopes, dispatches calls (many in
/// flight, replies in any order), enforces the per-connection bounds and deadlines, and writes and
/// flushes once per read burst (or per `outboundLimit` of replies within one).
///
/// Frames are read in place from the bytes the channel delivers (no slice per frame, no decoder
/// stage in the pipeline), and replies go into one outbound buffer per burst rather than one
/// `ByteBuffer` each: both are per-call costs on the List path.
///
/// Everything here runs on the channel's event loop. Writes complete on the service's writer thread
/// and hop back here through `NIOLoopBound`.
final class ConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Replies of one burst after which they are handed to the socket before any more frames are
    /// handled, and no more are while the socket does not take them. Without it, one read of ~30-byte
    /// List calls (up to `maxMessagesPerRead` buffers of 64 KiB) queued tens of MB of replies for a
    /// client that does not read them. Four times the channel's default high watermark, so that
    /// pipelined bursts of well-behaved clients rarely flush midway (at 64 KiB, List 4 x 32 ran
    /// 286k vs 339k calls/s without the limit, in alternating runs; at 256 KiB 289k vs 263k).
    static let outboundLimit = 256 * 1024

    struct Call {
        /// Distinguishes this call from a later one that reuses its id after it ended (deadline,
        /// cancel), so a late write completion can never answer the newer call.
        let sequence: UInt64
        let method: Method
        /// `NIODeadline` uptime when a sampled call was received (for its duration); 0 when not sampled.
        let startedNanos: UInt64
        var deadlineTimer: Scheduled<Void>?
        var export: ExportStream?
    }

    let service: BadgeService
    let configuration: ServerConfiguration
    let registry: ConnectionRegistry
    let metrics: ServerMetrics
    /// How write replies get from the writer thread back to this connection's event loop.
    let replyHops: ReplyHops
    /// Where export streams wait between bursts for the loop to read its sockets.
    let streamTurns: StreamTurns
    var logger: Logger
    /// "Bearer <token>" when the server requires a token, built once rather than per call.
    let expectedAuthorization: String?

    private(set) var context: ChannelHandlerContext?
    /// Calls in flight by id (not private: the export streaming extension keeps its streams here).
    var calls: [UInt64: Call] = [:]
    private var nextSequence: UInt64 = 0
    private var admitted = false
    /// Closes the connection if the client's preface has not arrived in time.
    private var prefaceTimer: Scheduled<Void>?
    private var handshakeDone = false
    private var draining = false
    private var closing = false
    private var inReadBurst = false
    private var flushPending = false
    private var flushScheduled = false
    private var parser: WireFrameParser
    /// The start of a frame whose rest has not arrived yet, after any complete frames held back
    /// while reading is paused (see `outboundLimit`).
    private var partialFrame: ByteBuffer?
    /// When the first bytes of the frame in `partialFrame` were read (nil between frames, and before
    /// the preface, which has its own timer).
    private var partialFrameSince: NIODeadline?
    /// Closes the connection when a frame takes longer than `frameTimeout`. One timer, armed while a
    /// frame is unfinished and re-armed when it fires early, rather than one scheduled per frame:
    /// pipelined reads often end inside a frame.
    private var frameTimer: Scheduled<Void>?
    /// Replies not yet handed to the channel (written and flushed at the end of the burst).
    private var outbound: ByteBuffer?
    /// The last outbound buffer handed to the channel, kept so the next burst can reuse its memory
    /// once the channel has written and let go of it (`clear` reallocates only if it has not): a
    /// burst of one reply, as an unpipelined caller's, allocated a buffer (two allocations) per call.
    /// Only ordinary sizes are kept, so an idle connection holds at most `spareCapacityLimit`.
    private var spareOutbound: ByteBuffer?
    static let outboundCapacity = 8 * 1024
    static let spareCapacityLimit = 16 * 1024
    /// Reading (and handling what was read) is off until the channel is writable again (see
    /// `endBurst` and `outboundLimit`).
    private var readingPaused = false
    /// The most reply bytes the channel has held unwritten (see `ConnectionBuffers`).
    private var peakQueuedBytes = 0
    /// Calls until the next one whose duration is recorded (see `callDurationSampling`).
    private var callsUntilSample = 1
    /// This connection's share of `badges_rpc_calls_in_flight`, brought up to `calls.count` once
    /// per read burst and per reply flush rather than on every call.
    private var reportedInFlight = 0

    init(
        service: BadgeService, configuration: ServerConfiguration, registry: ConnectionRegistry,
        metrics: ServerMetrics, replyHops: ReplyHops, streamTurns: StreamTurns, logger: Logger
    ) {
        self.service = service
        self.replyHops = replyHops
        self.streamTurns = streamTurns
        self.configuration = configuration
        self.registry = registry
        self.metrics = metrics
        self.logger = logger
        self.expectedAuthorization = configuration.authToken.map { "Bearer \($0)" }
        self.parser = WireFrameParser(maxFrameSize: configuration.maxFrameSize)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        switch registry.admit(context.channel) {
        case .admitted:
            admitted = true
        case .full:
            metrics.connectionsRefused.increment()
            logger.warning("refusing connection: \(registry.limit) connections open")
            closeWithError(
                BadgeError(
                    .resourceExhausted, "the server has reached its limit of \(registry.limit) connections",
                    reason: "too_many_connections"))
            return
        case .shuttingDown:
            metrics.connectionsRefused.increment()
            closeWithError(BadgeError(.unavailable, "the server is shutting down", reason: "shutting_down"))
            return
        }
        metrics.connectionsOpen.increment()
        let timeout = configuration.prefaceTimeout.components
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        prefaceTimer = context.eventLoop.scheduleTask(
            in: .seconds(timeout.seconds) + .nanoseconds(timeout.attoseconds / 1_000_000_000)
        ) {
            guard !bound.value.handshakeDone else { return }
            bound.value.logger.info("closing connection: no preface within \(bound.value.configuration.prefaceTimeout)")
            bound.value.closeWithError(
                BadgeError(
                    .deadlineExceeded,
                    "no connection preface within \(bound.value.configuration.prefaceTimeout) of connecting",
                    reason: "preface_timeout"))
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        prefaceTimer?.cancel()
        prefaceTimer = nil
        frameTimer?.cancel()
        frameTimer = nil
        partialFrameSince = nil
        for (_, call) in calls { call.deadlineTimer?.cancel() }
        if !calls.isEmpty { logger.debug("connection closed with \(calls.count) calls in flight") }
        if let partialFrame, partialFrame.readableBytes > 0 {
            logger.debug("connection closed inside a frame (\(partialFrame.readableBytes) bytes pending)")
        }
        partialFrame = nil
        outbound = nil
        spareOutbound = nil
        calls.removeAll()
        reportInFlight()
        if admitted {
            registry.remove(context.channel)
            metrics.connectionsOpen.decrement()
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard admitted, !closing else { return }
        inReadBurst = true
        var bytes = unwrapInboundIn(data)
        guard var kept = partialFrame else {
            handleInput(&bytes, kept: false, context)
            return
        }
        partialFrame = nil  // so `kept` is the only reference and grows in place
        kept.writeBuffer(&bytes)
        handleInput(&kept, kept: true, context)
    }

    /// Handles the complete frames in `bytes`, unless reading is paused, and keeps the rest in
    /// `partialFrame`. `kept`: `bytes` is the buffer `partialFrame` held.
    private func handleInput(_ bytes: inout ByteBuffer, kept: Bool, _ context: ChannelHandlerContext) {
        let start = bytes.readerIndex
        do throws(WireError) {
            // While paused, the rest of the socket's read burst is only kept: its replies would
            // have nowhere to go but memory.
            frames: while !closing, !readingPaused {
                switch try parser.next(&bytes) {
                case .needMoreData:
                    break frames
                case .preface(let version):
                    guard version == WireProtocol.version else { throw WireError.unsupportedVersion(version) }
                    handshakeDone = true
                    prefaceTimer?.cancel()
                    prefaceTimer = nil
                    appendOutbound(capacity: WireProtocol.prefaceLength) { $0.writeBytes(WireProtocol.preface()) }
                case .frame(let length):
                    bytes.withUnsafeReadableBytes { handleFrame(UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
                    bytes.moveReaderIndex(forwardBy: length)
                    if (outbound?.readableBytes ?? 0) >= Self.outboundLimit {
                        flushIfNeeded()
                        if !context.channel.isWritable { pauseReading(context) }
                    }
                }
            }
        } catch {
            logger.info("closing connection: \(error.badgeError)")
            closeWithError(error.badgeError)
            return
        }
        guard bytes.readableBytes > 0, !closing else {
            partialFrameSince = nil
            return
        }
        if kept, bytes.readerIndex == start {
            // Still the same frame (or still paused): keep growing its buffer. Copying it afresh on
            // every read made a client that sends a large frame a few bytes at a time cost a copy
            // of all of it (up to the frame limit) per read, stalling every connection on this
            // event loop.
            partialFrame = bytes
        } else {
            keepPartialFrame(&bytes, context)
            if handshakeDone { frameStarted(context) }
        }
    }

    /// Starts the clock of the frame just begun in `partialFrame`.
    private func frameStarted(_ context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        partialFrameSince = now
        if frameTimer == nil { armFrameTimer(context, deadline: now + TimeAmount(configuration.frameTimeout)) }
    }

    private func armFrameTimer(_ context: ChannelHandlerContext, deadline: NIODeadline) {
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        frameTimer = context.eventLoop.scheduleTask(deadline: deadline) { bound.value.frameTimerFired() }
    }

    private func frameTimerFired() {
        frameTimer = nil
        // Between frames, or not reading (the clock restarts when reading does): nothing to time.
        guard let since = partialFrameSince, !readingPaused, !closing, let context else { return }
        let deadline = since + TimeAmount(configuration.frameTimeout)
        if deadline > .now() {
            // A later frame than the one the timer was armed for, or a clock restarted on reading again.
            armFrameTimer(context, deadline: deadline)
            return
        }
        let pending = partialFrame?.readableBytes ?? 0
        logger.info("closing connection: a frame unfinished after \(configuration.frameTimeout) (\(pending) bytes)")
        closeWithError(
            BadgeError(
                .deadlineExceeded,
                "a frame was not completed within \(configuration.frameTimeout) of its first bytes (\(pending) bytes received)",
                reason: "frame_timeout"))
    }

    /// Keeps the unread start of a frame in a buffer of its own, sized for the whole frame when its
    /// length is known: the channel's receive buffer (and the frames already handled in it) is
    /// not held on to, and the rest of the frame is appended in place.
    private func keepPartialFrame(_ bytes: inout ByteBuffer, _ context: ChannelHandlerContext) {
        var size = bytes.readableBytes
        if handshakeDone, let length = bytes.getInteger(at: bytes.readerIndex, as: UInt32.self) {
            // Room for the whole frame, but a length alone (say 4 MiB, the limit) reserves at most
            // 64 KiB: larger frames grow as their bytes arrive.
            size = max(size, min(4 + Int(length), 64 * 1024))
        }
        var tail = context.channel.allocator.buffer(capacity: size)
        tail.writeBuffer(&bytes)
        partialFrame = tail
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        endBurst(context)
        context.fireChannelReadComplete()
    }

    private func endBurst(_ context: ChannelHandlerContext) {
        inReadBurst = false
        reportInFlight()
        flushIfNeeded()
        // A client that sends calls but does not read the replies must not make the server buffer
        // them without bound: stop reading until the socket drains.
        if !context.channel.isWritable { pauseReading(context) }
    }

    private func pauseReading(_ context: ChannelHandlerContext) {
        guard !readingPaused else { return }
        readingPaused = true
        context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.debug("connection error: \(error)")
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is DrainConnectionEvent {
            draining = true
            closeIfDrained()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            resumeStreams()
            if readingPaused { resumeReading(context) }
        }
        context.fireChannelWritabilityChanged()
    }

    private func resumeReading(_ context: ChannelHandlerContext) {
        readingPaused = false
        // Frames held back come first, as a burst of their own: the client may have sent them all
        // and be waiting for nothing but their replies.
        if var kept = partialFrame, !closing {
            partialFrame = nil
            inReadBurst = true
            handleInput(&kept, kept: true, context)
            endBurst(context)
            // The socket filled again before they were all handled.
            if readingPaused { return }
        }
        context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
        // The rest of an unfinished frame may have waited unread in the socket meanwhile: the
        // client gets its full time again.
        if partialFrameSince != nil { frameStarted(context) }
    }

    // MARK: - Calls

    private func handleFrame(_ frame: UnsafeRawBufferPointer) {
        do throws(BadgeError) {
            try Envelope.decodeRequest(frame) { header, payload throws(BadgeError) in
                try self.handleCall(header, payload: payload)
            }
        } catch {
            if error.reason == "malformed_message" {
                closeWithError(WireError.malformedEnvelope(error.message).badgeError)
            } else {
                closeWithError(error)
            }
        }
    }

    /// Connection-level protocol violations throw (and close the connection); everything about one
    /// call is answered on that call. Calls refused before they are registered are answered directly.
    private func handleCall(_ header: RequestHeader, payload: UnsafeRawBufferPointer) throws(BadgeError) {
        let callId = header.callId
        if callId == 0 { throw BadgeError.invalidArgument("call_id 0 is reserved", reason: "invalid_call_id") }
        if header.kind == .cancel {
            cancel(callId)
            return
        }
        if calls[callId] != nil {
            throw BadgeError.invalidArgument("call_id \(callId) is already in flight", reason: "duplicate_call_id")
        }
        // Recognised first only so that refusals are counted under their method.
        let method = Method(rawValue: header.method)
        if draining {
            return refuse(
                callId, method, BadgeError(.unavailable, "the server is shutting down", reason: "shutting_down"))
        }
        if calls.count >= configuration.maxInFlightPerConnection {
            return refuse(
                callId, method,
                BadgeError(
                    .resourceExhausted,
                    "\(calls.count) calls already in flight on this connection; the limit is \(configuration.maxInFlightPerConnection)",
                    reason: "too_many_calls"))
        }
        if let expectedAuthorization, header.metadata["authorization"] != expectedAuthorization {
            return refuse(
                callId, method,
                BadgeError(
                    .unauthenticated, "metadata \"authorization: Bearer <token>\" is missing or wrong",
                    reason: "unauthenticated"))
        }
        guard let method else {
            return refuse(
                callId, nil,
                BadgeError(.unimplemented, "unknown method \"\(header.method)\"", reason: "unknown_method"))
        }
        var deadline: ContinuousClock.Instant?
        nextSequence += 1
        let sequence = nextSequence
        var startedNanos: UInt64 = 0
        callsUntilSample -= 1
        if callsUntilSample == 0 {
            callsUntilSample = configuration.callDurationSampling
            startedNanos = NIODeadline.now().uptimeNanoseconds
        }
        var call = Call(sequence: sequence, method: method, startedNanos: startedNanos)
        if header.timeoutMicros > 0 {
            let timeout = min(header.timeoutMicros, UInt64(Int64.max / 1000))
            deadline = .now + .microseconds(Int64(timeout))
            let bound = NIOLoopBound(self, eventLoop: context!.eventLoop)
            call.deadlineTimer = context!.eventLoop.scheduleTask(in: .microseconds(Int64(timeout))) {
                bound.value.respondError(
                    callId, sequence: sequence,
                    BadgeError(
                        .deadlineExceeded, "the call's deadline of \(timeout) µs passed", reason: "deadline_exceeded"))
            }
        }
        calls[callId] = call
        do {
            try dispatch(method, callId: callId, sequence: sequence, payload: payload, deadline: deadline)
        } catch {
            respondError(callId, sequence: sequence, error)
        }
    }

    private func dispatch(
        _ method: Method, callId: UInt64, sequence: UInt64, payload: UnsafeRawBufferPointer,
        deadline: ContinuousClock.Instant?
    ) throws(BadgeError) {
        switch method {
        case .getBadge:
            let request = try GetBadgeRequest(decoding: payload)
            respond(callId, sequence: sequence, BadgeReply(badge: try service.badge(id: request.badgeId)))
        case .listBadges:
            let request = try ListBadgesRequest(decoding: payload)
            respond(
                callId, sequence: sequence,
                ListBadgesReply(badges: try service.badges(includeInactive: request.includeInactive)))
        case .list:
            let request = try ListRequest(decoding: payload)
            respond(
                callId, sequence: sequence,
                encoded: try service.encodedTrophyCase(
                    customerId: request.customerId, awardsPerBadge: request.awardsPerBadge))
        case .health:
            _ = try HealthRequest(decoding: payload)
            respond(
                callId, sequence: sequence,
                try service.health(version: BadgeServer.version, protocolVersion: UInt32(WireProtocol.version)))
        case .putBadge:
            let request = try PutBadgeRequest(decoding: payload)
            service.putBadge(request, deadline: deadline, completion: completer(callId, sequence) { $0 })
        case .deactivateBadge:
            let request = try DeactivateBadgeRequest(decoding: payload)
            service.deactivateBadge(
                id: request.badgeId, deadline: deadline,
                completion: completer(callId, sequence) { DeactivateBadgeReply(badge: $0) })
        case .issue:
            let request = try IssueRequest(decoding: payload)
            service.issueEncoded(request, deadline: deadline, completion: encodedCompleter(callId, sequence) { $0 })
        case .revoke:
            let request = try RevokeRequest(decoding: payload)
            service.revoke(
                request, deadline: deadline, completion: completer(callId, sequence) { RevokeReply(revoked: $0) })
        case .exportAwards:
            let request = try ExportAwardsRequest(decoding: payload)
            startExport(callId, request)
        case .evaluate:
            let event = try ActivityEvent(decoding: payload)
            service.evaluateEncoded(event, deadline: deadline, completion: encodedCompleter(callId, sequence) { $0 })
        }
    }

    /// A completion for the writer thread that hops back to this event loop to answer `callId`.
    private func completer<Value: Sendable, Reply: WireMessage>(
        _ callId: UInt64, _ sequence: UInt64, _ makeReply: @escaping @Sendable (Value) -> Reply
    ) -> @Sendable (Result<Value, BadgeError>) -> Void {
        encodedCompleter(callId, sequence) { makeReply($0).encoded() }
    }

    /// `completer` for a reply given (or made) already encoded.
    private func encodedCompleter<Value: Sendable>(
        _ callId: UInt64, _ sequence: UInt64, _ encode: @escaping @Sendable (Value) -> [UInt8]
    ) -> @Sendable (Result<Value, BadgeError>) -> Void {
        let eventLoop = context!.eventLoop
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        return { [replyHops] result in
            replyHops.send(on: eventLoop) {
                switch result {
                case .success(let value): bound.value.respond(callId, sequence: sequence, encoded: encode(value))
                case .failure(let error): bound.value.respondError(callId, sequence: sequence, error)
                }
            }
        }
    }

    // MARK: - Replies

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
    private func refuse(_ callId: UInt64, _ method: Method?, _ error: BadgeError) {
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
    private func reportInFlight() {
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

    private func cancel(_ callId: UInt64) {
        guard let sequence = calls[callId]?.sequence else { return }
        respondError(callId, sequence: sequence, BadgeError(.cancelled, "cancelled by the client", reason: "cancelled"))
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
    private func closeWithError(_ error: BadgeError) {
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
