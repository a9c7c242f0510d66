import BadgeModel
import BadgeService
import BadgeWire
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The badge server: listeners on a Unix socket and/or TCP, one `ConnectionHandler` per connection,
/// and optionally an HTTP listener for metrics.
public final class BadgeServer: Sendable {
    /// Reported by Health.
    public static let version = "0.1.0"

    public let configuration: ServerConfiguration
    let service: BadgeService
    let group: MultiThreadedEventLoopGroup
    let registry: ConnectionRegistry
    let logger: Logger
    let listeners: [any Channel]
    let replyHops: ReplyHops
    let shutdownStarted = Mutex(false)

    /// The bound TCP port (useful with port 0), if listening on TCP.
    public let tcpPort: Int?
    /// The bound port of the metrics listener, if there is one.
    public let metricsPort: Int?
    public var unixSocketPath: String? { configuration.unixSocketPath }

    /// Binds the listeners and starts serving. Throws if nothing can be bound.
    public init(
        service: BadgeService, configuration: ServerConfiguration, logger: Logger = Logger(label: "badges.server")
    ) async throws {
        precondition(
            configuration.unixSocketPath != nil || configuration.tcpHost != nil, "configure a Unix socket or a TCP host"
        )
        self.service = service
        self.configuration = configuration
        self.logger = logger
        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.resolvedEventLoopThreads)
        self.group = group
        let registry = ConnectionRegistry(limit: configuration.maxConnections)
        self.registry = registry
        let metrics = ServerMetrics(factory: configuration.metricsFactory)
        let replyHops = ReplyHops(group: group, service: service)
        self.replyHops = replyHops
        let streamTurns = StreamTurns(group: group)

        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    var connectionLogger = logger
                    connectionLogger[metadataKey: "peer"] = "\(channel.remoteAddress?.description ?? "unix")"
                    try channel.pipeline.syncOperations.addHandler(
                        ConnectionHandler(
                            service: service, configuration: configuration, registry: registry,
                            metrics: metrics, replyHops: replyHops, streamTurns: streamTurns,
                            logger: connectionLogger))
                }
            }

        var listeners: [any Channel] = []
        var tcpPort: Int?
        var metricsPort: Int?
        do {
            if let path = configuration.unixSocketPath {
                let channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true)
                    .get()
                listeners.append(channel)
                logger.info("listening", metadata: ["unix": "\(path)"])
            }
            if let host = configuration.tcpHost {
                let channel = try await bootstrap.bind(host: host, port: configuration.tcpPort).get()
                listeners.append(channel)
                tcpPort = channel.localAddress?.port
                logger.info("listening", metadata: ["tcp": "\(host):\(tcpPort ?? 0)"])
            }
            if let endpoint = configuration.metricsEndpoint {
                let channel = try await Self.bindMetrics(endpoint, service: service, group: group)
                listeners.append(channel)
                metricsPort = channel.localAddress?.port
                logger.info("serving metrics", metadata: ["http": "\(endpoint.host):\(metricsPort ?? 0)/metrics"])
            }
        } catch {
            for listener in listeners { try? await listener.close() }
            try? await group.shutdownGracefully()
            replyHops.stop()
            throw error
        }
        self.listeners = listeners
        self.tcpPort = tcpPort
        self.metricsPort = metricsPort
    }

    /// The metrics listener: plain HTTP/1.1 (a scrape is one small request), on the same event loops.
    /// Its connections are not counted against `maxConnections` and are closed with the event loops;
    /// instead at most `MetricsHTTPHandler.connectionLimit` are open at once, and one idle for
    /// `MetricsHTTPHandler.idleTimeout` is closed, so scrapers cannot use up the process's files.
    private static func bindMetrics(
        _ endpoint: MetricsEndpoint, service: BadgeService, group: MultiThreadedEventLoopGroup
    ) async throws -> any Channel {
        let open = MetricsConnectionCount()
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                guard open.admit() else { return channel.close() }
                channel.closeFuture.whenComplete { _ in open.release() }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        IdleStateHandler(allTimeout: MetricsHTTPHandler.idleTimeout))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        MetricsHTTPHandler(endpoint: endpoint, beforeScrape: { service.refreshStoreMetrics() }))
                }
            }
            .bind(host: endpoint.host, port: endpoint.port).get()
    }

    /// Open connections right now.
    public var connectionCount: Int { registry.count }

    /// What each open connection buffers right now, for tests of the per-connection bounds.
    @_spi(Testing)
    public func connectionBuffers() async -> [ConnectionBuffers] {
        var result: [ConnectionBuffers] = []
        for channel in registry.channels {
            let buffers = try? await channel.eventLoop.submit {
                try channel.pipeline.syncOperations.handler(type: ConnectionHandler.self).buffers
            }.get()
            if let buffers { result.append(buffers) }
        }
        return result
    }

    /// Graceful stop (idempotent): close the listeners, let calls in flight finish (up to the grace period), close
    /// connections, then stop the event loops. The service (and its writer) is left to the caller.
    public func shutdown() async {
        guard
            shutdownStarted.withLock({ started in
                defer { started = true }
                return !started
            })
        else { return }
        for listener in listeners { try? await listener.close() }
        if let path = configuration.unixSocketPath { unlink(path) }
        let drained = registry.drainAll(on: group.next())
        let grace = group.next().scheduleTask(in: .seconds(configuration.shutdownGraceSeconds)) { [registry] in
            registry.closeAll()
        }
        try? await drained.get()
        grace.cancel()
        // Writes still queued (from connections closed by the grace timer) complete on these event
        // loops: let them finish before the loops go away.
        await service.flush()
        try? await group.shutdownGracefully()
        replyHops.stop()
        logger.info("server stopped")
    }
}

/// A snapshot of one connection's buffers (see `BadgeServer.connectionBuffers()`).
@_spi(Testing)
public struct ConnectionBuffers: Sendable {
    /// Reply bytes written to the channel but not yet to the socket.
    public var queuedReplyBytes: Int
    /// The most `queuedReplyBytes` has been, as seen whenever replies are handed to a channel
    /// that is over its high watermark (below it, at most the watermark).
    public var peakQueuedReplyBytes: Int
    /// Bytes read from the socket but not yet handled (an unfinished frame, or frames held back).
    public var unreadInputBytes: Int
    /// True while the server is not reading this connection.
    public var readingPaused: Bool
}
