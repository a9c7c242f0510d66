import BadgeWire

/// Where the server listens and the bounds it enforces.
public struct ServerConfiguration: Sendable {
    /// Path of the Unix domain socket to listen on (a stale socket file is replaced); nil for none.
    public var unixSocketPath: String?
    /// TCP host and port (port 0 picks a free one); nil for none.
    public var tcpHost: String?
    public var tcpPort: Int
    /// Largest frame (envelope bytes) accepted; a larger one gets RESOURCE_EXHAUSTED and the connection closes.
    public var maxFrameSize: Int
    /// Calls in flight on one connection; more get RESOURCE_EXHAUSTED.
    public var maxInFlightPerConnection: Int
    /// Open connections; more are answered with RESOURCE_EXHAUSTED and closed.
    public var maxConnections: Int
    /// When set, every call must carry metadata `authorization: Bearer <token>`.
    public var authToken: String?
    /// How long a graceful shutdown waits for calls in flight before closing connections anyway.
    public var shutdownGraceSeconds: Int64
    /// Event loop threads; 0 = one per core.
    public var eventLoopThreads: Int

    public init(
        unixSocketPath: String? = nil, tcpHost: String? = nil, tcpPort: Int = 0,
        maxFrameSize: Int = WireProtocol.defaultMaxFrameSize, maxInFlightPerConnection: Int = 1024,
        maxConnections: Int = 1024, authToken: String? = nil, shutdownGraceSeconds: Int64 = 10,
        eventLoopThreads: Int = 0
    ) {
        self.unixSocketPath = unixSocketPath
        self.tcpHost = tcpHost
        self.tcpPort = tcpPort
        self.maxFrameSize = maxFrameSize
        self.maxInFlightPerConnection = maxInFlightPerConnection
        self.maxConnections = maxConnections
        self.authToken = authToken
        self.shutdownGraceSeconds = shutdownGraceSeconds
        self.eventLoopThreads = eventLoopThreads
    }
}
