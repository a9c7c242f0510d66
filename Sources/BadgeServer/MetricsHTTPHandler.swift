import NIOCore
import NIOHTTP1
import Synchronization

/// Answers the metrics listener's HTTP requests: `GET` (or `HEAD`) `/metrics` with the rendered
/// metrics, 405 for other methods on that path, 404 anywhere else. Runs on the channel's event loop.
/// One answer at a time is buffered: the next request waits until the client has read enough of it.
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// Most metrics connections open at once (a scraper needs one).
    static let connectionLimit = 16
    /// A metrics connection with no traffic for this long is closed.
    static let idleTimeout = TimeAmount.seconds(30)

    let endpoint: MetricsEndpoint
    /// Runs before each scrape, to sample what nothing updates as it changes.
    let beforeScrape: @Sendable () -> Void
    private var request: HTTPRequestHead?
    /// A complete request whose answer waits until the channel is writable again.
    private var deferred: HTTPRequestHead?

    init(endpoint: MetricsEndpoint, beforeScrape: @escaping @Sendable () -> Void) {
        self.endpoint = endpoint
        self.beforeScrape = beforeScrape
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): request = head
        case .body: break  // A scrape has no body; whatever comes is ignored.
        case .end:
            guard let head = request else { return }
            request = nil
            // The pipelining handler delivers the next request (and reads on) as soon as this
            // answer is written, not when it is sent: a client pipelining requests without reading
            // the answers had every one rendered and buffered. Answer only while the socket
            // drains; until then no further request is read.
            guard context.channel.isWritable else {
                deferred = head
                return
            }
            respond(context, to: head)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, let head = deferred {
            deferred = nil
            respond(context, to: head)
        }
        context.fireChannelWritabilityChanged()
    }

    private func respond(_ context: ChannelHandlerContext, to request: HTTPRequestHead) {
        let path = request.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        var headers = HTTPHeaders()
        let status: HTTPResponseStatus
        let body: [UInt8]
        if path != "/metrics" {
            status = .notFound
            headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
            body = Array("not found: the metrics are at /metrics\n".utf8)
        } else if request.method != .GET && request.method != .HEAD {
            status = .methodNotAllowed
            headers.add(name: "Allow", value: "GET, HEAD")
            body = []
        } else {
            status = .ok
            headers.add(name: "Content-Type", value: endpoint.contentType)
            beforeScrape()
            body = endpoint.render()
        }
        headers.add(name: "Content-Length", value: "\(body.count)")
        let keepAlive = request.isKeepAlive
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")

        let head = HTTPResponseHead(version: request.version, status: status, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if request.method != .HEAD, !body.isEmpty {
            var buffer = context.channel.allocator.buffer(capacity: body.count)
            buffer.writeBytes(body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            written.whenComplete { [channel = context.channel] _ in channel.close(promise: nil) }
        }
    }
}

/// Open metrics connections, bounded by `MetricsHTTPHandler.connectionLimit`.
final class MetricsConnectionCount: Sendable {
    private let open = Atomic<Int>(0)

    /// Counts a new connection; false (and not counted) when the limit is reached.
    func admit() -> Bool {
        if open.wrappingAdd(1, ordering: .relaxed).newValue <= MetricsHTTPHandler.connectionLimit { return true }
        open.wrappingSubtract(1, ordering: .relaxed)
        return false
    }

    func release() {
        open.wrappingSubtract(1, ordering: .relaxed)
    }
}
