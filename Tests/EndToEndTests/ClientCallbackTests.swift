import BadgeClient
import BadgeCodec
import BadgeModel
import NIOCore
import Synchronization
import Testing

/// `BadgeClient.sendCall`, the future-free path the load tool uses: every call gets exactly one
/// answer, from the server or from the connection's end.
@Suite("End to end: callback calls")
struct ClientCallbackTests {
    /// Sends `count` calls from the client's event loop and waits for all their answers.
    func answers(
        _ client: BadgeClient, count: Int, method: Method, payload: [UInt8]
    ) async throws -> [Result<ResponseHeader, BadgeError>] {
        let promise = client.eventLoop.makePromise(of: [Result<ResponseHeader, BadgeError>].self)
        let collected = Mutex<[Result<ResponseHeader, BadgeError>]>([])
        client.eventLoop.execute {
            for _ in 0..<count {
                client.sendCall(method: method.rawValue, payload: payload) { result in
                    let all = collected.withLock {
                        $0.append(result)
                        return $0
                    }
                    if all.count == count { promise.succeed(all) }
                }
            }
        }
        return try await promise.futureResult.get()
    }

    @Test(
        "replies carry the server's status; a closed connection fails the call at once", arguments: Transport.allCases)
    func callbackCalls(transport: Transport) async throws {
        try await TestServer.with { server in
            let client = try await server.client(transport)
            try await Fixtures.define(client)
            let ok = try await answers(
                client, count: 50, method: .list, payload: ListRequest(customerId: "c-1").encoded())
            #expect(ok.count == 50)
            #expect(ok.allSatisfy { (try? $0.get().status) == .ok })
            let missing = try await answers(
                client, count: 3, method: .issue,
                payload: IssueRequest(customerId: "c-1", badgeId: "no-such-badge", requestId: "r-1").encoded())
            #expect(missing.allSatisfy { (try? $0.get().status) == .notFound })

            // The server goes away: calls still get one answer each, UNAVAILABLE (the connection
            // closed, or the server was shutting down when the call arrived).
            await server.stop()
            for _ in 0..<3 {
                let closed = try await answers(client, count: 2, method: .health, payload: HealthRequest().encoded())
                #expect(
                    closed.allSatisfy { if case .failure(let error) = $0 { error.code == .unavailable } else { false } }
                )
            }
            await client.close()
        }
    }
}
