import BadgeClient
import BadgeModel
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the real `badged` binary: flags, catalogue loading, SIGTERM handling, durability across
/// process restarts.
@Suite("badged process")
struct BadgedProcessTests {
    static var binary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("badged")
    }

    static var catalogue: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../tools/demo/catalogue.yaml"
        ).standardizedFileURL.path
    }

    /// Starts badged in `directory` and waits until its socket accepts a client.
    func start(in directory: String, socket: String) async throws -> (Process, BadgeClient) {
        let process = Process()
        process.executableURL = Self.binary
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.arguments = [
            "--socket", socket, "--no-tcp", "--data-dir", "data", "--load-catalogue", Self.catalogue,
            "--map-size-mb", "64", "--log-level", "warning",
        ]
        try process.run()
        for _ in 0..<100 {
            if let client = try? await BadgeClient.connect(to: .unix(path: socket)) { return (process, client) }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        throw BadgeError(.unavailable, "badged did not start serving on \(socket)")
    }

    @Test("SIGTERM stops badged cleanly (exit 0) and a new process finds every award")
    func sigtermAndRestart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "badged-\(UUID().uuidString.prefix(8))"
        ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socket = "/tmp/bdp-\(UUID().uuidString.prefix(8)).sock"

        var (process, client) = try await start(in: directory, socket: socket)
        #expect(try await client.badges().map(\.id).first == "new-member")
        var issued: [Award] = []
        for index in 0..<25 {
            issued.append(
                try await client.issue(
                    IssueRequest(customerId: "p-\(index)", badgeId: "gold-elite", requestId: "p-\(index)")
                )
                .award)
        }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
        #expect(!FileManager.default.fileExists(atPath: socket))
        await client.close()

        (process, client) = try await start(in: directory, socket: socket)
        // The catalogue was not loaded twice, and every award is there.
        #expect(try await client.health().badges == 5)
        for award in issued {
            let trophyCase = try await client.list(customerId: award.customerId)
            #expect(trophyCase.entries.first?.awards == [award])
        }
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        await client.close()
    }

    @Test("bad flags exit 64 with a message")
    func badFlags() throws {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = ["--no-socket", "--no-tcp"]
        let err = Pipe()
        process.standardError = err
        try process.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 64)
        #expect(message.contains("nothing to listen on"))
    }
}
