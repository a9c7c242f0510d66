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
///
/// Input and framing are here; calls in `ConnectionHandler+Calls.swift`; replies, writing and
/// flushing in `ConnectionHandler+Replies.swift`; export streams in `ConnectionHandler+Export.swift`.
/// Hence the connection's state is internal rather than private: extensions in other files read it.
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
    var nextSequence: UInt64 = 0
    private var admitted = false
    /// Closes the connection if the client's preface has not arrived in time.
    private var prefaceTimer: Scheduled<Void>?
    var handshakeDone = false
    var draining = false
    var closing = false
    var inReadBurst = false
    var flushPending = false
    var flushScheduled = false
    private var parser: WireFrameParser
    /// The start of a frame whose rest has not arrived yet, after any complete frames held back
    /// while reading is paused (see `outboundLimit`).
    var partialFrame: ByteBuffer?
    /// When the first bytes of the frame in `partialFrame` were read (nil between frames, and before
    /// the preface, which has its own timer).
    var partialFrameSince: NIODeadline?
    /// Closes the connection when a frame takes longer than `frameTimeout`. One timer, armed while a
    /// frame is unfinished and re-armed when it fires early, rather than one scheduled per frame:
    /// pipelined reads often end inside a frame.
    private var frameTimer: Scheduled<Void>?
    /// Replies not yet handed to the channel (written and flushed at the end of the burst).
    var outbound: ByteBuffer?
    /// The last outbound buffer handed to the channel, kept so the next burst can reuse its memory
    /// once the channel has written and let go of it (`clear` reallocates only if it has not): a
    /// burst of one reply, as an unpipelined caller's, allocated a buffer (two allocations) per call.
    /// Only ordinary sizes are kept, so an idle connection holds at most `spareCapacityLimit`.
    var spareOutbound: ByteBuffer?
    static let outboundCapacity = 8 * 1024
    static let spareCapacityLimit = 16 * 1024
    /// Reading (and handling what was read) is off until the channel is writable again (see
    /// `endBurst` and `outboundLimit`).
    var readingPaused = false
    /// The most reply bytes the channel has held unwritten (see `ConnectionBuffers`).
    var peakQueuedBytes = 0
    /// Calls until the next one whose duration is recorded (see `callDurationSampling`).
    var callsUntilSample = 1
    /// This connection's share of `badges_rpc_calls_in_flight`, brought up to `calls.count` once
    /// per read burst and per reply flush rather than on every call.
    var reportedInFlight = 0

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
}
