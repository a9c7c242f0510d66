import BadgeWire
internal import CSchedAffinity
import CoreMetrics
import NIOCore

/// Where the server listens and the bounds it enforces.
public struct ServerConfiguration: Sendable {
    /// Path of the Unix domain socket to listen on (a stale socket file is replaced); nil for none.
    public var unixSocketPath: String?
    /// TCP host and port (port 0 picks a free one); nil for none.
    public var tcpHost: String?
    public var tcpPort: Int
    /// Largest frame (envelope bytes) accepted; a larger one gets RESOURCE_EXHAUSTED and the connection closes.
    public var maxFrameSize: Int
    /// Largest reply frame (envelope bytes) sent; a call whose reply would be larger ends with
    /// RESOURCE_EXHAUSTED `reply_too_large` instead, and the connection stays open. A client could
    /// not take such a frame anyway (the reference client's limit is the default), and above 4 GiB
    /// it cannot be framed at all. At most `WireProtocol.largestFrameSize`.
    public var maxReplyFrameSize: Int
    /// Calls in flight on one connection; more get RESOURCE_EXHAUSTED.
    public var maxInFlightPerConnection: Int
    /// Open connections; more are answered with RESOURCE_EXHAUSTED and closed.
    public var maxConnections: Int
    /// How long a new connection has to send its preface; one that has not by then gets
    /// DEADLINE_EXCEEDED `preface_timeout` and is closed, so connections that never speak cannot
    /// hold the `maxConnections` slots.
    public var prefaceTimeout: Duration
    /// How long a frame may take to arrive whole, from its first byte; one that has not by then gets
    /// DEADLINE_EXCEEDED `frame_timeout` and the connection is closed, so a client that stalls inside a
    /// frame cannot hold its slot and the buffered part of the frame. Time between frames is not
    /// counted (idle pooled connections stay open), nor time in which the server is not reading
    /// because the client is not reading its replies.
    public var frameTimeout: Duration
    /// When set, every call must carry metadata `authorization: Bearer <token>`.
    public var authToken: String?
    /// How long a graceful shutdown waits for calls in flight before closing connections anyway.
    public var shutdownGraceSeconds: Int64
    /// Event loop threads; 0 = one per core.
    public var eventLoopThreads: Int
    /// How many event loops the server runs.
    public var resolvedEventLoopThreads: Int { Self.eventLoops(requested: eventLoopThreads) }

    /// The event loops `eventLoopThreads: requested` gives: that many, or with 0 one per core.
    public static func eventLoops(requested: Int) -> Int { requested > 0 ? requested : availableCores }

    /// The cores this process may run on: NIO's count (which follows cgroup quotas and cpusets),
    /// or fewer when its CPU affinity (`taskset`) allows fewer.
    public static var availableCores: Int {
        let allowed = Int(badges_allowed_cpu_count())
        return allowed > 0 ? min(System.coreCount, allowed) : System.coreCount
    }
    /// Where the server's metrics go. Passed explicitly (rather than always the global
    /// `MetricsSystem.factory`) so that tests can give each server its own registry.
    public var metricsFactory: any MetricsFactory
    /// Times one call in this many on each connection (1 = every call) for
    /// `badges_rpc_call_duration_seconds`. Counting every call is a single atomic add, but timing
    /// one is two clock reads and a histogram update under a lock: by estimate ~100 ns, nearly 1% of
    /// a 13 µs List.
    /// Sampling keeps the distribution (the sample is spread evenly over each connection's calls)
    /// at a sixteenth of that cost; the histogram's count is then the sample's size, not the
    /// number of calls (that is `badges_rpc_calls_total`).
    public var callDurationSampling: Int
    /// When set, also serve `GET /metrics` over HTTP.
    public var metricsEndpoint: MetricsEndpoint?

    public init(
        unixSocketPath: String? = nil, tcpHost: String? = nil, tcpPort: Int = 0,
        maxFrameSize: Int = WireProtocol.defaultMaxFrameSize,
        maxReplyFrameSize: Int = WireProtocol.defaultMaxReplyFrameSize, maxInFlightPerConnection: Int = 1024,
        maxConnections: Int = 1024, prefaceTimeout: Duration = .seconds(10), frameTimeout: Duration = .seconds(30),
        authToken: String? = nil,
        shutdownGraceSeconds: Int64 = 10,
        eventLoopThreads: Int = 0, metricsFactory: any MetricsFactory = MetricsSystem.factory,
        callDurationSampling: Int = 16, metricsEndpoint: MetricsEndpoint? = nil
    ) {
        precondition(callDurationSampling >= 1, "callDurationSampling must be 1 or more")
        precondition(
            (1...WireProtocol.largestFrameSize).contains(maxReplyFrameSize),
            "maxReplyFrameSize must be between 1 and \(WireProtocol.largestFrameSize)")
        self.unixSocketPath = unixSocketPath
        self.tcpHost = tcpHost
        self.tcpPort = tcpPort
        self.maxFrameSize = maxFrameSize
        self.maxReplyFrameSize = maxReplyFrameSize
        self.maxInFlightPerConnection = maxInFlightPerConnection
        self.maxConnections = maxConnections
        self.prefaceTimeout = prefaceTimeout
        self.frameTimeout = frameTimeout
        self.authToken = authToken
        self.shutdownGraceSeconds = shutdownGraceSeconds
        self.eventLoopThreads = eventLoopThreads
        self.metricsFactory = metricsFactory
        self.callDurationSampling = callDurationSampling
        self.metricsEndpoint = metricsEndpoint
    }
}

/// An HTTP listener answering `GET /metrics` with what `render` returns (and 404 elsewhere).
///
/// The server knows nothing of the metrics backend: whoever bootstrapped it (badged, or a test)
/// hands over the rendering, e.g. a Prometheus registry's text exposition.
public struct MetricsEndpoint: Sendable {
    /// Address to listen on. Metrics tell a lot about the traffic: keep it on loopback unless a
    /// scraper elsewhere needs it and the network is trusted.
    public var host: String
    /// Port; 0 picks a free one (see `BadgeServer.metricsPort`).
    public var port: Int
    /// The `Content-Type` of the answer.
    public var contentType: String
    /// The body of a scrape; runs on an event loop, so it should take well under a millisecond.
    public var render: @Sendable () -> [UInt8]

    /// - Parameters:
    ///   - contentType: defaults to the Prometheus text exposition format.
    public init(
        host: String = "127.0.0.1", port: Int, contentType: String = "text/plain; version=0.0.4; charset=utf-8",
        render: @escaping @Sendable () -> [UInt8]
    ) {
        self.host = host
        self.port = port
        self.contentType = contentType
        self.render = render
    }
}
