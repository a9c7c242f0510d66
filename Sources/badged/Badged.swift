import ArgumentParser
import BadgeCatalogue
import BadgeModel
import BadgeServer
import BadgeService
import BadgeStore
import BadgeWire
import Foundation
import LMDB
import Logging
import ServiceLifecycle

/// `badged`: the badge service. Parses flags, opens the store, serves until SIGTERM/SIGINT.
@main
struct Badged: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "badged",
        abstract: "Serve loyalty badges over a Unix socket and/or TCP.",
        discussion: "Every flag also reads an environment variable, shown in its help; flags win.")

    @Option(help: "Data folder for the LMDB store (env BADGED_DATA_DIR).")
    var dataDir: String = env("BADGED_DATA_DIR") ?? "data"

    @Option(help: "Unix socket path (env BADGED_SOCKET).")
    var socket: String = env("BADGED_SOCKET") ?? "badged.sock"

    @Flag(help: "Do not listen on a Unix socket.")
    var noSocket = false

    @Option(help: "TCP address HOST:PORT; keep it on loopback unless you mean it (env BADGED_TCP).")
    var tcp: String = env("BADGED_TCP") ?? "127.0.0.1:7411"

    @Flag(help: "Do not listen on TCP.")
    var noTcp = false

    @Option(
        help: """
            Serve Prometheus metrics at http://HOST:PORT/metrics (env BADGED_METRICS_ADDRESS); off when \
            not given. Keep it on loopback (127.0.0.1) unless the scraper's network is trusted.
            """)
    var metricsAddress: String = env("BADGED_METRICS_ADDRESS") ?? ""

    @Option(
        help: """
            LMDB map size in MiB at start (env BADGED_MAP_SIZE_MB). The map doubles when 80% full, \
            up to --map-size-max-mb and while the disk has room.
            """)
    var mapSizeMb: Int = Int(env("BADGED_MAP_SIZE_MB") ?? "") ?? 1024

    @Option(
        help: """
            The most the LMDB map may grow to, in MiB; 0 (the default): as long as the disk has twice \
            the growth free. Set it to --map-size-mb for a map that never grows (env BADGED_MAP_SIZE_MAX_MB).
            """)
    var mapSizeMaxMb: Int = Int(env("BADGED_MAP_SIZE_MAX_MB") ?? "") ?? 0

    @Option(
        help: """
            Memory in MiB for encoded List replies of customers nothing has changed for since; 0 keeps \
            none. A write drops the replies it changes before it is acknowledged (env BADGED_LIST_CACHE_MB).
            """)
    var listCacheMb: Int = Int(env("BADGED_LIST_CACHE_MB") ?? "") ?? BadgeService.defaultListCacheBytes >> 20

    @Option(
        help: ArgumentHelp(
            "Days evaluated events are kept so a retried event returns its first outcome; 0 keeps them forever.",
            discussion:
                "Older events are deleted once a minute (progress and awards stay); a retry after that counts again."))
    var eventRetentionDays: Int = Int(env("BADGED_EVENT_RETENTION_DAYS") ?? "") ?? 0

    @Flag(
        help: ArgumentHelp(
            "Evaluate events entirely on the writer thread (the same as --evaluate-writer-share 100).",
            discussion: "By default, on more than one core, some or all events are read and evaluated on the "
                + "connection's thread instead, and the writer only checks and stores them (see --evaluate-writer-share)."
        ))
    var evaluateOnWriter = false

    @Option(
        help: ArgumentHelp(
            "Of every 100 Evaluate events, how many the writer reads and evaluates itself (0-100).",
            discussion: """
                The others are planned on the connection's event loop, and the writer only checks and \
                stores them. Default: 100 on one core (planning ahead then runs beside nothing and \
                costs more CPU); 30 with one event loop on more (--event-loop-threads 1), where the \
                loop is the busier thread and the writer has time to spare; 0 with more loops, where \
                the writer is the one step every write waits for.
                """))
    var evaluateWriterShare: Int?

    /// `--evaluate-writer-share` when not given (measured on two cores, BENCHMARKS.md session 18).
    static func defaultWriterShare(_ eventLoopThreads: Int) -> Int {
        // One core: planning ahead runs beside nothing, and a plan made ahead costs more CPU.
        if ServerConfiguration.availableCores == 1 { return 100 }
        // One loop: it is the busier thread, and the writer waits for work much of the time.
        if ServerConfiguration.eventLoops(requested: eventLoopThreads) == 1 { return 30 }
        // Several loops plan in parallel; the writer is the one step every write waits for.
        return 0
    }

    @Option(help: "Largest accepted frame in bytes.")
    var maxFrameBytes: Int = 4 << 20

    @Option(
        help: "Largest reply frame in bytes; a larger reply fails its call with RESOURCE_EXHAUSTED reply_too_large.")
    var maxReplyBytes: Int = 64 << 20

    @Option(help: "Most calls in flight per connection.")
    var maxInFlight: Int = 1024

    @Option(help: "Most open connections.")
    var maxConnections: Int = 1024

    @Option(help: "Seconds a new connection has to send its preface before it is closed (a silent one holds a slot).")
    var prefaceTimeoutSeconds: Int = 10

    @Option(help: "Seconds a frame may take to arrive whole once begun (time between frames is not counted).")
    var frameTimeoutSeconds: Int = 30

    @Option(help: "Event loop threads; 0 = one per core this process may run on (cgroup quota, cpuset or taskset).")
    var eventLoopThreads: Int = 0

    @Option(help: "Require `authorization: Bearer TOKEN` metadata on every call (env BADGED_AUTH_TOKEN).")
    var authToken: String = env("BADGED_AUTH_TOKEN") ?? ""

    @Option(help: "YAML catalogue whose badges are created at start if missing (existing ones are kept).")
    var loadCatalogue: String?

    @Option(
        help: """
            How writes reach the disk before they are acknowledged: journal (append + fdatasync to a \
            write-ahead journal; LMDB rebuilt from a base copy + the journal after a crash), sync (LMDB \
            fsyncs every commit), \
            none (no fsync: a system crash can lose acknowledged awards; benchmarks only).
            """)
    var durability: Environment.Durability = .journal

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (env BADGED_LOG_LEVEL).")
    var logLevel: String = env("BADGED_LOG_LEVEL") ?? "info"

    func validate() throws {
        if noSocket && noTcp { throw ValidationError("--no-socket and --no-tcp together leave nothing to listen on") }
        if !noTcp { _ = try Self.parseAddress(tcp) }
        if !metricsAddress.isEmpty { _ = try Self.parseAddress(metricsAddress, what: "metrics") }
        if mapSizeMb < 1 || mapSizeMb > Int.max >> 20 { throw ValidationError("--map-size-mb must be at least 1") }
        if mapSizeMaxMb < 0 || mapSizeMaxMb > Int.max >> 20 {
            throw ValidationError("--map-size-max-mb must be 0 (no limit) or a size in MiB")
        }
        if mapSizeMaxMb != 0 && mapSizeMaxMb < mapSizeMb {
            throw ValidationError("--map-size-max-mb must be 0 (no limit) or at least --map-size-mb (\(mapSizeMb))")
        }
        for (flag, value) in [("--max-frame-bytes", maxFrameBytes), ("--max-reply-bytes", maxReplyBytes)]
        where !(1...WireProtocol.largestFrameSize).contains(value) {
            throw ValidationError(
                "\(flag) must be between 1 and \(WireProtocol.largestFrameSize) (a frame's u32 length)")
        }
        if listCacheMb < 0 || listCacheMb > 1 << 20 {
            throw ValidationError("--list-cache-mb must be between 0 (keep none) and 1048576")
        }
        if eventRetentionDays < 0 || eventRetentionDays > 36_500 {
            throw ValidationError("--event-retention-days must be between 0 (keep forever) and 36500")
        }
        if eventLoopThreads < 0 { throw ValidationError("--event-loop-threads must be 0 or more") }
        if let evaluateWriterShare {
            if !(0...100).contains(evaluateWriterShare) {
                throw ValidationError("--evaluate-writer-share must be between 0 and 100 (a percentage)")
            }
            if evaluateOnWriter, evaluateWriterShare != 100 {
                throw ValidationError("--evaluate-on-writer means --evaluate-writer-share 100; give one of them")
            }
        }
        if prefaceTimeoutSeconds < 1 || prefaceTimeoutSeconds > 3600 {
            throw ValidationError("--preface-timeout-seconds must be between 1 and 3600")
        }
        if frameTimeoutSeconds < 1 || frameTimeoutSeconds > 3600 {
            throw ValidationError("--frame-timeout-seconds must be between 1 and 3600")
        }
        if Logger.Level(rawValue: logLevel) == nil { throw ValidationError("--log-level \(logLevel) is not a level") }
    }

    func run() async throws {
        let started = ContinuousClock.now
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "badged")
        // Before anything makes a metric: handles made earlier would stay with the no-op backend.
        var metricsEndpoint: MetricsEndpoint?
        if !metricsAddress.isEmpty {
            let (host, port) = try Self.parseAddress(metricsAddress, what: "metrics")
            metricsEndpoint = PrometheusSetup.bootstrap(host: host, port: port)
        }

        let store = try BadgeStore(
            path: dataDir,
            options: Environment.Options(
                mapSize: mapSizeMb << 20, durability: durability,
                maxMapSize: mapSizeMaxMb == 0 ? Int.max : mapSizeMaxMb << 20),
            notice: { logger.notice("\($0)", metadata: ["data": "\(dataDir)"]) })
        let recovered = store.environment.recoveredTransactions
        if recovered > 0 {
            logger.notice(
                "the last run did not stop cleanly: replayed its journal",
                metadata: ["transactions": "\(recovered)", "data": "\(dataDir)"])
        }
        let writerShare = evaluateOnWriter ? 100 : evaluateWriterShare ?? Self.defaultWriterShare(eventLoopThreads)
        let service = BadgeService(
            store: store, listCacheBytes: listCacheMb << 20, eventRetentionMs: Int64(eventRetentionDays) * 86_400_000,
            writerPlanPercent: writerShare, logger: logger)
        if let loadCatalogue {
            try await Self.seed(service: service, path: loadCatalogue, logger: logger)
        }
        Self.warnAboutStoredBadges(service: service, logger: logger)

        var configuration = ServerConfiguration(
            maxFrameSize: maxFrameBytes, maxReplyFrameSize: maxReplyBytes, maxInFlightPerConnection: maxInFlight,
            maxConnections: maxConnections,
            prefaceTimeout: .seconds(prefaceTimeoutSeconds), frameTimeout: .seconds(frameTimeoutSeconds),
            authToken: authToken.isEmpty ? nil : authToken,
            eventLoopThreads: eventLoopThreads,
            metricsEndpoint: metricsEndpoint)
        if !noSocket { configuration.unixSocketPath = socket }
        if !noTcp {
            let (host, port) = try Self.parseAddress(tcp)
            configuration.tcpHost = host
            configuration.tcpPort = port
        }
        let tcpHost = configuration.tcpHost ?? ""
        let metricsHost = configuration.metricsEndpoint?.host ?? ""
        let eventLoops = configuration.resolvedEventLoopThreads
        let serverService = BadgeServerService(service: service, configuration: configuration, logger: logger) {
            server in
            let elapsed = ContinuousClock.now - started
            var metadata: Logger.Metadata = [
                "data": "\(dataDir)", "startup": "\(elapsed)",
                "event_loops": "\(eventLoops)", "evaluate_writer_share": "\(writerShare)%",
            ]
            if let path = server.unixSocketPath { metadata["unix"] = "\(path)" }
            if let port = server.tcpPort { metadata["tcp"] = "\(tcpHost):\(port)" }
            if let port = server.metricsPort { metadata["metrics"] = "http://\(metricsHost):\(port)/metrics" }
            logger.info("badged ready", metadata: metadata)
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [
                    .init(service: serverService),
                    .init(service: CheckpointWatch(environment: store.environment, logger: logger)),
                ], gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }

    /// Logs each stored badge that today's definition rules would refuse (stored before the rule
    /// existed): it is served as stored, but may never award. Start-up goes on either way.
    static func warnAboutStoredBadges(service: BadgeService, logger: Logger) {
        do {
            for (badgeId, problem) in try service.badgesFailingRules() {
                logger.warning(
                    "stored badge breaks a definition rule added since it was stored; replace it (PutBadge with replace)",
                    metadata: ["badge": "\(badgeId)", "problem": "\(problem.message)"])
            }
        } catch {
            logger.warning("could not check the stored badges against the definition rules: \(error)")
        }
    }

    /// Creates the catalogue's badges that do not exist yet.
    static func seed(service: BadgeService, path: String, logger: Logger) async throws {
        let badges = try CatalogueFile.load(path: path)
        var created = 0
        // Startup is single-threaded here, so checking before creating cannot race.
        for badge in badges where try !exists(badge.id, in: service) {
            _ = try await service.putBadge(PutBadgeRequest(badge: badge, replace: false))
            created += 1
        }
        logger.info(
            "catalogue loaded", metadata: ["file": "\(path)", "created": "\(created)", "badges": "\(badges.count)"])
    }

    /// Whether the badge is stored. Only NOT_FOUND means missing: any other failure to read it
    /// stops the start, rather than passing for "missing" and overwriting what is stored.
    static func exists(_ id: String, in service: BadgeService) throws(BadgeError) -> Bool {
        do throws(BadgeError) {
            _ = try service.badge(id: id)
            return true
        } catch {
            if error.code == .notFound { return false }
            throw error
        }
    }

    static func parseAddress(_ text: String, what: String = "TCP") throws -> (String, Int) {
        do {
            let address = try HostPort(parsing: text, allowPortZero: true)
            return (address.host, address.port)
        } catch {
            throw ValidationError("\(what) address \"\(text)\" is not HOST:PORT")
        }
    }
}

func env(_ name: String) -> String? {
    ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
}

extension Environment.Durability: ExpressibleByArgument {}
