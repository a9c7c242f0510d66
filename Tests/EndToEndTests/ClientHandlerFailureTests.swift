import BadgeCodec
import BadgeModel
import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import BadgeClient

/// A connection that has already failed answers a later callback call exactly once, with
/// UNAVAILABLE, when the call comes from off its event loop. (`sendCall` also guards against the
/// handler failing the call and its write both; that interleaving is not reproduced here.)
@Suite("Client: calls after a connection error")
struct ClientHandlerFailureTests {
    @Test func aCallbackCallIsAnsweredOnce() async throws {
        let channel = NIOAsyncTestingChannel()
        let ready = channel.eventLoop.makePromise(of: Void.self)
        ready.futureResult.whenFailure { _ in }
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(ClientHandler(ready: ready))
        }.get()
        try await channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 1))
        channel.pipeline.fireErrorCaught(ChannelError.connectTimeout(.seconds(1)))
        let client = BadgeClient(channel: channel, ownedGroup: nil, metadata: [:], defaultTimeout: nil)
        #expect(!channel.eventLoop.inEventLoop, "the call must come from off the loop")
        let answers = Mutex<[BadgeError.Code]>([])
        client.sendCall(method: Method.health.rawValue, payload: []) { result in
            answers.withLock { $0.append((try? result.get())?.status ?? .unavailable) }
        }
        // Let everything queued on the loop run.
        try await channel.eventLoop.submit {}.get()
        try await Task.sleep(for: .milliseconds(50))
        #expect(answers.withLock { $0 } == [.unavailable])
    }
}
