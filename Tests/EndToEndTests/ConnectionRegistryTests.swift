import NIOCore
import NIOEmbedded
import Testing

@testable import BadgeServer

@Suite("Connection registry")
struct ConnectionRegistryTests {
    @Test("once a drain has begun, a connection accepted late is refused rather than left undrained")
    func admitAfterDrainIsRefused() async throws {
        let loop = EmbeddedEventLoop()
        let registry = ConnectionRegistry(limit: 2)
        let early = EmbeddedChannel(loop: loop)
        #expect(registry.admit(early) == .admitted)
        #expect(registry.admit(EmbeddedChannel(loop: loop)) == .admitted)
        #expect(registry.admit(EmbeddedChannel(loop: loop)) == .full)

        let drained = registry.drainAll(on: loop)
        let late = EmbeddedChannel(loop: loop)
        #expect(registry.admit(late) == .shuttingDown)
        #expect(registry.count == 2, "the late channel is not counted, so the drain does not wait for it")
        registry.remove(early)
        registry.remove(registry.channels[0])
        loop.run()
        try await drained.get()
    }
}
