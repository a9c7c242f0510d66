import BadgeClient
import BadgeModel
import BadgeServer
import BadgeService
import BadgeStore
import CoreMetrics
import Foundation
import LMDB
import Logging
import Testing

/// Which listener a test talks to; most tests run over both.
enum Transport: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case unix
    case tcp
    var testDescription: String { rawValue }
}

/// A real server on a temporary Unix socket and 127.0.0.1 port 0, over a store in a temporary
/// folder. `stop()` shuts it down the way SIGTERM does; `restart()` reopens the same folder.
final class TestServer: @unchecked Sendable {
    let dataDirectory: String
    let socketPath: String
    let configuration: ServerConfiguration
    private(set) var service: BadgeService
    private(set) var server: BadgeServer
    private let ownsDirectory: Bool
    private let metricsFactory: any MetricsFactory

    /// - Parameter metricsFactory: for the service's metrics; the server's come from `configure`.
    static func start(
        configure: (inout ServerConfiguration) -> Void = { _ in }, dataDirectory: String? = nil,
        mapSize: Int = 64 << 20, metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) async throws -> TestServer {
        let id = UUID().uuidString.prefix(8)
        let directory =
            dataDirectory ?? FileManager.default.temporaryDirectory.appendingPathComponent("badges-e2e-\(id)").path
        // Unix socket paths are limited to ~108 bytes: keep them short.
        var configuration = ServerConfiguration(
            unixSocketPath: "/tmp/bdg-\(id).sock", tcpHost: "127.0.0.1", tcpPort: 0, shutdownGraceSeconds: 5,
            eventLoopThreads: 2)
        configure(&configuration)
        let store = try BadgeStore(path: directory, options: Environment.Options(mapSize: mapSize))
        let service = BadgeService(store: store, metricsFactory: metricsFactory)
        let server = try await BadgeServer(service: service, configuration: configuration, logger: Self.logger)
        return TestServer(
            dataDirectory: directory, configuration: configuration, service: service, server: server,
            ownsDirectory: dataDirectory == nil, metricsFactory: metricsFactory)
    }

    private init(
        dataDirectory: String, configuration: ServerConfiguration, service: BadgeService, server: BadgeServer,
        ownsDirectory: Bool, metricsFactory: any MetricsFactory
    ) {
        self.metricsFactory = metricsFactory
        self.dataDirectory = dataDirectory
        self.socketPath = configuration.unixSocketPath!
        self.configuration = configuration
        self.service = service
        self.server = server
        self.ownsDirectory = ownsDirectory
    }

    static let logger: Logger = {
        var logger = Logger(label: "badges.test")
        logger.logLevel = .critical
        return logger
    }()

    func target(_ transport: Transport) -> BadgeClient.Target {
        switch transport {
        case .unix: .unix(path: socketPath)
        case .tcp: .tcp(host: "127.0.0.1", port: server.tcpPort!)
        }
    }

    func client(
        _ transport: Transport = .unix, metadata: [String: String] = [:]
    ) async throws(BadgeError) -> BadgeClient {
        try await BadgeClient.connect(to: target(transport), metadata: metadata, defaultTimeout: .seconds(30))
    }

    private var running = true

    /// Graceful stop: listeners closed, calls finished, writer drained, store closed. Idempotent.
    func stop() async {
        guard running else { return }
        running = false
        await server.shutdown()
        service.shutdown()
        service.store.close()
    }

    /// Stops and starts again on the same data folder (and a new TCP port).
    func restart() async throws {
        await stop()
        let store = try BadgeStore(path: dataDirectory, options: Environment.Options(mapSize: 64 << 20))
        service = BadgeService(store: store, metricsFactory: metricsFactory)
        server = try await BadgeServer(service: service, configuration: configuration, logger: Self.logger)
        running = true
    }

    /// Stops and removes the data folder.
    func finish() async {
        await stop()
        if ownsDirectory { try? FileManager.default.removeItem(atPath: dataDirectory) }
    }

    /// Runs `body` against a fresh server and always cleans up.
    static func with<T>(
        configure: (inout ServerConfiguration) -> Void = { _ in }, _ body: (TestServer) async throws -> T
    ) async throws -> T {
        let server = try await TestServer.start(configure: configure)
        do {
            let result = try await body(server)
            await server.finish()
            return result
        } catch {
            await server.finish()
            throw error
        }
    }
}

/// A catalogue used across tests.
enum Fixtures {
    static let newMember = BadgeDefinition(id: "new-member", name: "New Member", rank: 10, group: "onboarding")
    static let goldElite = BadgeDefinition(id: "gold-elite", name: "Gold Elite", rank: 30, group: "tiers")
    static let nightOwl = BadgeDefinition(id: "night-owl", name: "Night Owl", rank: 40)
    static let milestone = BadgeDefinition(
        id: "milestone-maker", name: "Milestone Maker", rank: 50, repeatable: true, maxPerCustomer: 2)
    static let limited = BadgeDefinition(id: "founders", name: "Founders", rank: 5, globalCap: 2)

    static func define(
        _ client: BadgeClient, _ badges: [BadgeDefinition] = [newMember, goldElite, nightOwl, milestone, limited]
    )
        async throws
    {
        for badge in badges { _ = try await client.putBadge(badge) }
    }

    /// Stores `count` awards of ~4 KB each (`newMember` to "\(prefix)-0" ...) through a client of
    /// its own: an export of them is more than the socket and the channel buffers hold, for tests
    /// of a client that does not read.
    static func storeLargeAwards(_ server: TestServer, count: Int, prefix: String) async throws {
        let client = try await server.client(.unix)
        try await define(client, [newMember])
        try await issueNewMembers(client, count: count, prefix: prefix, evidence: String(repeating: "e", count: 4_000))
        await client.close()
    }

    /// Issues `newMember` to customers "\(prefix)-0" ... "\(prefix)-\(count - 1)" (request ids the
    /// same), 200 calls in flight at a time, each award carrying `evidence`. Awards get ids 1...count
    /// on a fresh server.
    static func issueNewMembers(
        _ client: BadgeClient, count: Int, prefix: String, evidence: String = ""
    ) async throws {
        for start in stride(from: 0, to: count, by: 200) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in start..<min(start + 200, count) {
                    group.addTask {
                        _ = try await client.issue(
                            IssueRequest(
                                customerId: "\(prefix)-\(index)", badgeId: newMember.id,
                                requestId: "\(prefix)-\(index)",
                                evidence: evidence))
                    }
                }
                try await group.waitForAll()
            }
        }
    }
}

/// Runs `body` and returns the BadgeError it throws; fails the test if it succeeds.
func refusal<T>(_ body: () async throws(BadgeError) -> T) async -> BadgeError? {
    do {
        _ = try await body()
        return nil
    } catch {
        return error
    }
}
