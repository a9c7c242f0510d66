import BadgeModel
import Foundation

/// Runs one of the package's executables (built beside the test bundle) to completion.
enum ToolProcess {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func binary(_ name: String) -> URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name)
    }

    /// Runs the tool on a thread of its own and resumes when it exits. (Waiting for a process
    /// blocks: done on the test's task, it held one of the two threads Swift concurrency has on
    /// this machine for the whole run, and a test that also needed the pool, say to stop the
    /// server the tool was talking to, waited until the tool gave up.)
    static func run(_ name: String, _ arguments: [String]) async throws -> Run {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try runBlocking(name, arguments) }) }.start()
        }
    }

    private static func runBlocking(_ name: String, _ arguments: [String]) throws -> Run {
        let binary = binary(name)
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw BadgeError(.failedPrecondition, "\(binary.path) is missing: build with `swift build --build-tests`")
        }
        let process = SpawnedProcess()
        process.executableURL = binary
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read stderr on the side: a full pipe would block the tool while stdout is drained.
        let stderrData = LockedData()
        let drained = DispatchSemaphore(value: 0)
        Thread {
            stderrData.set(err.fileHandleForReading.readDataToEndOfFile())
            drained.signal()
        }.start()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        drained.wait()
        return Run(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderrData.value, as: UTF8.self))
    }

    private final class LockedData: @unchecked Sendable {
        private let lock = NSLock()
        private var data: Data?
        func set(_ value: Data) { lock.withLock { data = value } }
        var value: Data { lock.withLock { data ?? Data() } }
    }
}
