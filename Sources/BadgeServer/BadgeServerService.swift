import BadgeService
import Logging
import ServiceLifecycle

/// Runs a `BadgeServer` under swift-service-lifecycle: serves until graceful shutdown (SIGTERM or
/// SIGINT via the ServiceGroup), then stops accepting, lets calls in flight finish, commits what
/// the writer holds and closes the store.
public struct BadgeServerService: Service {
    let service: BadgeService
    let configuration: ServerConfiguration
    let logger: Logger
    let onReady: @Sendable (BadgeServer) -> Void

    public init(
        service: BadgeService, configuration: ServerConfiguration, logger: Logger,
        onReady: @escaping @Sendable (BadgeServer) -> Void = { _ in }
    ) {
        self.service = service
        self.configuration = configuration
        self.logger = logger
        self.onReady = onReady
    }

    public func run() async throws {
        let server: BadgeServer
        do {
            server = try await BadgeServer(service: service, configuration: configuration, logger: logger)
        } catch {
            service.shutdown()
            service.store.close()
            throw error
        }
        onReady(server)
        // Sleeps until the group's graceful shutdown begins (a signal, or another service ending).
        try? await gracefulShutdown()
        logger.info("shutting down: finishing calls in flight")
        await server.shutdown()
        service.shutdown()
        service.store.close()
        logger.info("data committed and closed")
    }
}
