import BadgeClient
import BadgeModel
import BadgeServer
import Foundation
import Prometheus
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("End to end: metrics counted by the server and scraped over HTTP")
struct MetricsTests {
    /// A server whose metrics go to a registry of its own (no global bootstrap), served on 127.0.0.1:0.
    static func withMetricsServer(
        _ body: (TestServer, PrometheusCollectorRegistry) async throws -> Void
    )
        async throws
    {
        let registry = PrometheusCollectorRegistry()
        let factory = PrometheusMetricsFactory(registry: registry)
        let server = try await TestServer.start(
            configure: {
                $0.metricsFactory = factory
                $0.callDurationSampling = 1
                $0.metricsEndpoint = MetricsEndpoint(host: "127.0.0.1", port: 0) { registry.emitToBuffer() }
            }, metricsFactory: factory)
        do {
            try await body(server, registry)
            await server.finish()
        } catch {
            await server.finish()
            throw error
        }
    }

    @Test("calls are counted by method and status code, exactly")
    func countsCalls() async throws {
        try await Self.withMetricsServer { server, _ in
            let client = try await server.client(.tcp)
            defer { Task { await client.close() } }
            try await Fixtures.define(client, [Fixtures.newMember, Fixtures.goldElite])
            for index in 0..<3 {
                _ = try await client.issue(
                    IssueRequest(customerId: "c-\(index)", badgeId: "new-member", requestId: "m-\(index)"))
            }
            _ = try await client.list(customerId: "c-0")
            _ = try await client.list(customerId: "c-1")
            let missing = await refusal { () async throws(BadgeError) in try await client.badge(id: "no-such-badge") }
            #expect(missing?.code == .notFound)

            // A method the server does not know is counted under "unknown".
            let raw = try RawConnection(tcpPort: server.server.tcpPort!)
            raw.sendPreface()
            _ = raw.readPreface()
            raw.sendCall(callId: 1, method: "badges.v1.Badges/Nope", payload: [])
            #expect(raw.readFrame()?.0.status == .unimplemented)

            let response = try Self.get("/metrics", port: server.server.metricsPort!)
            #expect(response.status == 200)
            #expect(response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
            let samples = Self.samples(response.body)
            func calls(_ method: String, _ code: String) -> Double? {
                samples["badges_rpc_calls_total{method=\"\(method)\",code=\"\(code)\"}"]
            }
            #expect(calls("PutBadge", "OK") == 2)
            #expect(calls("Issue", "OK") == 3)
            #expect(calls("List", "OK") == 2)
            #expect(calls("GetBadge", "NOT_FOUND") == 1)
            #expect(calls("unknown", "UNIMPLEMENTED") == 1)
            // Every pair exists from the start.
            #expect(calls("GetBadge", "OK") == 0)
            #expect(calls("Evaluate", "INTERNAL") == 0)
            let total = samples.filter { $0.key.hasPrefix("badges_rpc_calls_total{") }.values.reduce(0, +)
            #expect(total == 9)

            // Sampling 1: every call is timed.
            #expect(samples["badges_rpc_call_duration_seconds_count{method=\"List\"}"] == 2)
            #expect(samples["badges_rpc_call_duration_seconds_count{method=\"Issue\"}"] == 3)
            #expect(samples["badges_rpc_calls_in_flight"] == 0)
            #expect((samples["badges_rpc_connections_open"] ?? 0) >= 1)
            // Five writes (two PutBadge, three Issue), awaited one by one: five commits of one write.
            #expect(samples["badges_writer_batch_size_sum"] == 5)
            #expect(samples["badges_writer_commit_duration_seconds_count"] == 5)
            #expect(samples["badges_writer_queue_wait_seconds_count"] == 5)
            #expect((samples["badges_writer_queue_wait_seconds_sum"] ?? -1) >= 0)
            #expect(samples["badges_store_map_size_bytes"] == Double(64 << 20))
        }
    }

    @Test("Evaluate plans made on the connection's thread are counted by what the writer did with them")
    func countsPlans() async throws {
        try await Self.withMetricsServer { server, _ in
            let client = try await server.client(.unix)
            defer { Task { await client.close() } }
            _ = try await client.putBadge(
                BadgeDefinition(
                    id: "regular", name: "Regular",
                    criteria: Criteria(criteria: [Criterion(key: "n", eventType: "purchase", target: 5)])))
            func scrape() throws -> [String: Double] {
                Self.samples(try Self.get("/metrics", port: server.server.metricsPort!).body)
            }
            #expect(try scrape()["badges_evaluate_plans_total{outcome=\"used\"}"] ?? 0 == 0)
            for index in 0..<3 {
                _ = try await client.evaluate(
                    ActivityEvent(
                        eventId: "e\(index)", customerId: "c", type: "purchase", occurredAtMs: 1_700_000_000_000))
            }
            // One at a time, nothing overtakes a plan: the writer stores all three as made.
            let samples = try scrape()
            #expect(samples["badges_evaluate_plans_total{outcome=\"used\"}"] == 3)
            #expect(samples["badges_evaluate_plans_total{outcome=\"redone\"}"] ?? 0 == 0)
        }
    }

    @Test("other paths get 404, other methods 405")
    func otherRequests() async throws {
        try await Self.withMetricsServer { server, _ in
            let port = server.server.metricsPort!
            let notFound = try Self.get("/", port: port)
            #expect(notFound.status == 404)
            #expect(try Self.get("/metricsx", port: port).status == 404)
            #expect(try Self.get("/metrics", method: "POST", port: port).status == 405)
            // A query string does not change the path.
            #expect(try Self.get("/metrics?format=text", port: port).status == 200)
        }
    }

    @Test("at most 16 metrics connections are open at once; a closed one makes room")
    func connectionLimit() async throws {
        try await Self.withMetricsServer { server, _ in
            let port = server.server.metricsPort!
            var held: [RawConnection] = []
            for _ in 0..<16 { held.append(try RawConnection(tcpPort: port)) }
            // Make sure all 16 were admitted before trying the 17th.
            for connection in held {
                connection.send(Array("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
                #expect(connection.read(12).map { String(decoding: $0, as: UTF8.self) } == "HTTP/1.1 200")
            }
            let refused = try RawConnection(tcpPort: port)
            #expect(refused.readsEOF(), "the 17th connection is closed at once")
            held.removeLast()  // closes it
            try await Task.sleep(for: .milliseconds(100))
            #expect(try Self.get("/metrics", port: port).status == 200)
        }
    }

    @Test("the metrics listener closes with the server")
    func closesOnShutdown() async throws {
        let server = try await TestServer.start(configure: {
            $0.metricsEndpoint = MetricsEndpoint(port: 0) { Array("up 1\n".utf8) }
        })
        let port = server.server.metricsPort!
        #expect(try Self.get("/metrics", port: port).body == Array("up 1\n".utf8))
        await server.finish()
        #expect(throws: (any Error).self) { try Self.get("/metrics", port: port) }
    }

    // MARK: - A minimal HTTP/1.1 client over a blocking loopback socket

    struct Response {
        var status: Int
        var headers: [String: String]
        var body: [UInt8]
    }

    /// One request with `Connection: close`, read until the server closes.
    static func get(_ path: String, method: String = "GET", port: Int) throws -> Response {
        let connection = try RawConnection(tcpPort: port)
        connection.send(Array("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8))
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let got = chunk.withUnsafeMutableBytes { recv(connection.fd, $0.baseAddress, $0.count, 0) }
            if got <= 0 { break }
            bytes += chunk[0..<got]
        }
        let separator = Array("\r\n\r\n".utf8)
        guard let split = (0..<max(0, bytes.count - 3)).first(where: { Array(bytes[$0..<$0 + 4]) == separator })
        else { throw POSIXError(.EBADMSG) }
        let lines = String(decoding: bytes[..<split], as: UTF8.self).components(separatedBy: "\r\n")
        let statusLine = lines[0].split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw POSIXError(.EBADMSG) }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        return Response(status: status, headers: headers, body: Array(bytes[(split + 4)...]))
    }

    /// The text exposition's samples by series (`name{labels}`); comments skipped.
    static func samples(_ body: [UInt8]) -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in String(decoding: body, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                continue
            }
            samples[String(line[..<space])] = value
        }
        return samples
    }
}
