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

    /// A request too large for a frame fails alone, before anything is written, and the connection
    /// goes on. (The limit is lowered here: the real one is what a u32 length can say, 4 GiB.)
    @Test func aRequestTooLargeForAFrameFailsAloneAndWritesNothing() async throws {
        let channel = NIOAsyncTestingChannel()
        let ready = channel.eventLoop.makePromise(of: Void.self)
        ready.futureResult.whenFailure { _ in }
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(ClientHandler(ready: ready, maxRequestFrameSize: 100))
        }.get()
        try await channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 1))
        // The preface the handler writes on becoming active.
        _ = try await channel.readOutbound(as: ByteBuffer.self) as ByteBuffer?
        let client = BadgeClient(channel: channel, ownedGroup: nil, metadata: [:], defaultTimeout: nil)
        let answers = Mutex<[BadgeError]>([])
        client.sendCall(method: Method.health.rawValue, payload: [UInt8](repeating: 1, count: 200)) { result in
            if case .failure(let error) = result { answers.withLock { $0.append(error) } }
        }
        try await channel.eventLoop.submit {}.get()
        try await Task.sleep(for: .milliseconds(50))
        let error = try #require(answers.withLock { $0 }.first)
        #expect(error.code == .resourceExhausted)
        #expect(error.reason == "frame_too_large")
        #expect(error.message.contains("100 bytes"))
        #expect(try await channel.readOutbound(as: ByteBuffer.self) == nil)
        // A call that fits still goes out, as call 1: the refused one used no call id.
        client.sendCall(method: Method.health.rawValue, payload: []) { _ in }
        try await channel.eventLoop.submit {}.get()
        try await Task.sleep(for: .milliseconds(50))
        var frame = try #require(try await channel.readOutbound(as: ByteBuffer.self))
        let length = frame.readInteger(as: UInt32.self)
        #expect(length.map(Int.init) == frame.readableBytes)
        let callId = try frame.readableBytesView.withUnsafeBytes { bytes in
            try Envelope.decodeRequest(bytes) { header, _ in header.callId }
        }
        #expect(callId == 1)
    }
}
