import BadgeModel
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The part of Foundation's `Process` the tests use, started with `posix_spawn` instead.
///
/// Swift 6.3.1's `Process.run()` on Linux reads `/proc/self/fd` through a 256-byte copy of each
/// directory entry and crashes now and then when an entry ends a page (swift-corelibs-foundation
/// PR 5472); with the many sockets these tests hold open it took the whole test run down about one
/// run in four. `posix_spawn` with `closefrom` does the same job without reading the folder.
final class SpawnedProcess: @unchecked Sendable {
    enum TerminationReason { case exit, uncaughtSignal }

    var executableURL: URL?
    var arguments: [String] = []
    var currentDirectoryURL: URL?
    /// A `Pipe` or a `FileHandle`, as with `Process`; nil inherits the test's own.
    var standardOutput: Any?
    var standardError: Any?

    private(set) var processIdentifier: pid_t = 0
    private(set) var terminationStatus: Int32 = 0
    private(set) var terminationReason: TerminationReason = .exit
    private var exited = false
    private let lock = NSLock()

    func run() throws {
        guard let path = executableURL?.path else {
            throw BadgeError(.failedPrecondition, "SpawnedProcess: no executable")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        for (target, output) in [(Int32(1), standardOutput), (2, standardError)] {
            if let fd = Self.writeDescriptor(output) { posix_spawn_file_actions_adddup2(&actions, fd, target) }
        }
        // Nothing else of the test's (servers' sockets, other pipes) reaches the child.
        guard Self.addCloseFrom(&actions, 3) == 0 else {
            throw BadgeError(.internal, "posix_spawn_file_actions_addclosefrom_np failed")
        }
        if let directory = currentDirectoryURL?.path, Self.addChdir(&actions, directory) != 0 {
            throw BadgeError(.internal, "posix_spawn_file_actions_addchdir_np failed")
        }

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, nil, argv, environ)
        guard result == 0 else {
            throw BadgeError(.internal, "posix_spawn \(path): \(String(cString: strerror(result)))")
        }
        processIdentifier = pid
        // The child has its copies of the write ends; the test keeps only the read ends.
        for output in [standardOutput, standardError] {
            if let pipe = output as? Pipe { try? pipe.fileHandleForWriting.close() }
        }
    }

    func terminate() {
        kill(processIdentifier, SIGTERM)
    }

    /// Blocks until the child exits; later calls return at once.
    func waitUntilExit() {
        lock.lock()
        defer { lock.unlock() }
        guard !exited, processIdentifier > 0 else { return }
        var status: Int32 = 0
        while waitpid(processIdentifier, &status, 0) < 0 && errno == EINTR {}
        exited = true
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import as macros.
        if status & 0x7F == 0 {
            terminationReason = .exit
            terminationStatus = (status >> 8) & 0xFF
        } else {
            terminationReason = .uncaughtSignal
            terminationStatus = status & 0x7F
        }
    }

    // glibc (2.34 and 2.29 on) has both, but Swift's Glibc module does not import the `_np`
    // declarations: looked up by name instead.
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private typealias AddChdir =
        @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>)
        -> Int32
    private static let addCloseFrom = unsafeBitCast(
        dlsym(nil, "posix_spawn_file_actions_addclosefrom_np")!, to: AddCloseFrom.self)
    private static let addChdir = unsafeBitCast(
        dlsym(nil, "posix_spawn_file_actions_addchdir_np")!, to: AddChdir.self)

    private static func writeDescriptor(_ output: Any?) -> Int32? {
        switch output {
        case let pipe as Pipe: pipe.fileHandleForWriting.fileDescriptor
        case let handle as FileHandle: handle.fileDescriptor
        default: nil
        }
    }
}
